"""Every CLI command end to end, in-process through ``main(argv)``."""

import json
import os

import pytest
import torch

from semcom.cli import main
from semcom.jscc import JSCCConfig
from semcom.jscc.train import TrainConfig, train
from semcom.training.checkpoint import slim_copy

TINY_ARGS = ["--widths", "8,8,8", "--latent", "12"]


@pytest.fixture(scope="session")
def folder(smooth_photos):
    return smooth_photos


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


def test_eval_softcast_side_link_is_priced_on_ldpc_by_default_and_ideal_on_request(folder, tmp_path):
    """The power scale's 16 bits: one LDPC + QAM block by default (480 uses at 10 dB on AWGN), 16 uses when ideal."""
    uses = {}
    for side in (None, "ideal"):
        out = tmp_path / f"res-{side}"
        extra = ["--side-link", side] if side else []
        assert main(["eval", "softcast", "--data", str(folder), "--snr", "10", "--cbr", "1/16", "--out", str(out),
                     *extra]) == 0
        rows = json.loads((out / "results.json").read_text())["rows"]
        uses[side] = [r["channel_uses"] for r in rows]
    assert [a - b for a, b in zip(uses[None], uses["ideal"])] == [480 - 16] * len(uses[None])
    assert main(["eval", "softcast", "--data", str(folder), "--side-link", "carrier-pigeon"]) != 0


def test_fit_budget_keeps_symbols_and_side_block_within_the_cbr(folder, tmp_path, capsys):
    """--fit-budget on 48x64 photos at CBR 1/16 (a budget of 576 channel uses): a 1,920-bit side codeword (960 uses)
    cannot fit, a one-line error; on the short-codeword side link it does, every row within the budget, labelled."""
    args = ["eval", "softcast", "--data", str(folder), "--snr", "4", "--cbr", "1/16", "--fit-budget"]
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "no")]) != 0
    err = capsys.readouterr().err
    assert "side block needs 960 channel uses" in err and "budget of 576" in err
    assert not (tmp_path / "no").exists()
    out = tmp_path / "fit"
    assert main([*args, "--side-link", "ldpc-short", "--out", str(out)]) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert rows and all(r["scheme"] == "softcast-pca-short-side-fit" and r["channel_uses"] <= 576 for r in rows)
    capsys.readouterr()
    assert main(["eval", "digital", "--data", str(folder), "--fit-budget"]) != 0
    assert "--fit-budget" in capsys.readouterr().err


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
                 "--codec", "jpeg", "--out", str(out), "--json"]) == 0
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
    (["train", "jscc", "--data", "{folder}", "--out", "{tmp}/run", "--model", "hybrid", "--widths", "8",
      "--stem", "pyramid"], "unknown hybrid JSCC stem"),
    (["train", "jscc", "--data", "{folder}", "--out", "{tmp}/run", "--stem", "strided"], "options of --model hybrid"),
])
def test_bad_input_is_one_line_error_and_exit_2(argv, message, folder, tmp_path, capsys):
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG not really")
    argv = [a.format(folder=folder, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "rep").exists() and not (tmp_path / "x.png").exists()


# ---- never a user's files, every output path checked before any work, nothing temporary left behind ----------

@pytest.fixture()
def thesis(tmp_path):
    folder = tmp_path / "thesis"
    (folder / "data").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\documentclass{article}")
    (folder / "data" / "measurements.csv").write_text("a,b\n1,2\n")
    return folder


def files_in(folder):
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("argv", [
    ["eval", "bound", "--data", "{folder}", "--snr", "7", "--cbr", "1/8"],
    ["eval", "jscc", "--data", "{folder}", "--snr", "7"],
    ["eval", "lamsc", "--data", "{folder}", "--snr", "7"],
    ["eval", "splitnn", "--snr", "7"],
    ["eval", "attention-ci", "--delta", "0.9"],
    ["sweep", "attention-ci"],
    ["demo", "--snr", "7", "--size", "32", "--workers", "1"],
])
def test_out_holding_user_files_is_refused_before_any_work(argv, thesis, folder, capsys, monkeypatch):
    import semcom.experiments.evaluate as evaluate

    def no_work(*a, **k):
        raise AssertionError("work started before --out was checked")

    monkeypatch.setattr(evaluate, "sweep", no_work)
    monkeypatch.setattr(evaluate, "build_transmitters", no_work)
    before = files_in(thesis)
    assert main([a.format(folder=folder) for a in argv] + ["--out", str(thesis)]) == 2
    err = capsys.readouterr().err
    assert "semcom did not write (data, thesis.tex)" in err and "--overwrite" in err and err.count("\n") == 1
    assert files_in(thesis) == before and sorted(p.name for p in thesis.parent.iterdir()) == ["thesis"]


def test_eval_overwrite_writes_into_a_user_folder_and_keeps_its_files(thesis, folder):
    before = files_in(thesis)
    assert main(["eval", "bound", "--data", str(folder), "--snr", "7", "--cbr", "1/8", "--out", str(thesis),
                 "--overwrite"]) == 0
    after = files_in(thesis)
    assert {k: after[k] for k in before} == before
    assert json.loads(after["results.json"])["rows"] and "results.csv" in after
    # the next run into the same folder writes semcom's files again, the user's stay
    assert main(["eval", "bound", "--data", str(folder), "--snr", "4", "--cbr", "1/8", "--out", str(thesis),
                 "--overwrite"]) == 0
    assert {k: v for k, v in files_in(thesis).items() if k in before} == before


def test_eval_rerun_into_its_own_results_folder_needs_no_flag(folder, tmp_path):
    args = ["eval", "bound", "--data", str(folder), "--cbr", "1/8", "--out", str(tmp_path / "res")]
    assert main([*args, "--snr", "4"]) == 0 and main([*args, "--snr", "4,7"]) == 0
    assert {r["snr_db"] for r in json.loads((tmp_path / "res" / "results.json").read_text())["rows"]} == {4, 7}


@pytest.mark.parametrize("argv, message", [
    (["transmit", "{folder}/im0.png", "--scheme", "bound", "--out", "{tmp}/rx"], "needs a file name ending in .png"),
    (["transmit", "{folder}/im0.png", "--scheme", "bound", "--out", "."], "is a folder"),
    (["transmit", "{folder}/im0.png", "--scheme", "bound", "--out", ".."], "is a folder"),
    (["transmit", "{folder}/im0.png", "--scheme", "bound", "--out", "{tmp}"], "is a folder"),
    (["transmit", "{folder}/im0.png", "--scheme", "bound", "--out", "/proc/semcom/rx.png"], "cannot write"),
    (["transmit", "{folder}/im0.png", "--scheme", "bound", "--out", "{folder}/im1.png/rx.png"], "is a file"),
    (["eval", "bound", "--data", "{folder}", "--out", "{folder}/im0.png"], "existing file, not a folder"),
    (["eval", "bound", "--data", "{folder}", "--out", "/proc/semcom-results"], "cannot write"),
    (["eval", "bound", "--data", "{folder}", "--out", "."], "semcom did not write"),
    (["eval", "bound", "--data", "{folder}", "--out", ".."], "semcom did not write"),
    (["demo", "--out", "{folder}/im0.png"], "existing file, not a folder"),
    (["train", "jscc", "--data", "{folder}", "--out", "{folder}/im0.png"], "existing file, not a folder"),
    (["train", "jscc", "--data", "{folder}", "--out", "/proc/semcom-run"], "cannot write"),
    (["train", "jscc", "--data", "{folder}", "--out", "{tmp}/run", "--export", "{tmp}/model"], "ending in .pt"),
    (["train", "patch-jscc", "--out", "{tmp}/patch"], "ending in .pt"),
])
def test_bad_output_paths_fail_at_once_with_one_line(argv, message, folder, tmp_path, capsys, monkeypatch):
    import semcom.experiments.evaluate as evaluate

    if "/proc/" in " ".join(argv) and not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux /proc")
    work = tmp_path / "work"
    (work / "mine").mkdir(parents=True)  # the working folder (and so its parent) holds the user's files
    monkeypatch.chdir(work)
    monkeypatch.setattr(evaluate, "build_transmitters", lambda *a, **k: pytest.fail("work started"))
    folder_before = sorted(p.name for p in folder.iterdir())
    assert main([a.format(folder=folder, tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"] and os.listdir(work) == ["mine"]
    assert sorted(p.name for p in folder.iterdir()) == folder_before


def test_ctrl_c_while_writing_results_leaves_no_temporary_folder(folder, tmp_path, monkeypatch):
    import semcom.experiments.results as results

    def interrupted(tmp, *a):
        (tmp / "results.json").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(results, "write_results", interrupted)
    argv = ["eval", "bound", "--data", str(folder), "--snr", "7", "--cbr", "1/8", "--out", str(tmp_path / "res")]
    assert main(argv) == 130
    assert os.listdir(tmp_path) == []


def test_ctrl_c_while_writing_the_received_image_leaves_nothing(folder, tmp_path, monkeypatch):
    import semcom.data

    def interrupted(x, path):
        path.write_bytes(b"half a png")
        raise KeyboardInterrupt

    monkeypatch.setattr(semcom.data, "save_image", interrupted)
    assert main(["transmit", str(folder / "im0.png"), "--scheme", "bound", "--out", str(tmp_path / "rx.png")]) == 130
    assert os.listdir(tmp_path) == []


def test_transmit_of_a_16bit_photo_is_not_white_and_writes_an_8bit_png(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    ramp = np.linspace(2000, 30000, 48 * 64).reshape(48, 64).astype(np.uint16)  # a dark 16-bit grey photo
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    assert main(["transmit", str(tmp_path / "g16.png"), "--scheme", "bound", "--cbr", "1/4", "--snr", "13",
                 "--out", str(tmp_path / "rx.png"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    with Image.open(tmp_path / "rx.png") as rx:
        assert rx.mode == "RGB" and rx.format == "PNG"
        assert abs(np.asarray(rx).mean() / 255 - ramp.mean() / 65535) < 0.02
    assert row["psnr_db"] < 99  # a lossless codec on 16-bit input cannot be 'perfect' at 8 bits


# ---- Ctrl-C during training: no temporary checkpoint, and the command that resumes --------------------------

TRAIN_ARGS = ["--cbr", "12/1536", "--steps", "6", "--batch", "2", "--crop", "16", "--val-count", "1",
              "--eval-every", "2", "--ckpt-every", "2", *TINY_ARGS]


def test_ctrl_c_while_saving_a_checkpoint_leaves_no_tmp_and_prints_the_resume_command(folder, tmp_path, capsys,
                                                                                     monkeypatch):
    import shlex

    from semcom.training.checkpoint import read_checkpoint

    real_save, saves = torch.save, []

    def ctrl_c_on_second_save(obj, path):
        saves.append(path)
        if len(saves) == 2:
            open(path, "wb").write(b"half a checkpoint")
            raise KeyboardInterrupt
        real_save(obj, path)

    monkeypatch.setattr(torch, "save", ctrl_c_on_second_save)
    run = tmp_path / "my run"  # a space: the printed command must quote it
    argv = ["train", "jscc", "--data", str(folder), "--out", str(run), *TRAIN_ARGS]
    assert main(argv) == 130
    monkeypatch.undo()
    assert sorted(os.listdir(run)) == ["config.json", "last.pt", "train.jsonl"]  # no temporary checkpoint
    assert read_checkpoint(run / "last.pt")["step"] == 2
    err = capsys.readouterr().err
    assert f"last checkpoint {run / 'last.pt'} (step 2)" in err
    command = shlex.split(err.split("resume with: ")[1].splitlines()[0])
    assert command == ["semcom", *argv]
    assert main(command[1:]) == 0
    assert "resumed from" in capsys.readouterr().err and read_checkpoint(run / "last.pt")["step"] == 6


def test_ctrl_c_before_the_first_checkpoint_says_there_is_nothing_to_resume(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch, "save", lambda obj, path: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["train", "jscc", "--data", str(folder), "--out", str(tmp_path / "run"), *TRAIN_ARGS]) == 130
    assert "interrupted before the first checkpoint: nothing to resume" in capsys.readouterr().err
    assert not [p for p in (tmp_path / "run").iterdir() if p.suffix == ".pt"]


def test_resume_with_other_settings_is_refused_unless_asked(folder, tmp_path, capsys):
    run = str(tmp_path / "run")
    base = ["train", "jscc", "--data", str(folder), "--out", run, *TRAIN_ARGS]
    assert main([*base, "--steps", "2"]) == 0
    capsys.readouterr()
    assert main([*base, "--cbr", "6/1536", "--snr-range", "0,10"]) == 2  # and 6 steps instead of 2: that is allowed
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume-anyway" in err and "steps" not in err
    assert "cbr: [0.0078125] -> [0.00390625]; snr_range: [-2.0, 16.0] -> [0.0, 10.0]" in err
    assert main([*base, "--cbr", "6/1536", "--resume-anyway"]) == 0
    assert "resuming" in capsys.readouterr().err
