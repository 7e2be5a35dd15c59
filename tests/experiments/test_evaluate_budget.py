"""Equal real channel uses per image across the image schemes (issue 20, item 7), also when the sides are not
multiples of 16: the JSCC and SoftCast pad to the 16-pixel grid, so the digital chain and the bound get that budget."""

import pytest
import torch

from semcom.digital import GRID, channel_use_budget
from semcom.experiments.evaluate import SchemeSpec, run_cell
from semcom.jscc.models import FACTOR
from semcom.jscc.softcast import BLOCK

torch.set_num_threads(1)


def test_the_budget_counts_the_padded_grid_of_the_analog_schemes():
    assert GRID == FACTOR == BLOCK == 16
    assert channel_use_budget((3, 375, 500), 1 / 16) == 3 * 384 * 512 // 16 == 36864  # not round(3*375*500/16) = 35156
    assert channel_use_budget((3, 512, 768), 1 / 16) == 3 * 512 * 768 // 16  # multiples of 16: unchanged


def test_a_375x500_image_costs_every_scheme_the_same_channel_uses():
    g = torch.Generator().manual_seed(0)
    low = torch.rand(1, 3, 24, 32, generator=g)
    x = torch.nn.functional.interpolate(low, size=(375, 500), mode="bilinear")[0].clamp(0, 1)
    specs = [SchemeSpec("jscc"), SchemeSpec("softcast", "pca"), SchemeSpec("softcast", "dct"),
             SchemeSpec("digital", "jpeg", decode=False), SchemeSpec("bound", "jpeg")]
    rows = {}
    for spec in specs:
        (row,) = run_cell(spec, "awgn", [("odd", x)], 10.0, 1 / 16, seed=0)
        rows[spec.label] = row
    budget = 36864
    # + the side block (issue 20 item 3) at 10 dB on AWGN: the float16 power scale in one 16-QAM 1/2 codeword (480)
    assert rows["jscc"]["channel_uses"] == budget + 480  # the hybrid JSCC at CBR 1/16, like SoftCast
    assert rows["softcast-pca"]["channel_uses"] == budget + 480
    # dct: + one float16 variance per coefficient, 1552 bits in one QPSK 5/6 codeword
    assert rows["softcast-dct"]["channel_uses"] == budget + 960 and rows["softcast-dct"]["side_bits"] == 16 + 16 * 96
    for label in ("digital-jpeg", "bound-jpeg"):
        assert rows[label]["channel_use_budget"] == budget and rows[label]["ok"]
        assert 0 < rows[label]["channel_uses"] <= budget
    # the digital chain sends whole codewords: at most one codeword's symbols short of the budget
    assert budget - rows["digital-jpeg"]["channel_uses"] < 1920 // 2
    for row in rows.values():  # the real CBR, from what was really sent
        assert row["cbr"] == pytest.approx(row["channel_uses"] / (3 * 375 * 500))
