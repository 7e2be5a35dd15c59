"""All unit conversions and range checks for SNR live here (dB <-> linear, noise variance)."""

from __future__ import annotations

import math

import torch

from semcom.errors import SemcomError

SNR_DB_MIN = -20.0
SNR_DB_MAX = 40.0


def db_to_linear(value_db: torch.Tensor | float) -> torch.Tensor | float:
    """10 ** (value_db / 10)."""
    if isinstance(value_db, torch.Tensor):
        return torch.pow(10.0, value_db / 10.0)
    return 10.0 ** (value_db / 10.0)


def linear_to_db(value: torch.Tensor | float) -> torch.Tensor | float:
    """10 * log10(value)."""
    if isinstance(value, torch.Tensor):
        return 10.0 * torch.log10(value)
    return 10.0 * math.log10(value)


def check_snr_db(snr_db: torch.Tensor | float, batch: int | None = None) -> torch.Tensor:
    """Validate an SNR in dB (scalar or one per example) and return it as a float tensor.

    Raises SemcomError for NaN/inf, values outside [SNR_DB_MIN, SNR_DB_MAX], or a per-example
    tensor whose length does not match ``batch``.
    """
    t = torch.as_tensor(snr_db, dtype=torch.float32)
    if t.dim() > 1:
        raise SemcomError(f"snr_db must be a scalar or a 1-D tensor (one per example), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise SemcomError("snr_db contains NaN or inf")
    if (t < SNR_DB_MIN).any() or (t > SNR_DB_MAX).any():
        raise SemcomError(
            f"snr_db must lie in [{SNR_DB_MIN:g}, {SNR_DB_MAX:g}] dB, got {t.min().item():g}..{t.max().item():g}"
        )
    if t.dim() == 1 and batch is not None and t.numel() not in (1, batch):
        raise SemcomError(f"snr_db has {t.numel()} values but the batch has {batch} examples")
    return t


def noise_var_from_snr_db(snr_db: torch.Tensor | float) -> torch.Tensor:
    """Noise variance per complex symbol for unit average signal power: 10 ** (-snr_db / 10)."""
    return torch.pow(10.0, -torch.as_tensor(snr_db, dtype=torch.float32) / 10.0)


def ebno_db_to_snr_db(ebno_db: float, bits_per_symbol: int, code_rate: float = 1.0) -> float:
    """Es/N0 in dB from Eb/N0 in dB: Es/N0 = Eb/N0 * bits_per_symbol * code_rate."""
    return ebno_db + 10.0 * math.log10(bits_per_symbol * code_rate)


def cbr_text(cbr: float) -> str:
    """A CBR for people: '1/32' when it is the inverse of an integer, else 4 significant digits ('0.1875')."""
    inverse = 1 / cbr if cbr > 0 else 0.0
    return f"1/{round(inverse)}" if inverse >= 1 and abs(inverse - round(inverse)) < 1e-9 else f"{cbr:.4g}"
