"""Channels as torch modules: SNR is a call-time input, scalar or one per example.

Complex-symbol channels assume unit average power per complex symbol (use ``normalize_power``)
and report ``uses(z)``, the complex channel uses per example.
"""

from semcom.channels.awgn import AWGN
from semcom.channels.base import ComplexChannel
from semcom.channels.discrete import ERASED, BinaryErasureChannel, BinarySymmetricChannel, BitChannel
from semcom.channels.fading import FadingChannel, Rayleigh, Rician
from semcom.channels.symbols import RX_LIMIT, PowerNormalize, complex_uses, limit_received, normalize_power, to_complex
from semcom.errors import SemcomError

CHANNELS = ("awgn", "rayleigh", "rayleigh-block", "rician")


def build_channel(name: str, k_factor: float = 4.0) -> ComplexChannel:
    """Build a complex-symbol channel by its CLI name.

    awgn; rayleigh (fast fading, perfect-CSI ZF equalisation); rayleigh-block (one gain per example,
    ZF); rician (fast, K = ``k_factor``, ZF).
    """
    if name == "awgn":
        return AWGN()
    if name == "rayleigh":
        return Rayleigh(coherence="fast", equalizer="zf")
    if name == "rayleigh-block":
        return Rayleigh(coherence="block", equalizer="zf")
    if name == "rician":
        return Rician(k_factor, coherence="fast", equalizer="zf")
    raise SemcomError(f"unknown channel {name!r}; choose one of {', '.join(CHANNELS)}")


__all__ = [
    "AWGN", "BinaryErasureChannel", "BinarySymmetricChannel", "BitChannel", "CHANNELS", "ComplexChannel",
    "ERASED", "FadingChannel", "PowerNormalize", "RX_LIMIT", "Rayleigh", "Rician", "build_channel", "complex_uses",
    "limit_received", "normalize_power", "to_complex",
]
