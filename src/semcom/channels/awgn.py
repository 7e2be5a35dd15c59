"""Additive white Gaussian noise on complex baseband symbols."""

from __future__ import annotations

import torch

from semcom.channels.base import ComplexChannel


def complex_noise(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Circularly-symmetric CN(0, 1) samples of ``shape`` on ``like``'s device, complex dtype of ``like``."""
    real_dtype = like.real.dtype
    parts = torch.randn((*shape, 2), generator=generator, device=like.device, dtype=real_dtype)
    return torch.view_as_complex(parts) * (0.5**0.5)


class AWGN(ComplexChannel):
    """y = z + n, n ~ CN(0, noise_var), noise_var = 10^(-snr_db/10) for unit-power ``z``.

    forward(z, snr_db, generator=None): ``z`` [B, ...] real (paired into complex) or complex, unit
    average power per complex symbol (apply ``normalize_power`` first); ``snr_db`` scalar or [B].
    Returns a tensor of the same shape and dtype. Differentiable with respect to ``z``.
    """

    def observe(self, zc, noise_var, generator=None):
        y = zc + complex_noise(tuple(zc.shape), zc, generator) * noise_var.sqrt().to(zc.real.dtype)
        return y, noise_var.to(zc.real.dtype).expand(zc.shape[0], 1)
