"""A boolean mask as bytes: the raw bitmap or Elias-gamma run lengths, whichever is shorter (e.g. the keep decisions
a transmitter sends as side information)."""

from __future__ import annotations

import math

import numpy as np
import torch

from semcom.errors import SemcomError


def encode_mask(mask: torch.Tensor) -> bytes:
    """One example's mask (bool, any shape; flattened in C order) as bytes.

    Bit 0 is the mode. Mode 0: the raw bitmap follows (one bit per element). Mode 1: run lengths follow,
    alternating runs of False and True starting with False (the first run may be empty), each run
    length r coded as the Elias-gamma code of r + 1. The shorter mode is used; bits are padded with zeros
    to whole bytes. The shape is known to the receiver (it follows from the image size).
    """
    flat = mask.detach().cpu().flatten().numpy().astype(bool)
    raw = "0" + "".join("1" if b else "0" for b in flat)
    rle = "1" + "".join(_elias_gamma(r + 1) for r in _runs(flat))
    bits = min(raw, rle, key=len)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def decode_mask(data: bytes, shape: tuple[int, ...]) -> torch.Tensor:
    """Inverse of ``encode_mask``: bool tensor of ``shape``. SemcomError for a payload that does not fit."""
    n = math.prod(shape)
    bits = "".join(f"{byte:08b}" for byte in data)
    if not bits:
        raise SemcomError("empty mask payload")
    if bits[0] == "0":
        if len(bits) < 1 + n:
            raise SemcomError(f"mask payload has {len(bits) - 1} bitmap bits, need {n}")
        flat = np.array([c == "1" for c in bits[1 : 1 + n]], dtype=bool)
    else:
        values, pos, value, total = [], 1, False, 0
        while total < n:
            zeros = 0
            while pos + zeros < len(bits) and bits[pos + zeros] == "0":
                zeros += 1
            end = pos + 2 * zeros + 1
            if end > len(bits):
                raise SemcomError("mask payload ends inside a run length")
            run = int(bits[pos + zeros : end], 2) - 1
            values.append(np.full(run, value, dtype=bool))
            pos, value, total = end, not value, total + run
        flat = np.concatenate(values) if values else np.zeros(0, dtype=bool)
        if flat.size != n:
            raise SemcomError(f"mask payload decodes to {flat.size} elements, need {n}")
    return torch.from_numpy(flat.reshape(shape))


def _runs(flat: np.ndarray) -> list[int]:
    """Lengths of alternating runs of False and True, starting with False (possibly 0)."""
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    return ([0] + runs) if flat[0] else runs


def _elias_gamma(value: int) -> str:
    """Elias-gamma code of a positive integer: (bit length - 1) zeros, then its binary digits."""
    binary = bin(value)[2:]
    return "0" * (len(binary) - 1) + binary
