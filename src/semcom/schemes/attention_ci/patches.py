"""The server request: the selected patches of one image, as bytes, and the server's model input from them.

Format (big-endian)::

    header  13 bytes: magic b"ACI1", flags (uint8; bit 0: body is zlib-compressed), rows, cols,
            patch (pixels per side), count (number of patches): 4 x uint16
    body    count x uint16 patch indices (row-major, see ``grid.py``), then count x 3 x patch x patch
            uint8 pixels: patch by patch, each channel by channel, row by row

Only 3-channel 8-bit images are carried. ``decode_request`` checks everything against the grid and
patch size the server's model expects, so a request can never feed the model anything but distinct,
in-range patches. ``server_input`` turns a request into ``(x, keep)`` for ``ViTAdapter.logits_on_patches``:
the received patches at their places in an otherwise black image, and their indices; the adapter never
reads the black pixels.
"""

from __future__ import annotations

import struct
import zlib

import torch

from semcom.errors import SemcomError
from semcom.vit.grid import check_keep, patch_grid, patchify, unpatchify

MAGIC = b"ACI1"
HEADER = struct.Struct(">4sBHHHH")
CHANNELS = 3
FLAG_ZLIB = 1
_UINT16_MAX = 0xFFFF


def request_size(count: int, patch: int) -> int:
    """Bytes of an uncompressed request carrying ``count`` patches of ``patch`` x ``patch`` pixels."""
    return HEADER.size + count * (2 + CHANNELS * patch * patch)


def encode_request(image: torch.Tensor, keep: torch.Tensor, patch: int, compress: bool = False) -> bytes:
    """One image uint8 [3, H, W] and its kept patch indices [k] (distinct, 1 <= k <= N) -> request bytes.

    Patches are sent in ``keep``'s order. ``compress``: zlib (level 9) on the body.
    """
    if not isinstance(image, torch.Tensor) or image.dtype != torch.uint8:
        raise SemcomError(f"the image must be a uint8 tensor [3, H, W], got {getattr(image, 'dtype', type(image))}")
    if image.dim() != 3 or image.shape[0] != CHANNELS:
        raise SemcomError(f"the image must be [3, H, W], got {list(image.shape)}")
    rows, cols = patch_grid(image.shape[1], image.shape[2], patch)
    if max(rows, cols, patch) > _UINT16_MAX or rows * cols > _UINT16_MAX + 1:
        raise SemcomError(f"a {rows}x{cols} grid of {patch}-pixel patches does not fit the request's 16-bit fields")
    if not isinstance(keep, torch.Tensor) or keep.dim() != 1:
        raise SemcomError(f"keep must be a 1-D tensor of patch indices [k], got {getattr(keep, 'shape', keep)}")
    keep = check_keep(keep.reshape(1, -1), 1, rows * cols)[0].cpu()
    pixels = patchify(image.cpu()[None], patch)[0][keep]
    body = keep.numpy().astype(">u2").tobytes() + pixels.contiguous().numpy().tobytes()
    flags = FLAG_ZLIB if compress else 0
    return HEADER.pack(MAGIC, flags, rows, cols, patch, keep.numel()) + (zlib.compress(body, 9) if compress else body)


def decode_request(data: bytes, grid: tuple[int, int], patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Request bytes -> (indices int64 [k], patches uint8 [k, 3, patch, patch]).

    ``grid``/``patch``: what the server's model takes. SemcomError on a short or truncated request, bad magic,
    unknown flags, a grid or patch size other than expected, a count of 0 or more than the grid holds,
    a body longer or shorter than the count says, or duplicate or out-of-range indices.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise SemcomError(f"a request is bytes, got {type(data).__name__}")
    if len(data) < HEADER.size:
        raise SemcomError(f"request truncated: {len(data)} bytes, the header alone takes {HEADER.size}")
    magic, flags, rows, cols, size, count = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SemcomError(f"not an attention-ci request: magic {magic!r}, expected {MAGIC!r}")
    if flags & ~FLAG_ZLIB:
        raise SemcomError(f"request has unknown flags {flags:#04x}")
    if (rows, cols, size) != (*grid, patch):
        raise SemcomError(f"request is for a {rows}x{cols} grid of {size}-pixel patches, "
                          f"the server expects {grid[0]}x{grid[1]} of {patch}")
    if not 1 <= count <= rows * cols:
        raise SemcomError(f"request carries {count} patches, expected 1 to {rows * cols}")
    expected = request_size(count, size) - HEADER.size
    body = bytes(data[HEADER.size:])
    if flags & FLAG_ZLIB:
        body = _inflate(body, expected)
    if len(body) != expected:
        raise SemcomError(f"request body holds {len(body)} bytes but {count} patches of {size}x{size} need {expected}"
                          f" ({'truncated' if len(body) < expected else 'trailing bytes'})")
    indices = torch.frombuffer(bytearray(body[: 2 * count]), dtype=torch.uint8).reshape(count, 2).long()
    indices = indices[:, 0] * 256 + indices[:, 1]
    check_keep(indices.reshape(1, -1), 1, rows * cols)
    patches = torch.frombuffer(bytearray(body[2 * count:]), dtype=torch.uint8).reshape(count, CHANNELS, size, size)
    return indices, patches


def _inflate(body: bytes, expected: int) -> bytes:
    """zlib-decompress at most ``expected`` + 1 bytes (a longer body is reported, never inflated in full)."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(body, expected + 1)
    except zlib.error as exc:
        raise SemcomError(f"request body is not valid zlib data: {exc}") from None
    if len(out) <= expected and not inflater.eof:  # stopped short of max_length: the input ran out
        raise SemcomError("request truncated: the zlib stream ends early")
    if inflater.unused_data:
        raise SemcomError(f"request has {len(inflater.unused_data)} bytes after its zlib stream")
    return out


def assemble(patches: torch.Tensor, indices: torch.Tensor, grid: tuple[int, int], patch: int) -> torch.Tensor:
    """Patches uint8 [k, 3, p, p] placed at ``indices`` [k] of a ``grid``: image uint8 [3, rows * p, cols * p],
    zero where no patch was received."""
    rows, cols = grid
    if not isinstance(patches, torch.Tensor) or patches.dim() != 4 or tuple(patches.shape[1:]) != (CHANNELS, patch, patch):
        raise SemcomError(f"patches must be [k, 3, {patch}, {patch}], got {list(getattr(patches, 'shape', []))}")
    if not isinstance(indices, torch.Tensor) or indices.dim() != 1 or indices.numel() != patches.shape[0]:
        raise SemcomError(f"indices must be [k] with k = {patches.shape[0]} (one per patch)")
    indices = check_keep(indices.reshape(1, -1), 1, rows * cols)[0]
    canvas = torch.zeros(rows * cols, CHANNELS, patch, patch, dtype=patches.dtype, device=patches.device)
    canvas[indices] = patches
    return unpatchify(canvas[None], grid)[0]


def server_input(data: bytes, grid: tuple[int, int], patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Request bytes -> (x float32 [1, 3, H, W] in [0, 1], keep int64 [1, k]) for ``logits_on_patches``."""
    indices, patches = decode_request(data, grid, patch)
    return (assemble(patches, indices, grid, patch).float() / 255)[None], indices[None]
