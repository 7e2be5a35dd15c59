"""`semcom train softcast`, `semcom eval|transmit --scheme softcast`, `semcom train jscc --model hybrid`."""

from __future__ import annotations

import json

import pytest
from conftest import write_smooth_photos

from semcom.cli import main
from semcom.jscc.checkpoint import load_jscc
from semcom.jscc.softcast import load_basis


@pytest.fixture()
def photos(tmp_path):
    return write_smooth_photos(tmp_path / "photos", 5, (64, 80), (8, 10), "p")


def test_fit_eval_transmit_and_train_hybrid(photos, tmp_path):
    basis = tmp_path / "basis.safetensors"
    assert main(["train", "softcast", "--data", str(photos), "--out", str(basis), "--components", "24",
                 "--val-count", "1"]) == 0
    fitted = load_basis(basis)
    assert fitted.kind == "pca" and fitted.components == 24 and fitted.meta["files"] == [f"p{i}.png" for i in range(4)]

    res = tmp_path / "res"
    assert main(["eval", "softcast", "--data", str(photos), "--snr", "1,13", "--cbr", "1/64", "--transform", "pca",
                 "--checkpoint", str(basis), "--out", str(res)]) == 0
    summary = json.loads((res / "results.json").read_text())["summary"]
    by_snr = {s["snr_db"]: s["psnr_db"] for s in summary}
    assert by_snr[13.0] > by_snr[1.0] + 1
    assert main(["transmit", str(photos / "p0.png"), "--scheme", "softcast", "--transform", "dct", "--snr", "7",
                 "--out", str(tmp_path / "rx.png")]) == 0
    assert (tmp_path / "rx.png").is_file()
    assert main(["transmit", str(photos / "p0.png"), "--scheme", "softcast", "--transform", "wavelet", "--snr", "7",
                 "--out", str(tmp_path / "rx2.png")]) == 2

    run = tmp_path / "hybrid"
    assert main(["train", "jscc", "--model", "hybrid", "--widths", "8", "--latent", "24", "--cbr", "1/64",
                 "--data", str(photos), "--val-count", "1", "--crop", "32", "--batch", "2", "--steps", "4",
                 "--eval-every", "4", "--init-basis", str(basis), "--clip", "1", "--schedule", "late-cosine",
                 "--out", str(run)]) == 0
    model, meta = load_jscc(run / "last.pt")
    assert type(model).__name__ == "HybridJSCC" and meta["step"] == 4
    assert main(["train", "jscc", "--model", "hybrid", "--widths", "8,8,8", "--data", str(photos),
                 "--out", str(tmp_path / "bad")]) == 2
