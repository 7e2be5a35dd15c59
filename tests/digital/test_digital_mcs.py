from fractions import Fraction

import pytest

from semcom.digital.capacity import DIGITAL_CHANNELS
from semcom.digital.link import CODEWORD_BITS
from semcom.digital.mcs import (
    CRC_BITS, MCS, MCS_TABLE, BlerCurve, BlerTable, capacity_bits, codewords_needed, get_mcs, load_bler_table,
    select_mcs,
)
from semcom.errors import SemcomError


def test_ladder_is_sorted_and_named():
    efficiencies = [m.spectral_efficiency for m in MCS_TABLE]
    assert efficiencies == sorted(set(efficiencies))
    assert efficiencies[0] == 0.5 and efficiencies[-1] == pytest.approx(20 / 3)
    assert get_mcs("16qam-3/4") == MCS("16qam", Fraction(3, 4))
    assert get_mcs("16qam-3/4").spectral_efficiency == 3.0
    with pytest.raises(SemcomError, match="choose one of qpsk-1/4"):
        get_mcs("16qam-7/8")


def test_capacity_bits_counts_whole_codewords_minus_crc():
    mcs = get_mcs("16qam-1/2")  # 480 symbols, 960 information bits per codeword
    assert capacity_bits(mcs, 479) == 0
    assert capacity_bits(mcs, 480) == 960 - CRC_BITS
    assert capacity_bits(mcs, 10 * 480 + 479) == 10 * 960 - CRC_BITS
    assert codewords_needed(mcs, 960 - CRC_BITS) == 1
    assert codewords_needed(mcs, 960 - CRC_BITS + 1) == 2
    with pytest.raises(SemcomError, match="channel_uses"):
        capacity_bits(mcs, -1)


def test_curve_lookup_is_conservative():
    curve = BlerCurve(snr_db=(0.0, 0.5, 1.0, 1.5, 2.0, 2.5), codewords=(25, 100, 100, 100, 100, 100),
                      failed=(25, 50, 0, 10, 0, 0))
    assert curve.envelope() == [1.0, 0.5, 0.1, 0.1, 0.0, 0.0]
    assert curve.bler(-3.0) == 1.0
    assert curve.bler(0.49) == 1.0
    assert curve.bler(0.5) == 0.5
    assert curve.bler(1.2) == 0.1
    assert 0 < curve.bler(30.0) < 1e-12
    # a measured 0 is not read as BLER 0: the fitted waterfall prices the distance from the cliff
    assert 0 < curve.bler(2.5) < curve.bler(2.0) < 0.1
    assert curve.min_snr_db(0.1) == 2.0
    assert curve.min_snr_db(0.2) == 1.0


def test_waterfall_fit_recovers_a_known_logistic_curve():
    import numpy as np

    mu, width = 3.2, 0.25
    snrs = tuple(np.arange(2.0, 4.51, 0.25).round(2).tolist())
    n = 100_000
    rates = [1 / (1 + np.exp((s - mu) / width)) for s in snrs]
    curve = BlerCurve(snrs, tuple([n] * len(snrs)), tuple(int(round(r * n)) for r in rates))
    got_mu, got_width = curve.waterfall()
    assert got_mu == pytest.approx(mu, abs=0.01) and got_width == pytest.approx(width, rel=0.03)
    assert curve.bler(5.0) >= curve.failed[-1] / n  # never below what was measured at the grid point under it


def test_shipped_table_covers_every_mcs_from_bler_one_to_zero():
    table = load_bler_table()
    assert table.config["n"] == CODEWORD_BITS and "sionna_version" in table.config
    for channel in DIGITAL_CHANNELS:
        for mcs in MCS_TABLE:
            curve = table.curve(channel, mcs)
            assert curve.failed[0] == curve.codewords[0]
            assert curve.failed[-2:] == (0, 0)
            assert all(b - a == pytest.approx(0.5) for a, b in zip(curve.snr_db, curve.snr_db[1:]))


def test_thresholds_rise_with_code_rate_and_with_fading():
    table = load_bler_table()
    for modulation in ("qpsk", "16qam", "64qam", "256qam"):
        ladder = [m for m in MCS_TABLE if m.modulation == modulation]
        for channel in DIGITAL_CHANNELS:
            thresholds = [table.curve(channel, m).min_snr_db(0.1) for m in ladder]
            assert thresholds == sorted(thresholds), (modulation, channel, thresholds)
    for mcs in MCS_TABLE:
        assert table.curve("rayleigh", mcs).min_snr_db(0.1) > table.curve("awgn", mcs).min_snr_db(0.1)


def test_select_mcs_climbs_the_ladder_with_snr():
    efficiencies = [select_mcs(snr, "awgn", 20_000).spectral_efficiency for snr in (0.0, 5.0, 10.0, 15.0, 25.0)]
    assert efficiencies == sorted(efficiencies) and efficiencies[0] < 1.0 and efficiencies[-1] > 6.0
    fading, awgn = (select_mcs(10.0, channel, 20_000) for channel in ("rayleigh", "awgn"))
    assert fading.spectral_efficiency < awgn.spectral_efficiency


def test_select_mcs_returns_none_when_nothing_fits():
    assert select_mcs(-10.0, "awgn", 20_000) is None
    assert select_mcs(30.0, "awgn", 200) is None  # less than the shortest codeword (240 symbols)


def test_select_mcs_requires_every_codeword_to_decode():
    """(1 - BLER) ** codewords >= target decides; a flat-BLER table makes the rule visible."""
    curve = BlerCurve(snr_db=(0.0,), codewords=(100,), failed=(1,))  # BLER 0.01 everywhere above 0 dB
    table = BlerTable({"n": CODEWORD_BITS}, {"awgn": {m.name: curve for m in MCS_TABLE}})
    mcs = MCS_TABLE[0]
    five, twenty = 5 * mcs.symbols_per_codeword, 20 * mcs.symbols_per_codeword
    assert 0.99**5 >= 0.9 > 0.99**20
    # in `five` uses QPSK fits 5 codewords (0.95), 16-QAM 10 (0.904), 64-QAM 15 (0.86): 16qam-5/6 wins
    assert select_mcs(10.0, "awgn", five, 0.9, table) == get_mcs("16qam-5/6")
    assert select_mcs(10.0, "awgn", twenty * 4, 0.9, table) is None  # every MCS needs >= 20 codewords
    assert select_mcs(10.0, "awgn", twenty * 4, 0.1, table) is not None


def test_select_mcs_bad_inputs():
    with pytest.raises(SemcomError, match="choose one of awgn, rayleigh"):
        select_mcs(10.0, "rician", 1000)
    with pytest.raises(SemcomError, match="channel_uses"):
        select_mcs(10.0, "awgn", -5)
    with pytest.raises(SemcomError, match="target_success"):
        select_mcs(10.0, "awgn", 1000, target_success=1.5)
    with pytest.raises(SemcomError, match="snr_db"):
        select_mcs(99.0, "awgn", 1000)
