"""Scalar quantiser with learned reconstruction levels, trained like 1-D k-means inside the network.

Forward sends the nearest level with a straight-through gradient to the input (identity, so the encoder
always learns). The levels learn from ``fit_loss`` only, the vector-quantisation terms of van den Oord et al.
(NeurIPS 2017) in one dimension: each level moves to the mean of the inputs it quantises (Lloyd-Max for
squared error) and a commitment term keeps the inputs near their levels. Levels are used in sorted order, so
index i is always the i-th smallest level and Gray-coded neighbours are neighbouring values.

What this replaces, measured on the CIFAR-10 split codec (semanticnn-c8b3, 2300 steps): the SemanticNN
seed's levels never moved (their gradient was cut); our first soft-to-hard version (softmax over squared
distances, temperature 4) let them collapse to two clusters (a 1-bit code: index entropy 1.1 bits per 3-bit
symbol); letting the task loss move the levels as well (gradient through the chosen level) also drifted to
two used levels (entropy 1.0 bit). With the levels moved by ``fit_loss`` alone the entropy stays at 2.7 bits
and accuracy rises by 2 points at every SNR.
Indices are what is transmitted: ``bits_per_symbol`` = log2(levels) bits each, packed by ``pack_indices``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from semcom.errors import SemcomError


class LearnedScalarQuantizer(nn.Module):
    """``levels`` = 2**bits learned levels, initialised uniformly on [-init_range, init_range].

    forward(x) -> (x_q, indices): ``x_q`` has x's shape and equals ``sorted_centers()[indices]`` in value; its
    gradient is the identity to ``x`` (none to the levels: they learn from ``fit_loss``); ``indices`` int64.
    """

    def __init__(self, bits: int = 3, init_range: float = 1.5):
        super().__init__()
        if not isinstance(bits, int) or not 1 <= bits <= 8:
            raise SemcomError(f"quantiser bits per symbol must be an integer in 1..8, got {bits!r}")
        self.bits = bits
        self.centers = nn.Parameter(torch.linspace(-init_range, init_range, 2**bits))

    @property
    def levels(self) -> int:
        return 2**self.bits

    def sorted_centers(self) -> torch.Tensor:
        """The levels in increasing order (differentiable): level i is what index i means."""
        return torch.sort(self.centers).values

    def indices(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the nearest level of every element (int64, x's shape)."""
        return (x.detach().unsqueeze(-1) - self.sorted_centers().detach()).abs().argmin(dim=-1)

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:
        if indices.numel() and (indices.min() < 0 or indices.max() >= self.levels):
            raise SemcomError(f"quantiser indices must lie in [0, {self.levels - 1}]")
        return self.sorted_centers()[indices]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not torch.isfinite(x).all():
            raise SemcomError("quantiser input contains NaN or inf")
        idx = self.indices(x)
        return self.sorted_centers().detach()[idx] + (x - x.detach()), idx

    def fit_loss(self, x: torch.Tensor, commitment: float = 0.25) -> torch.Tensor:
        """mean (sg(x) - level)^2 + ``commitment`` * mean (x - sg(level))^2 over the nearest levels of ``x``."""
        level = self.sorted_centers()[self.indices(x)]
        return ((x.detach() - level) ** 2).mean() + commitment * ((x - level.detach()) ** 2).mean()

    def payload_bits(self, num_symbols: int) -> int:
        return num_symbols * self.bits


def to_gray(indices: torch.Tensor) -> torch.Tensor:
    """Binary-reflected Gray code: neighbouring levels differ in one bit, so one bit error moves one level."""
    return indices ^ (indices >> 1)


def from_gray(codes: torch.Tensor) -> torch.Tensor:
    """Inverse of ``to_gray`` (for codes of up to 8 bits)."""
    out = codes.clone()
    for shift in (1, 2, 4):
        out = out ^ (out >> shift)
    return out


def indices_to_bits(indices: torch.Tensor, bits: int) -> torch.Tensor:
    """[B, n] int64 in [0, 2**bits) -> [B, n * bits] uint8, most significant bit first."""
    shifts = torch.arange(bits - 1, -1, -1, device=indices.device)
    return ((indices.unsqueeze(-1) >> shifts) & 1).reshape(indices.shape[0], -1).to(torch.uint8)


def bits_to_indices(bits: torch.Tensor, bits_per_symbol: int) -> torch.Tensor:
    """Inverse of ``indices_to_bits``: [B, n * b] of 0/1 -> [B, n] int64."""
    if bits.shape[-1] % bits_per_symbol:
        raise SemcomError(f"{bits.shape[-1]} bits do not split into whole {bits_per_symbol}-bit symbols")
    weights = 2 ** torch.arange(bits_per_symbol - 1, -1, -1, device=bits.device)
    return (bits.reshape(bits.shape[0], -1, bits_per_symbol).long() * weights).sum(-1)


def pack_indices(indices: torch.Tensor, bits: int) -> bytes:
    """One example's indices -> bytes (bit-packed, zero-padded to a whole byte)."""
    flat = indices_to_bits(indices.reshape(1, -1), bits)[0].cpu().numpy()
    return np.packbits(flat).tobytes()


def unpack_indices(data: bytes, bits: int, count: int) -> torch.Tensor:
    """Inverse of ``pack_indices``; SemcomError when ``data`` is too short for ``count`` symbols."""
    needed = math.ceil(count * bits / 8)
    if len(data) != needed:
        raise SemcomError(f"payload has {len(data)} bytes, expected {needed} for {count} symbols of {bits} bits")
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: count * bits]
    return bits_to_indices(torch.from_numpy(flat.copy()).reshape(1, -1), bits)[0]
