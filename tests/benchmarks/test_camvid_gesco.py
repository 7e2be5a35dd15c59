"""benchmarks/camvid_gesco.py: the baselines are scored at the same budget, each under its own row name."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import camvid_gesco


def camvid_folder(root: Path) -> Path:
    """The synthetic CamVid folder of the GESCO scheme tests (2 test pairs of 48x64)."""
    spec = importlib.util.spec_from_file_location("gesco_scheme_tests", ROOT / "tests/schemes/gesco/test_scheme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.camvid_folder(root, {"test": 2}, size=(48, 64))


def test_pixel_jscc_baselines_fit_the_budget_under_their_own_names(tmp_path):
    pytest.importorskip("semcom.metrics.distribution")
    root = camvid_folder(tmp_path / "camvid")
    out = tmp_path / "out.jsonl"
    code = camvid_gesco.main(["--data", str(root), "--limit", "2", "--diffusion", "none", "--segmenter", "none",
                              "--transmitters", "", "--baselines", "jscc,jscc-adjscc", "--snrs", "5",
                              "--cbrs", "1/16", "--channels", "awgn", "--fast", "--out", str(out)])
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    cells = {r["scheme"]: r for r in rows if r["kind"] == "baseline"}
    assert set(cells) == {"jscc-short-side-fit", "jscc-adjscc"}
    for r in cells.values():
        assert 0 < r["channel_uses"] <= r["channel_use_budget"] and r["psnr_db"] > 10
    assert len({tuple(r["key"]) for r in rows if r["kind"] == "baseline"}) == 2


def test_an_unknown_baseline_is_a_one_line_error(tmp_path, capsys):
    root = camvid_folder(tmp_path / "camvid")
    code = camvid_gesco.main(["--data", str(root), "--limit", "1", "--diffusion", "none", "--segmenter", "none",
                              "--transmitters", "", "--baselines", "jpeg", "--snrs", "5", "--cbrs", "1/16",
                              "--channels", "awgn", "--out", str(tmp_path / "out.jsonl")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1] == "error: unknown baseline 'jpeg': jscc, jscc-adjscc or digital-CODEC"
