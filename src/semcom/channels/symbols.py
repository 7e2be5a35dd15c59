"""Pairing real tensors into complex baseband symbols, and the transmitter's power normalisation.

Convention used across semcom: a real tensor ``z`` of shape [B, ...] carries ``z[b].numel() / 2``
complex symbols per example, formed from consecutive pairs (real, imag) of its flattened elements.
Unit average power means E|z_k|^2 = 1 per complex symbol, i.e. mean(z**2) = 1/2 over real elements.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from semcom.errors import SemcomError


def check_symbols(z: torch.Tensor, name: str = "z") -> None:
    """Reject non-tensors, integer dtypes, scalars, empty and non-finite inputs with a clear message."""
    if not isinstance(z, torch.Tensor):
        raise SemcomError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
    if not (z.is_floating_point() or z.is_complex()):
        raise SemcomError(f"{name} must be a floating-point or complex tensor, got {z.dtype}")
    if z.dim() < 2:
        raise SemcomError(f"{name} must have a batch dimension and at least one symbol per example, got shape {tuple(z.shape)}")
    if z.numel() == 0:
        raise SemcomError(f"{name} is empty (shape {tuple(z.shape)})")
    if not torch.isfinite(torch.view_as_real(z) if z.is_complex() else z).all():
        raise SemcomError(f"{name} contains NaN or inf")


def to_complex(z: torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """Flatten ``z`` to [B, n] complex symbols; return them and a function restoring the input layout.

    Real input [B, ...] with an even number of elements per example is paired into complex64
    (or complex128 for float64); complex input is only flattened.
    """
    check_symbols(z)
    shape, dtype = z.shape, z.dtype
    batch = shape[0]
    if z.is_complex():
        return z.reshape(batch, -1), lambda zc: zc.reshape(shape)
    per_example = z[0].numel()
    if per_example % 2:
        raise SemcomError(
            f"a real tensor is paired into complex symbols, so each example needs an even number of "
            f"elements; got {per_example} (shape {tuple(shape)})"
        )
    work = z if dtype in (torch.float32, torch.float64) else z.float()
    zc = torch.view_as_complex(work.reshape(batch, -1, 2).contiguous())

    def restore(zc_out: torch.Tensor) -> torch.Tensor:
        return torch.view_as_real(zc_out).reshape(shape).to(dtype)

    return zc, restore


def complex_uses(z: torch.Tensor) -> int:
    """Complex channel uses per example taken by ``z`` (real pairs or complex elements)."""
    per_example = z[0].numel()
    return per_example if z.is_complex() else per_example // 2


def normalize_power(z: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-12) -> torch.Tensor:
    """Scale each example so its average power per complex symbol is 1.

    ``z``: [B, ...] real (paired) or complex. ``mask`` (optional, broadcastable to ``z``, values 0/1)
    marks the elements that are actually transmitted; power is averaged over those only and
    unmasked elements are zeroed. Differentiable.
    """
    check_symbols(z)
    batch = z.shape[0]
    power_elems = z.abs() ** 2 if z.is_complex() else z**2
    if mask is not None:
        mask = mask.to(power_elems.dtype).expand_as(power_elems)
        z = z * mask
        power_elems = power_elems * mask
        count = mask.reshape(batch, -1).sum(dim=1)
    else:
        count = torch.full((batch,), float(z[0].numel()), device=z.device)
    energy = power_elems.reshape(batch, -1).sum(dim=1)
    symbols = count if z.is_complex() else count / 2.0
    scale = torch.sqrt(symbols.clamp_min(eps) / (energy + eps))  # clamp: finite gradient when nothing is sent
    return z * scale.reshape(batch, *([1] * (z.dim() - 1))).to(z.real.dtype if z.is_complex() else z.dtype)


class PowerNormalize(nn.Module):
    """Transmitter step: unit average power per complex symbol, per example (see ``normalize_power``)."""

    def forward(self, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return normalize_power(z, mask)


RX_LIMIT = 8.0


def limit_received(z: torch.Tensor, bound: float = RX_LIMIT) -> torch.Tensor:
    """Receiver limiter: clip every real component of received symbols to +-``bound``.

    Transmit power is 1 per complex symbol, so on AWGN this almost never acts (a real component
    beyond 8 needs noise of about 8 standard deviations even at -2 dB SNR), but a zero-forced deep
    fade returns symbols of amplitude 1e3 and more, which a learned decoder (inverse GDN is cubic in
    its input) turns into inf/NaN. Learned decoders call this on their input.
    """
    if z.is_complex():
        return torch.view_as_complex(torch.view_as_real(z).clamp(-bound, bound))
    return z.clamp(-bound, bound)
