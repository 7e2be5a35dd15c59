"""Base class for channels on complex baseband symbols."""

from __future__ import annotations

import torch
from torch import nn

from semcom.channels.symbols import complex_uses, to_complex
from semcom.units import check_snr_db, noise_var_from_snr_db


class ComplexChannel(nn.Module):
    """A channel on unit-power complex symbols with SNR given at call time.

    Subclasses implement ``observe(zc, noise_var, generator) -> (z_hat, noise_var_eff)`` on
    [B, n] complex symbols with ``noise_var`` [B, 1]; ``z_hat`` is what the receiver hands to
    detection (after equalisation where the channel does it) and ``noise_var_eff`` ([B, 1] or
    [B, n]) is the noise variance on each of those symbols, as a demapper needs it.
    """

    def forward(self, z: torch.Tensor, snr_db: torch.Tensor | float, generator: torch.Generator | None = None) -> torch.Tensor:
        z_hat, _ = self.transmit(z, snr_db, generator)
        return z_hat

    def transmit(
        self, z: torch.Tensor, snr_db: torch.Tensor | float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Like ``forward`` but also returns the effective noise variance per complex symbol."""
        zc, restore = to_complex(z)
        snr = check_snr_db(snr_db, batch=zc.shape[0]).to(zc.device)
        noise_var = noise_var_from_snr_db(snr).to(zc.device).reshape(-1, 1)
        z_hat, noise_var_eff = self.observe(zc, noise_var, generator)
        return restore(z_hat), noise_var_eff

    def observe(self, zc: torch.Tensor, noise_var: torch.Tensor, generator: torch.Generator | None = None):
        raise NotImplementedError

    @staticmethod
    def uses(z: torch.Tensor) -> int:
        """Complex channel uses per example consumed by transmitting ``z``."""
        return complex_uses(z)
