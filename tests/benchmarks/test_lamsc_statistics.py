"""The LAM-SC benchmark's comparison statistics (benchmarks/kodak_lamsc.py): interpolation, wins, bootstrap, bounds."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from kodak_lamsc import (JSCC_MAPS, SNRS, image_statistics, needed_uses, psnr_at_uses, savings_against,  # noqa: E402
                         savings_row)


def rows_for(offsets: list[float], uses: float = 20000.0) -> list[dict]:
    """A whole-image curve of 10 dB per decade of uses on every image, and LAM-SC at ``uses`` with region PSNR = the
    curve's there + the image's offset."""
    rows = []
    for i, off in enumerate(offsets):
        image = f"im{i:02d}"
        for m in JSCC_MAPS:
            u = m * 768.0
            rows.append({"scheme": f"jscc-c{m}", "region_of": "lamsc", "image": image, "snr_db": 7.0,
                         "channel_uses": u, "region_psnr_db": 10 * math.log10(u)})
        rows.append({"scheme": "lamsc", "region_of": "lamsc", "image": image, "snr_db": 7.0, "channel_uses": uses,
                     "region_psnr_db": 10 * math.log10(uses) + off})
    return rows


def test_interpolation_is_log_linear_and_bounds_are_marked():
    curve = [(1000.0, 20.0), (10000.0, 30.0)]
    assert psnr_at_uses(curve, 10 ** 3.5) == pytest.approx(25.0)
    assert psnr_at_uses(curve, 20000.0) is None
    assert needed_uses(curve, 25.0) == (pytest.approx(10 ** 3.5), "=")
    assert needed_uses(curve, 31.0) == (10000.0, ">")
    assert needed_uses(curve, 19.0) == (1000.0, "<=")


def test_wins_and_interval_follow_the_per_image_gains():
    stats = image_statistics(rows_for([1.0] * 12 + [-0.5] * 12), "lamsc", 7.0, resamples=400)
    assert stats["wins_equal_uses"] == 12 and stats["images_on_curve"] == 24
    lo, hi = stats["gain_db_ci95"]
    assert lo < 0.25 < hi and hi - lo < 1.0  # mean gain 0.25 dB inside its interval
    clear = image_statistics(rows_for([2.0] * 24), "lamsc", 7.0, resamples=200)
    assert clear["gain_db_ci95"] == [pytest.approx(2.0), pytest.approx(2.0)]  # no spread between images: no width
    assert clear["fewer_uses_ci95"][0] == pytest.approx(1 - 1 / 10 ** 0.2, abs=1e-6)  # 2 dB = 10^0.2 x the uses


def test_a_variant_above_the_whole_curve_is_printed_as_a_lower_bound():
    top = JSCC_MAPS[-1] * 768.0
    rows = rows_for([30.0] * 24)  # far above the largest JSCC rate
    stats = image_statistics(rows, "lamsc", 7.0, resamples=100)
    assert stats["fewer_uses_lower_bound_share"] == 1.0
    s = {"scheme": "lamsc", "snr_db": 7.0, "channel_uses": 20000.0, "region_psnr_db": 73.0,
         "jscc_region_psnr_at_equal_uses": 43.0, "region_psnr_gain_db": 30.0, "relation": ">",
         "jscc_uses_for_equal_region_psnr": top, "fewer_uses_than_jscc": 1 - 20000 / top, **stats}
    line = " ".join(savings_row(s))
    assert f"> {top:.0f}" in line and "≥ 86.4 %" in line and line.count("≥") == 2


def mean_cells(rows: list[dict], images: int = 24) -> dict:
    """The summary ``get`` of ``report``: mean channel uses and region PSNR per (scheme, region_of, SNR)."""
    get = {}
    for r in rows:
        s = get.setdefault((r["scheme"], r["region_of"], r["snr_db"]), {"channel_uses": 0.0, "region_psnr_db": 0.0})
        s["channel_uses"] += r["channel_uses"] / images
        s["region_psnr_db"] += r["region_psnr_db"] / images
    return get


def test_savings_against_the_shipped_curve_use_its_own_rows():
    """The second table compares LAM-SC with the shipped-c{n} rows (another curve on the same regions), not jscc-c{n}:
    a curve 3 dB stronger turns a +1 dB gain into -2 dB."""
    rows = []
    for i in range(24):
        for snr in SNRS:
            for m in (24, 48, 96):
                u = m * 768.0
                rows.append({"scheme": f"shipped-c{m}", "region_of": "lamsc", "image": f"im{i:02d}", "snr_db": snr,
                             "channel_uses": u, "region_psnr_db": 10 * math.log10(u) + 3.0})
                rows.append({"scheme": f"jscc-c{m}", "region_of": "lamsc", "image": f"im{i:02d}", "snr_db": snr,
                             "channel_uses": u, "region_psnr_db": 10 * math.log10(u)})
            rows.append({"scheme": "lamsc", "region_of": "lamsc", "image": f"im{i:02d}", "snr_db": snr,
                         "channel_uses": 20000.0, "region_psnr_db": 10 * math.log10(20000.0) + 1.0})
    get = mean_cells(rows)
    shipped = savings_against(get, rows, "shipped-c", [24, 48, 96], ("lamsc",))
    assert len(shipped) == len(SNRS)
    assert all(s["region_psnr_gain_db"] == pytest.approx(-2.0) and s["wins_equal_uses"] == 0 for s in shipped)
    assert shipped[0]["fewer_uses_than_jscc"] < 0  # the stronger curve needs fewer uses than LAM-SC
    adjscc = savings_against(get, rows, "jscc-c", [24, 48, 96], ("lamsc",))
    assert all(s["region_psnr_gain_db"] == pytest.approx(1.0) and s["wins_equal_uses"] == 24 for s in adjscc)


def test_a_variant_with_a_twin_region_is_scored_on_the_twins_rows():
    """lamsc-hybrid selects lamsc's region (same segmenter, scorer, threshold), so the whole-image rows made on lamsc's
    region score it; a variant missing from the rows (added after they were made) is left out, not a KeyError."""
    from kodak_lamsc import REGION_OF

    assert REGION_OF["lamsc-hybrid"] == "lamsc"
    images = [(f"im{i:02d}", snr) for i in range(24) for snr in SNRS]
    rows = [{"scheme": f"shipped-c{m}", "region_of": "lamsc", "image": im, "snr_db": snr, "channel_uses": m * 768.0,
             "region_psnr_db": 10 * math.log10(m * 768.0)} for im, snr in images for m in (24, 48, 96)]
    rows += [{"scheme": "lamsc-hybrid", "region_of": "lamsc-hybrid", "image": im, "snr_db": snr,
              "channel_uses": 20000.0, "region_psnr_db": 10 * math.log10(20000.0) + 0.5} for im, snr in images]
    get = mean_cells(rows)
    out = savings_against(get, rows, "shipped-c", [24, 48, 96], ("lamsc-hybrid", "lamsc-no-asc"))
    assert [s["scheme"] for s in out] == ["lamsc-hybrid"] * len(SNRS)
    assert all(s["region_psnr_gain_db"] == pytest.approx(0.5) and s["wins_equal_uses"] == 24 for s in out)


def test_the_shipped_curve_gets_its_default_point_where_no_dedicated_model_ships():
    """At CBR 1/64 semcom ships no dedicated model: its default there is the ADJSCC, so jscc-c24 rows become the
    shipped curve's low point (once, marked same_as); a CBR with a dedicated model keeps its own rows."""
    from kodak_lamsc import add_default_points

    rows = [{"scheme": f"jscc-c{m}", "region_of": "lamsc", "image": "a", "snr_db": 1.0, "channel_uses": m * 768.0,
             "region_psnr_db": 20.0 + m / 100} for m in (24, 48)]
    rows.append({"scheme": "shipped-c48", "region_of": "lamsc", "image": "a", "snr_db": 1.0, "channel_uses": 36864.0,
                 "region_psnr_db": 25.0})
    out = add_default_points(rows)
    added = [r for r in out if r.get("same_as")]
    assert [(r["scheme"], r["same_as"], r["region_psnr_db"]) for r in added] == [("shipped-c24", "jscc-c24", 20.24)]
    assert add_default_points(out) == out  # idempotent
