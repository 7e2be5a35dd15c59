"""Channels on bits: binary symmetric, binary erasure, and a modulated bit channel driven by SNR."""

from __future__ import annotations

import math

import torch
from torch import nn

from semcom.channels.awgn import AWGN
from semcom.channels.fading import Rayleigh
from semcom.channels.theory import ber, bits_per_symbol
from semcom.errors import SemcomError

ERASED = -1
"""Value written in place of an erased bit by BinaryErasureChannel."""


def check_bits(bits: torch.Tensor) -> None:
    if not isinstance(bits, torch.Tensor):
        raise SemcomError(f"bits must be a torch.Tensor, got {type(bits).__name__}")
    if bits.dim() < 1 or bits.numel() == 0:
        raise SemcomError(f"bits must be a non-empty tensor, got shape {tuple(bits.shape)}")
    if bits.is_complex() or not ((bits == 0) | (bits == 1)).all():
        raise SemcomError("bits must contain only 0 and 1")


def check_probability(p: float, name: str) -> float:
    if not (isinstance(p, (int, float)) and math.isfinite(p) and 0.0 <= p <= 1.0):
        raise SemcomError(f"{name} must be a probability in [0, 1], got {p!r}")
    return float(p)


class BinarySymmetricChannel(nn.Module):
    """Flips each bit independently with probability ``p``. Output has the input's dtype."""

    def __init__(self, p: float):
        super().__init__()
        self.p = check_probability(p, "crossover probability p")

    def forward(self, bits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        check_bits(bits)
        flips = torch.rand(bits.shape, generator=generator, device=bits.device) < self.p
        flipped = ~bits if bits.dtype == torch.bool else 1 - bits
        return torch.where(flips, flipped, bits)

    @staticmethod
    def uses(bits: torch.Tensor) -> int:
        """Binary channel uses per example (one per bit)."""
        return bits[0].numel() if bits.dim() > 1 else bits.numel()


class BinaryErasureChannel(nn.Module):
    """Erases each bit independently with probability ``p``; erased bits read ``ERASED`` (-1)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = check_probability(p, "erasure probability p")

    def forward(self, bits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        check_bits(bits)
        erased = torch.rand(bits.shape, generator=generator, device=bits.device) < self.p
        if not bits.is_floating_point() and bits.dtype in (torch.uint8, torch.bool):
            bits = bits.to(torch.int8)
        return torch.where(erased, torch.full_like(bits, ERASED), bits)

    uses = staticmethod(BinarySymmetricChannel.uses)


class BitChannel(nn.Module):
    """Bits -> Gray-mapped constellation (Sionna) -> AWGN or fast Rayleigh (perfect-CSI ZF) -> hard decisions.

    forward(bits, snr_db, generator=None): ``bits`` [B, n] of 0/1; ``snr_db`` Es/N0 in dB, scalar or
    [B]. Bits are zero-padded to whole symbols; the pad is dropped from the output, which has the
    input's shape and dtype. Its error rate follows ``theoretical_ber`` (closed form).
    """

    def __init__(self, modulation: str = "qpsk", channel: str = "awgn"):
        super().__init__()
        from sionna.phy.mapping import Demapper, Mapper

        self.modulation = modulation
        self.bits_per_symbol = bits_per_symbol(modulation)
        if channel == "awgn":
            self.channel = AWGN()
        elif channel == "rayleigh":
            self.channel = Rayleigh(coherence="fast", equalizer="zf")
        else:
            raise SemcomError(f"unknown bit-channel medium {channel!r}; choose awgn or rayleigh")
        self.channel_name = channel
        kind = "pam" if modulation == "bpsk" else "qam"
        self.mapper = Mapper(kind, self.bits_per_symbol)
        self.demapper = Demapper("maxlog", kind, self.bits_per_symbol, hard_out=True)

    def extra_repr(self) -> str:
        return f"modulation={self.modulation!r}, channel={self.channel_name!r}"

    def forward(self, bits: torch.Tensor, snr_db, generator: torch.Generator | None = None) -> torch.Tensor:
        check_bits(bits)
        if bits.dim() != 2:
            raise SemcomError(f"bits must have shape [B, n], got {tuple(bits.shape)}")
        batch, n = bits.shape
        m = self.bits_per_symbol
        padded = -(-n // m) * m
        work = torch.zeros(batch, padded, dtype=torch.float32, device=bits.device)
        work[:, :n] = bits.float()
        symbols = self.mapper(work).to(torch.complex64)
        z_hat, noise_var = self.channel.transmit(symbols, snr_db, generator)
        noise_var = noise_var.expand(batch, symbols.shape[1]).contiguous()
        hard = self.demapper(z_hat, noise_var)
        return hard[:, :n].to(bits.dtype)

    def uses(self, bits: torch.Tensor) -> int:
        """Complex channel uses per example: ceil(n / bits_per_symbol)."""
        return -(-bits.shape[-1] // self.bits_per_symbol)

    def theoretical_ber(self, snr_db):
        return ber(self.modulation, snr_db, self.channel_name)
