"""Flat Rayleigh and Rician fading (block or fast) with optional perfect-CSI equalisation."""

from __future__ import annotations

import math

import torch

from semcom.channels.awgn import complex_noise
from semcom.channels.base import ComplexChannel
from semcom.errors import SemcomError

EQUALIZERS = ("zf", "mmse", "none")
COHERENCE = ("fast", "block")


class FadingChannel(ComplexChannel):
    """y = h * z + n with E|h|^2 = 1, so the average received SNR equals the requested ``snr_db``.

    ``k_factor`` = 0 gives Rayleigh, > 0 Rician (line-of-sight power / scattered power, linear).
    ``coherence``: "fast" draws h per symbol; "block" draws one h per block of ``block_len``
    symbols (default: one per example).
    ``equalizer``: "zf" returns y / h (noise variance noise_var / |h|^2); "mmse" returns the unbiased MMSE estimate
    conj(h) y / (|h|^2 + noise_var) / beta, beta = |h|^2 / (|h|^2 + noise_var), and its true error variance (for one
    antenna this equals ZF: the biased LMMSE output shrinks the constellation and its error depends on z, so it is
    not offered); "none" returns y unchanged (receiver without CSI).
    """

    def __init__(self, k_factor: float = 0.0, coherence: str = "fast", equalizer: str = "zf", block_len: int | None = None):
        super().__init__()
        if not math.isfinite(k_factor) or k_factor < 0:
            raise SemcomError(f"Rician K factor must be a finite number >= 0, got {k_factor}")
        if coherence not in COHERENCE:
            raise SemcomError(f"unknown coherence {coherence!r}; choose one of {', '.join(COHERENCE)}")
        if equalizer not in EQUALIZERS:
            raise SemcomError(f"unknown equalizer {equalizer!r}; choose one of {', '.join(EQUALIZERS)}")
        if block_len is not None and block_len < 1:
            raise SemcomError(f"block_len must be >= 1, got {block_len}")
        self.k_factor = float(k_factor)
        self.coherence = coherence
        self.equalizer = equalizer
        self.block_len = block_len

    def extra_repr(self) -> str:
        return f"k_factor={self.k_factor}, coherence={self.coherence!r}, equalizer={self.equalizer!r}, block_len={self.block_len}"

    def draw_gains(self, batch: int, n: int, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Fading coefficients h, [B, n] complex, E|h|^2 = 1."""
        if self.coherence == "fast":
            blocks, size = n, 1
        else:
            size = self.block_len or n
            blocks = -(-n // size)
        scattered = complex_noise((batch, blocks), like, generator)
        los = math.sqrt(self.k_factor / (self.k_factor + 1.0))
        h = los + math.sqrt(1.0 / (self.k_factor + 1.0)) * scattered
        return h.repeat_interleave(size, dim=1)[:, :n]

    def observe(self, zc, noise_var, generator=None):
        batch, n = zc.shape
        h = self.draw_gains(batch, n, zc, generator)
        noise_var = noise_var.to(zc.real.dtype)
        y = h * zc + complex_noise((batch, n), zc, generator) * noise_var.sqrt()
        gain2 = h.abs() ** 2
        if self.equalizer == "zf":
            return y / h, noise_var / gain2
        if self.equalizer == "mmse":
            # The LMMSE estimate conj(h) y / (|h|^2 + nv) is biased: E[. | z] = beta z, beta = |h|^2 / (|h|^2 + nv), and
            # its error is not independent of z, so a demapper (or a decoder) fed it with any noise variance does worse
            # than with ZF. Its unbiased version divides by beta; with one antenna that is exactly y / h, whose error
            # variance nv / |h|^2 is the true post-equalisation SNR (SNR_mmse - 1).
            g = h.conj() / (gain2 + noise_var)
            beta = gain2 / (gain2 + noise_var)
            return g * y / beta, noise_var / gain2
        return y, noise_var.expand(batch, 1)


class Rayleigh(FadingChannel):
    """Rayleigh fading: h ~ CN(0, 1). See FadingChannel for coherence and equalizer."""

    def __init__(self, coherence: str = "fast", equalizer: str = "zf", block_len: int | None = None):
        super().__init__(0.0, coherence, equalizer, block_len)


class Rician(FadingChannel):
    """Rician fading with K factor (linear): h = sqrt(K/(K+1)) + sqrt(1/(K+1)) CN(0, 1)."""

    def __init__(self, k_factor: float, coherence: str = "fast", equalizer: str = "zf", block_len: int | None = None):
        super().__init__(k_factor, coherence, equalizer, block_len)
