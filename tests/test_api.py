"""The Python API: ``import semcom`` is light and lazy, the names work, and the README's example runs as a doctest."""

from __future__ import annotations

import doctest
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import semcom
from semcom.experiments import api
from semcom.errors import SemcomError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_import_semcom_loads_no_torch_and_no_api_until_a_name_is_used():
    code = ("import sys, time; t = time.perf_counter(); import semcom; dt = time.perf_counter() - t; "
            "before = sorted(m for m in sys.modules if m == 'torch' or m.startswith('semcom.')); "
            "semcom.AWGN; after = 'semcom.experiments.api' in sys.modules and 'torch' in sys.modules; "
            "import json; print(json.dumps([before, after, dt]))")
    before, after, seconds = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                       check=True).stdout)
    assert before == ["semcom.errors"]
    assert after
    assert seconds < 0.5


def test_every_lazy_name_resolves_and_matches_the_api_module():
    assert set(semcom.API) | {"SemcomError"} == set(api.__all__)
    for name in semcom.API:
        assert getattr(semcom, name) is getattr(api, name)
    assert set(semcom.API) <= set(dir(semcom))
    submodules = {p.stem for p in Path(semcom.__file__).parent.iterdir()}
    assert not set(semcom.API) & submodules, "an API name would be shadowed by the subpackage of that name"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        semcom.nope


def test_load_scheme_refuses_what_the_scheme_does_not_take():
    with pytest.raises(SemcomError, match="takes no option codec"):
        semcom.load_scheme("jscc", codec="webp")
    with pytest.raises(SemcomError, match="unknown channel 'wifi'"):
        semcom.load_scheme("jscc", channel="wifi")
    with pytest.raises(SemcomError, match="unknown scheme 'jsc'"):
        semcom.load_scheme("jsc")
    assert set(semcom.scheme_names()) >= {"jscc", "softcast", "digital", "bound", "lamsc", "splitnn", "attention-ci"}


def test_evaluate_gives_the_rows_of_semcom_eval():
    from semcom.experiments.evaluate import SchemeSpec, run_cell

    images = [(name, x[:, :64, :96]) for name, x in semcom.demo_images()[:2]]
    scheme = semcom.load_scheme("jscc", cbr=1 / 32)
    rows = semcom.evaluate(scheme, images, snr_db=[4], seed=3)
    reference = run_cell(SchemeSpec("jscc"), "awgn", images, 4.0, 1 / 32, seed=3)
    assert [r["psnr_db"] for r in rows] == [r["psnr_db"] for r in reference]
    one = semcom.transmit(scheme, images[0][1], 4, seed=3)
    # 48 maps of 4x6 real symbols at 1/32, plus the side block that carries the power scale (the shipped
    # hybrid at 1/32 sends one; an LDPC block is large next to a 64x96 image, so it is counted, not hidden)
    expected = 48 * 4 * 6 // 2 + one.details.get("side_uses", 0)
    assert [r["channel_uses"] for r in rows] == [r["channel_uses"] for r in reference] == [expected] * 2
    assert one.channel_uses == rows[0]["channel_uses"]
    assert rows[0]["cbr"] == pytest.approx(expected / (3 * 64 * 96))


def readme_pycon_blocks() -> list[str]:
    return re.findall(r"```pycon\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_example_runs_as_a_doctest():
    blocks = readme_pycon_blocks()
    assert len(blocks) == 1, "the README has one Python API example (a ```pycon block)"
    assert len([line for line in blocks[0].splitlines() if line.startswith(">>> ")]) <= 12
    test = doctest.DocTestParser().get_doctest(blocks[0], {"torch": torch}, "README", str(README), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} README example line(s) failed (see above)"
