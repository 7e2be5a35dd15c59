"""Channel capacity in bits, the budget of the error-free "codec at capacity" bound."""

from __future__ import annotations

import math

from semcom.channels.theory import awgn_capacity_bits, rayleigh_ergodic_capacity_bits
from semcom.errors import SemcomError
from semcom.units import check_snr_db

DIGITAL_CHANNELS = ("awgn", "rayleigh")
"""Channels with a digital baseline: AWGN and fast Rayleigh fading with perfect-CSI ZF."""


def check_channel(channel: str) -> str:
    if channel not in DIGITAL_CHANNELS:
        raise SemcomError(f"unknown digital channel {channel!r}; choose one of {', '.join(DIGITAL_CHANNELS)}")
    return channel


def check_scalar_snr_db(snr_db: float) -> float:
    """Validate one SNR in dB (see ``semcom.units.check_snr_db``) and return it as a float."""
    snr = check_snr_db(snr_db)
    if snr.numel() != 1:
        raise SemcomError(f"snr_db must be a single value here, got {snr.numel()} values")
    return float(snr.reshape(()))


def check_channel_uses(channel_uses: int) -> int:
    if isinstance(channel_uses, bool) or not isinstance(channel_uses, int) or channel_uses < 0:
        raise SemcomError(f"channel_uses must be an integer >= 0, got {channel_uses!r}")
    return channel_uses


def capacity_bits_per_use(snr_db: float, channel: str) -> float:
    """Capacity in bits per complex channel use: log2(1 + SNR) for awgn, the ergodic capacity
    E[log2(1 + |h|^2 SNR)] (receiver CSI) for rayleigh."""
    snr = check_scalar_snr_db(snr_db)
    if check_channel(channel) == "awgn":
        return float(awgn_capacity_bits(snr))
    return float(rayleigh_ergodic_capacity_bits(snr))


def capacity_bound_bits(snr_db: float, channel: str, channel_uses: int) -> int:
    """floor(channel_uses * C): the bits an ideal, error-free code could carry in ``channel_uses``."""
    return math.floor(check_channel_uses(channel_uses) * capacity_bits_per_use(snr_db, channel))
