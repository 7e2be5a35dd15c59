"""Every CLI command end to end, in-process through ``main(argv)``."""

import json

import pytest
import torch

from semcom.cli import main
from semcom.data import save_image
from semcom.experiments.checkpoint import slim_copy
from semcom.experiments.train import TrainConfig, train
from semcom.jscc import JSCCConfig

TINY_ARGS = ["--widths", "8,8,8", "--latent", "12"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    g = torch.Generator().manual_seed(0)
    for i in range(3):
        smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 4, 6, generator=g), size=(48, 64), mode="bilinear")[0]
        save_image(smooth, root / f"im{i}.png")
    return root


@pytest.fixture(scope="module")
def tiny_ckpt(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    last = train(TrainConfig(data=str(folder), out=str(out), cbr=(12 / 1536,), steps=2, batch=2, crop=16, warmup=1,
                             val_count=1, eval_every=2, ckpt_every=2), JSCCConfig(widths=(8, 8, 8), latent_channels=12),
                 log=lambda m: None)
    slim_copy(last, out / "slim.pt")
    return out / "slim.pt"


def test_train_cli_writes_checkpoint_and_export(folder, tmp_path):
    code = main(["train", "jscc", "--data", str(folder), "--out", str(tmp_path / "run"), "--cbr", "12/1536",
                 "--steps", "2", "--batch", "2", "--crop", "16", "--val-count", "1", "--eval-every", "2",
                 "--ckpt-every", "1", "--export", str(tmp_path / "model.pt"), *TINY_ARGS])
    assert code == 0
    assert (tmp_path / "run" / "last.pt").is_file() and (tmp_path / "model.pt").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["steps"] == 2


@pytest.mark.parametrize("scheme", ["jscc", "digital", "bound"])
def test_eval_cli_writes_results(scheme, folder, tiny_ckpt, tmp_path, capsys):
    extra = ["--checkpoint", str(tiny_ckpt), "--cbr", "12/1536"] if scheme == "jscc" else ["--cbr", "1/8", "--codec", "jpeg"]
    code = main(["eval", scheme, "--data", str(folder), "--snr", "4,13", "--out", str(tmp_path / "res"), *extra])
    assert code == 0
    result = json.loads((tmp_path / "res" / "results.json").read_text())
    assert len(result["rows"]) == 2 * 3 and {s["snr_db"] for s in result["summary"]} == {4.0, 13.0}
    assert (tmp_path / "res" / "results.csv").read_text().count("\n") == 7
    assert "PSNR" in capsys.readouterr().out


def test_eval_rayleigh_in_parallel_workers_matches_serial(folder, tiny_ckpt, tmp_path):
    args = ["eval", "jscc", "--data", str(folder), "--snr", "2,9", "--cbr", "12/1536", "--channel", "rayleigh",
            "--checkpoint", str(tiny_ckpt)]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--workers", "2"]) == 0
    a = json.loads((tmp_path / "a" / "results.json").read_text())["rows"]
    b = json.loads((tmp_path / "b" / "results.json").read_text())["rows"]
    assert [r["psnr_db"] for r in a] == pytest.approx([r["psnr_db"] for r in b], abs=1e-4)


def test_transmit_cli(folder, tiny_ckpt, tmp_path, capsys):
    out = tmp_path / "rx.png"
    assert main(["transmit", str(folder / "im0.png"), "--scheme", "digital", "--snr", "12", "--cbr", "1/8",
                 "--codec", "jpeg", "--out", str(out)]) == 0
    assert out.is_file() and json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["transmit", str(folder / "im0.png"), "--scheme", "jscc", "--checkpoint", str(tiny_ckpt),
                 "--cbr", "12/1536", "--out", str(tmp_path / "rx2.png")]) == 0


def test_demo_cli_writes_complete_report(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["demo", "--out", str(out), "--snr", "4,10", "--size", "64", "--codecs", "jpeg", "--workers", "1"]) == 0
    for name in ("index.html", "results.json", "results.csv", "psnr_vs_snr.png", "msssim_vs_snr.png"):
        assert (out / name).is_file(), name
    html = (out / "index.html").read_text()
    assert "digital-jpeg" in html and "bound-jpeg" in html and "<img" in html
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert {s["scheme"] for s in summary} == {"jscc", "digital-jpeg", "bound-jpeg"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


@pytest.mark.parametrize("argv, message", [
    (["eval", "nosuch", "--data", "{folder}"], "No such command"),
    (["eval", "digital", "--data", "{folder}", "--channel", "wifi"], "unknown channel"),
    (["eval", "digital", "--data", "{folder}", "--snr", "50"], "snr_db must lie"),
    (["eval", "digital", "--data", "{folder}", "--cbr", "0"], "CBR"),
    (["eval", "digital", "--data", "{folder}", "--cbr", "x"], "not a number"),
    (["eval", "digital", "--data", "{folder}", "--codec", "bpg"], "bpg"),
    (["eval", "jscc", "--data", "{folder}", "--cbr", "1/2"], "not supported"),
    (["eval", "jscc", "--data", "{folder}/missing"], "not found"),
    (["transmit", "{folder}/missing.png", "--out", "{tmp}/x.png"], "not found"),
    (["transmit", "{tmp}/corrupt.png", "--out", "{tmp}/x.png"], "cannot read image"),
    (["transmit", "{folder}/im0.png", "--snr", "nan", "--out", "{tmp}/x.png"], "NaN"),
    (["demo", "--out", "{tmp}/rep", "--snr", "-30"], "snr_db must lie"),
    (["train", "jscc", "--data", "{folder}", "--out", "{tmp}/run", "--snr-range", "1"], "two values"),
])
def test_bad_input_is_one_line_error_and_exit_2(argv, message, folder, tmp_path, capsys):
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG not really")
    argv = [a.format(folder=folder, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "rep").exists() and not (tmp_path / "x.png").exists()
