"""Closed-form bit error rates of Gray-coded modulations with coherent detection.

Square M-QAM uses the exact expression of Cho & Yoon, "On the general BER expression of one- and
two-dimensional amplitude modulations", IEEE Trans. Commun. 50(7), 2002: the BER is a weighted sum
of terms erfc(c_i * sqrt(snr)), so its Rayleigh average follows term by term from
E[erfc(c sqrt(g))] = 1 - sqrt(c^2 s / (1 + c^2 s)) for g exponential with mean s.
``snr`` is Es/N0 (linear) per complex symbol throughout.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import erfc

from semcom.errors import SemcomError

BITS_PER_SYMBOL = {"bpsk": 1, "qpsk": 2, "16qam": 4, "64qam": 6, "256qam": 8}


def bits_per_symbol(modulation: str) -> int:
    try:
        return BITS_PER_SYMBOL[modulation]
    except KeyError:
        raise SemcomError(f"unknown modulation {modulation!r}; choose one of {', '.join(BITS_PER_SYMBOL)}") from None


@lru_cache(maxsize=None)
def erfc_terms(modulation: str) -> tuple[tuple[float, float], ...]:
    """(weight, c) pairs with BER(snr) = sum weight * erfc(c * sqrt(snr))."""
    m_bits = bits_per_symbol(modulation)
    if modulation == "bpsk":
        return ((0.5, 1.0),)
    m = 2**m_bits
    root = int(round(math.sqrt(m)))
    levels = int(round(math.log2(root)))
    scale = math.sqrt(3.0 / (2.0 * (m - 1)))
    terms: dict[float, float] = {}
    for k in range(1, levels + 1):
        for i in range(int((1 - 2.0**-k) * root)):
            sign = (-1) ** math.floor(i * 2 ** (k - 1) / root)
            weight = 2 ** (k - 1) - math.floor(i * 2 ** (k - 1) / root + 0.5)
            c = (2 * i + 1) * scale
            terms[c] = terms.get(c, 0.0) + sign * weight / root / levels
    return tuple((w, c) for c, w in terms.items() if w != 0.0)


def ber_awgn(modulation: str, snr) -> np.ndarray:
    """Exact BER over AWGN at Es/N0 = ``snr`` (linear, array-like)."""
    snr = np.asarray(snr, dtype=np.float64)
    return sum(w * erfc(c * np.sqrt(snr)) for w, c in erfc_terms(modulation))


def ber_rayleigh(modulation: str, snr) -> np.ndarray:
    """Exact BER over flat Rayleigh fading with perfect CSI, at average Es/N0 = ``snr`` (linear)."""
    snr = np.asarray(snr, dtype=np.float64)
    return sum(w * (1.0 - np.sqrt(c * c * snr / (1.0 + c * c * snr))) for w, c in erfc_terms(modulation))


def ber(modulation: str, snr_db, channel: str = "awgn") -> np.ndarray:
    """Closed-form BER for ``channel`` in {"awgn", "rayleigh"} at ``snr_db`` (Es/N0 in dB)."""
    snr = 10.0 ** (np.asarray(snr_db, dtype=np.float64) / 10.0)
    if channel == "awgn":
        return ber_awgn(modulation, snr)
    if channel == "rayleigh":
        return ber_rayleigh(modulation, snr)
    raise SemcomError(f"no closed-form BER for channel {channel!r}; choose awgn or rayleigh")


def awgn_capacity_bits(snr_db) -> np.ndarray:
    """Shannon capacity of the complex AWGN channel in bits per channel use: log2(1 + SNR)."""
    return np.log2(1.0 + 10.0 ** (np.asarray(snr_db, dtype=np.float64) / 10.0))


def rayleigh_ergodic_capacity_bits(snr_db) -> np.ndarray:
    """Ergodic capacity of fast Rayleigh fading with receiver CSI: E[log2(1 + |h|^2 SNR)].

    Closed form: e^(1/s) E1(1/s) / ln 2 with s the average SNR (linear).
    """
    from scipy.special import exp1

    s = 10.0 ** (np.asarray(snr_db, dtype=np.float64) / 10.0)
    return np.exp(1.0 / s) * exp1(1.0 / s) / math.log(2.0)
