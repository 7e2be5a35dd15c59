"""Tiled JSCC coding for large images: bounded memory, the same channel symbols.

A JSCC's latent has one position per 16x16 pixel block, so an image can be coded tile by tile on that grid: each
tile's encoder input is the tile plus a ``margin`` of surrounding pixels (the context its convolutions see), and only
the tile's own latent positions are kept. The assembled latent has exactly the shape of the untiled one, so it is
power-normalised, sent and counted exactly as before (same channel uses, same noise draws). The receiver decodes the
received latent tile by tile in the same way (a tile plus ``margin``/16 latent positions of context, cropped back).

Inside a tile the result equals the untiled one up to what the margin cuts off of the receptive field, and, for
ADJSCC, the attention-feature gates, which pool over the tile rather than over the whole image (measured in
``benchmarks/large_image.py``: see the README).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

FACTOR = 16
TILE = 1024
"""Pixels per tile side (a multiple of 16): images up to TILE x TILE are coded whole, larger ones tile by tile."""
MARGIN = 64
"""Pixels of context on each side of a tile (a multiple of 16)."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each tile (encoder and decoder tiles count together)."""


def spans(length: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """(start, stop, context start, context stop) of each tile along an axis of ``length`` latent positions; ``tile``
    and ``margin`` in latent positions."""
    out = []
    for start in range(0, length, tile):
        stop = min(start + tile, length)
        out.append((start, stop, max(0, start - margin), min(length, stop + margin)))
    return out


def tile_grid(grid: tuple[int, int], tile: int = TILE, margin: int = MARGIN) -> list[tuple[tuple, tuple]]:
    """The tiles covering a latent grid (h, w): a list of (rows, columns) spans as returned by ``spans``."""
    if tile % FACTOR or margin % FACTOR or tile <= 0 or margin < 0:
        raise ValueError(f"tile ({tile}) and margin ({margin}) must be multiples of {FACTOR}, tile > 0")
    rows = spans(grid[0], tile // FACTOR, margin // FACTOR)
    cols = spans(grid[1], tile // FACTOR, margin // FACTOR)
    return [(r, c) for r in rows for c in cols]


def needs_tiles(size: tuple[int, int], tile: int | None = TILE) -> bool:
    """Whether an image of ``size`` (H, W) is coded in tiles (``tile`` None: never)."""
    return tile is not None and max(size) > tile


def encode_tiled(encode: Callable[[torch.Tensor], torch.Tensor], xp: torch.Tensor, tile: int = TILE,
                 margin: int = MARGIN, progress: Progress | None = None, total: int | None = None) -> torch.Tensor:
    """The latent [B, C, H/16, W/16] of a padded image ``xp`` [B, 3, H, W] (H, W multiples of 16), coded tile by tile:
    ``encode(pixels)`` maps a pixel tile [B, 3, h, w] to its latent [B, C, h/16, w/16]."""
    grid = (xp.shape[-2] // FACTOR, xp.shape[-1] // FACTOR)
    tiles = tile_grid(grid, tile, margin)
    latent = None
    for done, ((r0, r1, cr0, cr1), (c0, c1, cc0, cc1)) in enumerate(tiles, 1):
        part = encode(xp[..., cr0 * FACTOR: cr1 * FACTOR, cc0 * FACTOR: cc1 * FACTOR])
        if latent is None:
            latent = part.new_zeros(*part.shape[:2], *grid)
        latent[..., r0:r1, c0:c1] = part[..., r0 - cr0: r1 - cr0, c0 - cc0: c1 - cc0]
        if progress:
            progress(done, total or len(tiles))
    return latent


def decode_tiled(decode: Callable[[slice, slice], torch.Tensor], grid: tuple[int, int], tile: int = TILE,
                 margin: int = MARGIN, progress: Progress | None = None, offset: int = 0,
                 total: int | None = None) -> torch.Tensor:
    """The image [B, 3, 16 h, 16 w] decoded tile by tile from a received latent grid (h, w): ``decode(rows, cols)``
    decodes the latent positions ``[..., rows, cols]`` (slices) to pixels [B, 3, 16 * rows, 16 * cols]."""
    tiles = tile_grid(grid, tile, margin)
    image = None
    for done, ((r0, r1, cr0, cr1), (c0, c1, cc0, cc1)) in enumerate(tiles, 1):
        part = decode(slice(cr0, cr1), slice(cc0, cc1))
        if image is None:
            image = part.new_zeros(*part.shape[:2], grid[0] * FACTOR, grid[1] * FACTOR)
        image[..., r0 * FACTOR: r1 * FACTOR, c0 * FACTOR: c1 * FACTOR] = \
            part[..., (r0 - cr0) * FACTOR: (r1 - cr0) * FACTOR, (c0 - cc0) * FACTOR: (c1 - cc0) * FACTOR]
        if progress:
            progress(offset + done, total or len(tiles))
    return image
