"""Large inputs through the command line: the JSCC tiles (same channel uses as whole), LAM-SC refuses an image over
its pixel limit in one line that names the limit and a size to resize to, and nothing is left at --out."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from semcom.cli import main
from semcom.errors import SemcomError
from semcom.segmentation.segmenter import MAX_PIXELS, SlicSegmenter, check_size


def write_photo(path, width: int, height: int, seed: int = 0):
    low = np.random.default_rng(seed).integers(0, 256, (height // 32 + 1, width // 32 + 1, 3), dtype=np.uint8)
    Image.fromarray(low).resize((width, height), Image.BICUBIC).save(path)
    return path


def test_check_size_names_the_limit_and_a_size_under_it():
    check_size(1080, 1920)  # full HD fits
    with pytest.raises(SemcomError) as info:
        check_size(3000, 4000)
    message = str(info.value)
    assert "\n" not in message and "2,097,152 pixels" in message and "4000x3000" in message
    fit_w, fit_h = (int(v) for v in message.split("resize it to ")[1].split(" ")[0].split("x"))
    assert fit_w * fit_h <= MAX_PIXELS and fit_w % 16 == fit_h % 16 == 0 and fit_w / fit_h == pytest.approx(4 / 3, 0.01)
    with pytest.raises(SemcomError, match="at most 2,097,152 pixels"):
        SlicSegmenter().segments(torch.rand(3, 1500, 1500))


def test_lamsc_transmit_refuses_an_over_limit_image_in_one_line(tmp_path, capsys):
    image = write_photo(tmp_path / "big.png", 2100, 1000)  # 2.1 M pixels: just over
    out = tmp_path / "rx.png"
    assert main(["transmit", str(image), "--scheme", "lamsc", "--snr", "7", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error:") and "2,097,152 pixels" in err and "resize it to" in err
    assert not out.exists()


def test_jscc_transmit_of_a_tiled_image_spends_the_whole_image_channel_uses(tmp_path, capsys):
    image = write_photo(tmp_path / "wide.png", 1100, 96)  # wider than one 1024-pixel tile: two tiles
    assert main(["transmit", str(image), "--scheme", "jscc", "--snr", "10", "--out", str(tmp_path / "rx.png"),
                 "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    # CBR 1/16 (the hybrid JSCC): 96 maps on the whole image's grid + the side block of its float16 power scale (one
    # 16-QAM 1/2 codeword at 10 dB on AWGN)
    assert row["channel_uses"] == 96 * (96 // 16) * -(-1100 // 16) // 2 + 480 and row["side_uses"] == 480
    assert row["ok"] and row["psnr_db"] > 20
