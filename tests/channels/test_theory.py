"""Closed-form BER and capacity against independent references (textbook formulas, Monte Carlo)."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from semcom.channels import Rayleigh
from semcom.channels.theory import (
    BITS_PER_SYMBOL,
    awgn_capacity_bits,
    ber,
    ber_awgn,
    ber_rayleigh,
    bits_per_symbol,
    rayleigh_ergodic_capacity_bits,
)
from semcom.errors import SemcomError

SNR_DB_GRID = np.arange(-20.0, 40.5, 0.5)


def lin(snr_db: float) -> float:
    return 10.0 ** (snr_db / 10.0)


def assert_relative(actual, expected, rtol: float) -> None:
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0)


def test_bpsk_awgn_is_half_erfc_sqrt_snr():
    expected = [0.5 * math.erfc(math.sqrt(lin(s))) for s in SNR_DB_GRID]
    assert_relative(ber("bpsk", SNR_DB_GRID), expected, 1e-9)


def test_qpsk_awgn_is_half_erfc_sqrt_half_snr():
    expected = [0.5 * math.erfc(math.sqrt(lin(s) / 2.0)) for s in SNR_DB_GRID]
    assert_relative(ber("qpsk", SNR_DB_GRID), expected, 1e-9)


def test_bpsk_rayleigh_closed_form():
    expected = [0.5 * (1.0 - math.sqrt(lin(s) / (1.0 + lin(s)))) for s in SNR_DB_GRID]
    assert_relative(ber("bpsk", SNR_DB_GRID, "rayleigh"), expected, 1e-9)
    # high-SNR diversity-one behaviour: BER ~ 1 / (4 snr)
    assert_relative(ber("bpsk", 40.0, "rayleigh"), 1.0 / (4.0 * lin(40.0)), 1e-3)


def test_qpsk_rayleigh_is_bpsk_at_half_the_snr():
    expected = [0.5 * (1.0 - math.sqrt((lin(s) / 2) / (1.0 + lin(s) / 2))) for s in SNR_DB_GRID]
    assert_relative(ber("qpsk", SNR_DB_GRID, "rayleigh"), expected, 1e-9)


def qam16_exact(snr: float) -> float:
    """Gray 16-QAM: 3/8 erfc(a) + 1/4 erfc(3a) - 1/8 erfc(5a), a = sqrt(Es / (10 N0))."""
    a = math.sqrt(snr / 10.0)
    return 3 / 8 * math.erfc(a) + 1 / 4 * math.erfc(3 * a) - 1 / 8 * math.erfc(5 * a)


def qam64_exact(snr: float) -> float:
    """Gray 64-QAM: (7 erfc(a) + 6 erfc(3a) - erfc(5a) + erfc(9a) - erfc(13a)) / 24, a = sqrt(Es / (42 N0))."""
    a = math.sqrt(snr / 42.0)
    return (7 * math.erfc(a) + 6 * math.erfc(3 * a) - math.erfc(5 * a) + math.erfc(9 * a) - math.erfc(13 * a)) / 24


def test_16qam_matches_textbook_exact_expression():
    expected = [qam16_exact(lin(s)) for s in SNR_DB_GRID]
    assert_relative(ber("16qam", SNR_DB_GRID), expected, 1e-9)


def test_64qam_matches_textbook_exact_expression():
    expected = [qam64_exact(lin(s)) for s in SNR_DB_GRID]
    assert_relative(ber("64qam", SNR_DB_GRID), expected, 1e-9)


@pytest.mark.parametrize(
    "modulation, nearest_neighbour",
    [
        ("16qam", lambda s: 3 / 8 * math.erfc(math.sqrt(s / 10.0))),  # (3/4) Q(sqrt(snr / 5))
        ("64qam", lambda s: 7 / 24 * math.erfc(math.sqrt(s / 42.0))),
        ("256qam", lambda s: 15 / 64 * math.erfc(math.sqrt(s / 170.0))),
    ],
)
def test_qam_approaches_gray_nearest_neighbour_approximation_at_high_snr(modulation, nearest_neighbour):
    high = [s for s in SNR_DB_GRID if ber(modulation, s) < 1e-3 and ber(modulation, s) > 1e-300]
    assert len(high) > 5
    assert_relative(ber(modulation, high), [nearest_neighbour(lin(s)) for s in high], 0.01)
    # at low SNR the approximation is visibly off, so the comparison above is not vacuous
    assert abs(ber(modulation, 0.0) / nearest_neighbour(1.0) - 1.0) > 0.02


@pytest.mark.parametrize("modulation", list(BITS_PER_SYMBOL))
def test_ber_is_half_at_zero_snr_and_decreasing(modulation):
    assert abs(ber_awgn(modulation, 0.0) - 0.5) < 1e-12
    assert abs(ber_rayleigh(modulation, 0.0) - 0.5) < 1e-12
    for channel in ("awgn", "rayleigh"):
        curve = ber(modulation, SNR_DB_GRID, channel)
        assert np.all(curve >= 0) and np.all(np.diff(curve) <= 0)
        assert np.all(np.diff(curve[curve > 1e-300]) < 0)  # AWGN BER underflows to 0 at high SNR
    assert np.all(ber(modulation, SNR_DB_GRID, "rayleigh") > 0)
    # fading costs: Rayleigh BER is above AWGN BER at every SNR
    assert np.all(ber(modulation, SNR_DB_GRID, "rayleigh") > ber(modulation, SNR_DB_GRID, "awgn"))


@pytest.mark.parametrize("modulation", ["16qam", "64qam"])
def test_rayleigh_qam_is_the_average_of_awgn_ber_over_exponential_snr(modulation):
    # E_g[BER_awgn(g)], g ~ Exp(mean s), by numerical integration of the textbook AWGN expression
    exact = qam16_exact if modulation == "16qam" else qam64_exact
    for snr_db in (0.0, 10.0, 20.0, 30.0):
        s = lin(snr_db)
        averaged, _ = quad(lambda x: exact(s * x) * math.exp(-x), 0.0, math.inf, epsabs=0, epsrel=1e-10, limit=200)
        assert_relative(ber(modulation, snr_db, "rayleigh"), averaged, 1e-6)


def test_awgn_capacity():
    assert_relative(awgn_capacity_bits(0.0), 1.0, 1e-12)
    assert_relative(awgn_capacity_bits(30.0), math.log2(1001.0), 1e-12)


@pytest.mark.parametrize("snr_db", [-10.0, 0.0, 10.0, 30.0])
def test_rayleigh_ergodic_capacity_matches_monte_carlo(snr_db):
    like = torch.zeros(1, dtype=torch.complex128)
    h = Rayleigh().draw_gains(1, 1_000_000, like, torch.Generator().manual_seed(0))
    samples = torch.log2(1.0 + (h.abs() ** 2) * lin(snr_db)).flatten()
    tolerance = 5.0 * samples.std().item() / math.sqrt(samples.numel())
    closed = float(rayleigh_ergodic_capacity_bits(snr_db))
    assert abs(samples.mean().item() - closed) < tolerance
    # Jensen: fading loses capacity against AWGN at the same average SNR
    assert closed < float(awgn_capacity_bits(snr_db))


def test_bits_per_symbol_and_unknown_names():
    assert [bits_per_symbol(m) for m in ("bpsk", "qpsk", "16qam", "64qam", "256qam")] == [1, 2, 4, 6, 8]
    with pytest.raises(SemcomError, match="unknown modulation '32qam'"):
        bits_per_symbol("32qam")
    with pytest.raises(SemcomError, match="unknown modulation"):
        ber("QPSK", 10.0)
    with pytest.raises(SemcomError, match="no closed-form BER for channel 'rician'"):
        ber("qpsk", 10.0, "rician")
