"""Patch-grid geometry shared by the ViTs, the adapters and the server request.

An image of H x W pixels cut into p x p patches has a grid of rows = H / p by cols = W / p patches,
numbered row-major: patch ``i`` covers rows ``(i // cols) * p ...`` and columns ``(i % cols) * p ...``.
This is the order of a stride-p convolution's output flattened over (rows, cols), i.e. the token order
of every ViT here and in ``transformers``.
"""

from __future__ import annotations

import torch

from semcom.errors import SemcomError


def patch_grid(height: int, width: int, patch: int) -> tuple[int, int]:
    """(rows, cols) of ``patch`` x ``patch`` patches in an image of ``height`` x ``width`` pixels.

    SemcomError when a size is not a positive integer or the image is not a whole number of patches.
    """
    for name, value in (("height", height), ("width", width), ("patch size", patch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SemcomError(f"{name} must be a positive integer, got {value!r}")
    if height % patch or width % patch:
        raise SemcomError(f"an image of {height}x{width} pixels is not a whole number of {patch}x{patch} patches")
    return height // patch, width // patch


def check_images(x: torch.Tensor, channels: int, height: int, width: int) -> None:
    """SemcomError unless ``x`` is a floating [B, channels, height, width] tensor (pixels in [0, 1])."""
    if not isinstance(x, torch.Tensor):
        raise SemcomError(f"images must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise SemcomError(f"images must be floating point in [0, 1], got dtype {x.dtype} (divide uint8 by 255)")
    if x.dim() != 4 or tuple(x.shape[1:]) != (channels, height, width):
        raise SemcomError(f"images must be [B, {channels}, {height}, {width}], got {list(x.shape)}")


def check_keep(keep: torch.Tensor, batch: int, num_patches: int) -> torch.Tensor:
    """Validate kept patch indices [batch, k] (1 <= k <= num_patches, each row distinct, in range); returns int64.

    SemcomError for a non-tensor, a non-integer dtype, a wrong shape, an index outside [0, num_patches)
    or an index repeated within a row.
    """
    if not isinstance(keep, torch.Tensor):
        raise SemcomError(f"keep must be a LongTensor [B, k] of patch indices, got {type(keep).__name__}")
    if keep.dtype == torch.bool or keep.is_floating_point() or keep.is_complex():
        raise SemcomError(f"keep must hold integer patch indices, got dtype {keep.dtype}")
    if keep.dim() != 2 or keep.shape[0] != batch or not 1 <= keep.shape[1] <= num_patches:
        raise SemcomError(f"keep must be [{batch}, k] with 1 <= k <= {num_patches}, got {list(keep.shape)}")
    keep = keep.long()
    if (keep < 0).any() or (keep >= num_patches).any():
        bad = keep[(keep < 0) | (keep >= num_patches)][0].item()
        raise SemcomError(f"patch index {bad} is out of range [0, {num_patches})")
    ordered = keep.sort(dim=1).values
    if (ordered[:, 1:] == ordered[:, :-1]).any():
        raise SemcomError("keep repeats a patch index within an image")
    return keep


def gather_tokens(tokens: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The kept rows of each example: tokens [B, N, D], keep [B, k] int64 -> [B, k, D] (in keep's order)."""
    return torch.gather(tokens, 1, keep.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, rows * cols, C, patch, patch], patches in row-major order (any dtype)."""
    b, c, h, w = images.shape
    rows, cols = patch_grid(h, w, patch)
    return (images.reshape(b, c, rows, patch, cols, patch)
            .permute(0, 2, 4, 1, 3, 5).reshape(b, rows * cols, c, patch, patch))


def unpatchify(patches: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Inverse of ``patchify``: [B, rows * cols, C, p, p] -> [B, C, rows * p, cols * p]."""
    b, n, c, p, _ = patches.shape
    rows, cols = grid
    if n != rows * cols:
        raise SemcomError(f"{n} patches do not fill a {rows}x{cols} grid")
    return (patches.reshape(b, rows, cols, c, p, p)
            .permute(0, 3, 1, 4, 2, 5).reshape(b, c, rows * p, cols * p))
