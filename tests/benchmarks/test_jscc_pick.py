"""Pick-by-SNR: the specialists' SNR intervals come from the held-out measurements (benchmarks/jscc_pick.py)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from jscc_pick import OUT, intervals  # noqa: E402


def rows(general: list[float], specialist: list[float], trained: float, snrs: list[float]) -> list[dict]:
    out = [{"cbr": 0.0625, "role": "general", "checkpoint": "g.pt", "snr_db": s, "psnr_db": p, "trained_snr_db": None}
           for s, p in zip(snrs, general)]
    return out + [{"cbr": 0.0625, "role": "specialist", "checkpoint": "s.pt", "snr_db": s, "psnr_db": p,
                   "trained_snr_db": trained} for s, p in zip(snrs, specialist)]


def test_the_interval_is_the_winning_run_around_the_training_snr():
    snrs = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    # wins at 0 (an isolated fluke, not connected), loses at 1, wins 2..4 around its 3 dB, loses at 5
    found = intervals(rows([20, 21, 22, 23, 24, 25], [20.5, 20.9, 22.0, 23.4, 24.1, 24.9], 3.0, snrs))
    assert found == {0.0625: [(2.0, 5.0, "s.pt")]}
    # winning up to the end of the grid: open above; from the start: open below
    found = intervals(rows([20, 21, 22, 23, 24, 25], [20, 21.1, 22, 23, 24, 25.2], 5.0, snrs))
    assert found == {0.0625: [(-math.inf, math.inf, "s.pt")]}
    # losing where it was trained: not a specialist at all
    assert intervals(rows([20, 21, 22, 23, 24, 25], [21, 22, 21.9, 22, 23, 24], 2.0, snrs)) == {}


def test_the_shipped_tables_are_what_the_committed_measurements_give():
    from semcom.jscc.transmitter import SPECIALISTS_BY_CBR, SPECIALISTS_BY_CHANNEL

    rows = [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()] if OUT.is_file() else []
    for channel, table in {"awgn": SPECIALISTS_BY_CBR, **SPECIALISTS_BY_CHANNEL}.items():
        measured = intervals(rows, channel)
        assert {c: tuple(v) for c, v in measured.items()} == {c: tuple(v) for c, v in table.items()}, channel


def test_the_low_snr_fallback_is_anchored_at_the_bottom_of_the_grid():
    snrs = [-2.0, 0.0, 2.0, 4.0]
    general = [{"cbr": 0.125, "channel": "rayleigh", "role": "general", "checkpoint": "g.pt", "snr_db": s,
                "psnr_db": p, "trained_snr_db": None} for s, p in zip(snrs, [10, 14, 18, 22])]
    low = [{"cbr": 0.125, "channel": "rayleigh", "role": "low-snr", "checkpoint": "a.pt", "snr_db": s, "psnr_db": p,
            "trained_snr_db": None} for s, p in zip(snrs, [16, 17, 18.5, 19])]
    assert intervals(general + low, "rayleigh") == {0.125: [(-math.inf, 4.0, "a.pt")]}
    assert intervals(general + low) == {}  # AWGN's rows only
    low[0]["psnr_db"] = 9  # losing at the bottom: no fallback at all
    assert intervals(general + low, "rayleigh") == {}
