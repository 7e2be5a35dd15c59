import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import write_smooth_photos
from semcom.errors import SemcomError
from semcom.jscc import JSCCConfig
from semcom.jscc.checkpoint import load_jscc
from semcom.jscc.train import TrainConfig, learning_rate, train
from semcom.training.checkpoint import read_checkpoint, slim_copy

TINY = JSCCConfig(widths=(8, 8, 8), latent_channels=12)


@pytest.fixture()
def photo_dir(tmp_path):
    return write_smooth_photos(tmp_path / "photos", 4, (48, 64), (6, 8), "p")


def cfg(photo_dir, out, steps, **kw):
    base = dict(data=str(photo_dir), out=str(out), cbr=(4 / 1536, 12 / 1536), steps=steps, batch=2, crop=16, warmup=2,
                val_count=1, eval_every=2, ckpt_every=2, seed=3)
    return TrainConfig(**{**base, **kw})


def test_training_reduces_loss_and_writes_checkpoint_log_and_config(photo_dir, tmp_path):
    last = train(cfg(photo_dir, tmp_path / "run", 120, lr=5e-3, log_every=5, eval_every=8), TINY, log=lambda m: None)
    ckpt = read_checkpoint(last)
    assert ckpt["step"] == 120 and ckpt["cpu_hours"] > 0 and ckpt["model_config"] == TINY.to_dict()
    log = [json.loads(line) for line in (tmp_path / "run" / "train.jsonl").read_text().splitlines()]
    assert any("psnr_cbr0.002604_snr0" in r for r in log)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["latent_channels"] == 12
    key = "psnr_cbr0.007812_snr15"
    val = [r[key] for r in log if key in r]
    assert len(val) == 15 and val[-1] > val[0] + 0.5  # deterministic validation PSNR improves


def test_resume_continues_exactly(photo_dir, tmp_path):
    """A run killed after its step-4 checkpoint and resumed ends with the same weights as an uninterrupted run."""
    train(cfg(photo_dir, tmp_path / "a", 6), TINY, log=lambda m: None)

    def crash(step, total, loss):
        if step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg(photo_dir, tmp_path / "b", 6), TINY, log=lambda m: None, progress=crash)
    assert read_checkpoint(tmp_path / "b" / "last.pt")["step"] == 4
    train(cfg(photo_dir, tmp_path / "b", 6), TINY, log=lambda m: None)
    a = read_checkpoint(tmp_path / "a" / "last.pt")["state_dict"]
    b = read_checkpoint(tmp_path / "b" / "last.pt")["state_dict"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_resumed_run_logs_each_step_once(photo_dir, tmp_path):
    """Steps logged after the last checkpoint of a killed run are redone on resume: their old lines are dropped, so
    the log holds each step once, with the values of the run that produced the weights."""
    def crash(step, total, loss):
        if step == 6:
            raise KeyboardInterrupt

    c = cfg(photo_dir, tmp_path / "b", 8, log_every=1, eval_every=100)
    with pytest.raises(KeyboardInterrupt):
        train(c, TINY, log=lambda m: None, progress=crash)
    path = tmp_path / "b" / "train.jsonl"
    assert [json.loads(x)["step"] for x in path.read_text().splitlines()] == [1, 2, 3, 4, 5]
    notes = []
    train(c, TINY, log=notes.append)
    assert [json.loads(x)["step"] for x in path.read_text().splitlines()] == list(range(1, 9))
    assert any("dropped 1 log lines after step 4" in n for n in notes)
    train(cfg(photo_dir, tmp_path / "b", 8, log_every=1, eval_every=100), TINY, log=lambda m: None)  # finished: kept
    assert len(path.read_text().splitlines()) == 8


def test_resume_with_other_architecture_is_refused(photo_dir, tmp_path):
    train(cfg(photo_dir, tmp_path / "a", 2), TINY, log=lambda m: None)
    with pytest.raises(SemcomError, match="different model config"):
        train(cfg(photo_dir, tmp_path / "a", 4), JSCCConfig(widths=(8, 8, 8), latent_channels=24), log=lambda m: None)


def test_slim_checkpoint_loads(photo_dir, tmp_path):
    last = train(cfg(photo_dir, tmp_path / "a", 2), TINY, log=lambda m: None)
    slim_copy(last, tmp_path / "slim.pt")
    model, meta = load_jscc(tmp_path / "slim.pt")
    assert meta["step"] == 2 and "optimizer" not in read_checkpoint(tmp_path / "slim.pt")
    assert model.cfg == TINY


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SemcomError, match="cannot read checkpoint"):
        load_jscc(tmp_path / "bad.pt")
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(SemcomError, match="not a semcom"):
        load_jscc(tmp_path / "other.pt")


def test_learning_rate_schedule():
    c = TrainConfig(data=".", out=".", steps=100, warmup=10, lr=1e-3, lr_min=1e-5)
    assert learning_rate(c, 0) == pytest.approx(1e-4)
    assert learning_rate(c, 10) == pytest.approx(1e-3)
    assert learning_rate(c, 100) == pytest.approx(1e-5)


@pytest.mark.parametrize("kw", [dict(snr_range=(5.0, 1.0)), dict(snr_range=(-30.0, 1.0)), dict(cbr=(0.0,)), dict(steps=0)])
def test_bad_train_config(kw):
    with pytest.raises(SemcomError):
        TrainConfig(data=".", out=".", **kw)


def test_data_parallel_under_torchrun(photo_dir, tmp_path):
    """Two gloo processes train together; the checkpoint records world size 2 and both ranks' RNG states."""
    script = (
        "import torch;from semcom.jscc.train import TrainConfig, train;from semcom.jscc import JSCCConfig;"
        f"train(TrainConfig(data={str(photo_dir)!r}, out={str(tmp_path / 'ddp')!r}, cbr=(12/1536,), steps=4, batch=2, "
        "crop=16, warmup=1, val_count=1, eval_every=2, ckpt_every=2, threads=1), "
        "JSCCConfig(widths=(8, 8, 8), latent_channels=12), log=lambda m: None)"
    )
    (tmp_path / "ddp.py").write_text(script)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(tmp_path / "ddp.py")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = read_checkpoint(tmp_path / "ddp" / "last.pt")
    assert ckpt["world_size"] == 2 and ckpt["step"] == 4 and len(ckpt["rng"]) == 2


def test_warm_start_adds_the_linear_path_and_refuses_other_architectures(photo_dir, tmp_path):
    from semcom.jscc.models import JSCC
    from semcom.training.checkpoint import warm_start

    last = train(cfg(photo_dir, tmp_path / "a", 2), TINY, log=lambda m: None)
    with_linear = JSCC(JSCCConfig(widths=(8, 8, 8), latent_channels=12, linear_path=True))
    note = warm_start(with_linear, str(last))
    assert "encoder.linear.weight" in note and "decoder.linear.weight" in note
    assert torch.equal(with_linear.encoder.stem[1].weight, read_checkpoint(last)["state_dict"]["encoder.stem.1.weight"])
    with pytest.raises(SemcomError, match="does not fit"):
        warm_start(JSCC(JSCCConfig(widths=(8, 8, 16), latent_channels=12)), str(last))
    log = []
    out = train(cfg(photo_dir, tmp_path / "b", 2, init_from=str(last)),
                JSCCConfig(widths=(8, 8, 8), latent_channels=12, linear_path=True), log=log.append)
    assert any("initialised from" in m for m in log) and read_checkpoint(out)["model_config"]["linear_path"]


def test_resume_with_other_training_settings_is_refused_unless_resume_anyway(photo_dir, tmp_path):
    train(cfg(photo_dir, tmp_path / "a", 2), TINY, log=lambda m: None)
    with pytest.raises(SemcomError, match=r"other settings \(cbr: .*; lr: 0.001 -> 0.002\)"):
        train(cfg(photo_dir, tmp_path / "a", 4, cbr=(4 / 1536,), lr=2e-3), TINY, log=lambda m: None)
    assert read_checkpoint(tmp_path / "a" / "last.pt")["step"] == 2
    notes = []
    train(cfg(photo_dir, tmp_path / "a", 4, cbr=(4 / 1536,), lr=2e-3), TINY, log=notes.append, resume_anyway=True)
    assert any(n.startswith("resuming") and "cbr" in n for n in notes)
    ckpt = read_checkpoint(tmp_path / "a" / "last.pt")
    assert ckpt["step"] == 4 and ckpt["train_config"]["cbr"] == (4 / 1536,)
    train(cfg(photo_dir, tmp_path / "a", 6, cbr=(4 / 1536,), lr=2e-3, eval_every=3), TINY, log=lambda m: None)  # longer


def test_ctrl_c_while_saving_leaves_the_previous_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    from semcom.training.checkpoint import atomic_save

    atomic_save({"model_config": {}, "state_dict": {}, "step": 1}, tmp_path / "last.pt")

    def interrupted(obj, path):
        open(path, "wb").write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"model_config": {}, "state_dict": {}, "step": 2}, tmp_path / "last.pt")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["last.pt"] and read_checkpoint(tmp_path / "last.pt")["step"] == 1


def test_late_cosine_and_cpu_budget_schedules():
    late = TrainConfig(data="x", out="y", steps=1000, lr=1e-3, lr_min=1e-5, warmup=10, schedule="late-cosine")
    assert learning_rate(late, 5) == pytest.approx(6e-4)  # warm-up
    assert learning_rate(late, 500) == pytest.approx(1e-3) == learning_rate(late, 699)  # constant until 70 %
    assert 1e-5 < learning_rate(late, 850) < 1e-3 and learning_rate(late, 1000) == pytest.approx(1e-5)
    budget = TrainConfig(data="x", out="y", steps=10**7, lr=1e-3, lr_min=1e-5, warmup=10, cpu_budget_s=100.0)
    assert learning_rate(budget, 20, cpu_seconds=0.0) == pytest.approx(1e-3, rel=1e-3)  # after warm-up, nothing spent
    assert learning_rate(budget, 20, cpu_seconds=50.0) == pytest.approx((1e-3 + 1e-5) / 2, rel=1e-2)  # half-way
    assert learning_rate(budget, 20, cpu_seconds=100.0) == pytest.approx(1e-5)
    with pytest.raises(SemcomError, match="unknown schedule"):
        TrainConfig(data="x", out="y", schedule="linear")


def test_hybrid_trains_from_softcast_within_a_cpu_budget_and_reloads(photo_dir, tmp_path):
    from semcom.jscc.hybrid import HybridConfig

    hybrid = HybridConfig(width=8, latent_channels=12)
    run = cfg(photo_dir, tmp_path / "h", 10**6, cbr=(12 / 1536,), crop=16, cpu_budget_s=3.0, clip=1.0,
              schedule="late-cosine", init_basis="dct", eval_every=10**6, ckpt_every=10**6)
    with pytest.raises(SemcomError, match="pca basis"):  # a hybrid starts from a pca basis (it needs variances)
        train(run, hybrid, log=lambda m: None)
    import shutil

    shutil.rmtree(tmp_path / "h", ignore_errors=True)
    from semcom.data import load_folder
    from semcom.jscc.softcast import fit_pca, save_basis

    save_basis(fit_pca([x for _, x in load_folder(photo_dir)], components=12, stride=4), tmp_path / "b.safetensors")
    run = TrainConfig(**{**run.to_dict(), "init_basis": str(tmp_path / "b.safetensors")})
    last = train(run, hybrid, log=lambda m: None)
    ckpt = read_checkpoint(last)
    assert 3.0 <= ckpt["cpu_seconds"] < 60 and 0 < ckpt["step"] < 10**6  # stopped by the budget, not the steps
    model, _ = load_jscc(last)
    assert type(model).__name__ == "HybridJSCC" and model.cfg == hybrid


def test_the_run_around_the_loop_changes_no_weight(photo_dir, tmp_path):
    """train(), with its checkpoints, log, validation and a Ctrl-C + resume, ends with exactly the weights of the
    plain loop it runs, written out here: the seeds, data, random draws, learning rates and steps."""
    from semcom.channels import build_channel
    from semcom.data import RandomCrops, split_train_val
    from semcom.jscc.models import JSCC
    from semcom.seeding import make_generator, seed_everything

    c = cfg(photo_dir, tmp_path / "run", 5, eval_every=2, ckpt_every=2)

    def crash(step, total, loss):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(c, TINY, log=lambda m: None, progress=crash)
    trained = read_checkpoint(train(c, TINY, log=lambda m: None))["state_dict"]

    seed_everything(c.seed)
    crops = RandomCrops.from_paths(split_train_val(c.data, c.val_count)[0], c.crop)
    model, channel, gen = JSCC(TINY), build_channel(c.channel), make_generator(c.seed * 1000)
    opt = torch.optim.Adam(model.parameters(), lr=c.lr)
    lo, hi = c.snr_range
    for step in range(c.steps):
        for group in opt.param_groups:
            group["lr"] = learning_rate(c, step)
        x = crops.sample(c.batch, gen)
        snr = lo + (hi - lo) * torch.rand(c.batch, generator=gen)
        cbr = [c.cbr[i] for i in torch.randint(len(c.cbr), (c.batch,), generator=gen).tolist()]
        loss = torch.nn.functional.mse_loss(model(x, snr, channel, cbr, gen)["x_hat"], x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    assert trained.keys() == model.state_dict().keys()
    assert all(torch.equal(trained[k], v) for k, v in model.state_dict().items())


def test_log_mse_loss_trains_and_is_validated(photo_dir, tmp_path):
    with pytest.raises(SemcomError, match="unknown loss"):
        cfg(photo_dir, tmp_path / "x", 2, loss="l1")
    last = train(cfg(photo_dir, tmp_path / "log", 120, lr=5e-3, loss="log-mse", log_every=5, eval_every=8), TINY,
                 log=lambda m: None)
    log = [json.loads(line) for line in (tmp_path / "log" / "train.jsonl").read_text().splitlines()]
    key = "psnr_cbr0.007812_snr15"
    val = [r[key] for r in log if key in r]
    assert read_checkpoint(last)["step"] == 120 and val[-1] > val[0] + 0.5
    assert all(0 < r["loss"] < 1 for r in log if "loss" in r)  # the logged loss is the MSE, not its logarithm


def test_resume_accepts_a_model_option_added_later_with_its_default(photo_dir, tmp_path):
    from semcom.jscc.hybrid import HybridConfig

    hybrid = HybridConfig(width=8, latent_channels=12)
    run = cfg(photo_dir, tmp_path / "h", 2, cbr=(12 / 1536,), init_basis="dct", eval_every=10**6)
    with pytest.raises(SemcomError, match="pca basis"):  # dct has no variances: refused before any file is written
        train(run, hybrid, log=lambda m: None)
    assert not (tmp_path / "h" / "last.pt").exists()
    run = TrainConfig(**{**run.to_dict(), "init_basis": None})
    last = train(run, hybrid, log=lambda m: None)
    ckpt = read_checkpoint(last)
    del ckpt["model_config"]["blocks"]  # as written before the option existed
    torch.save(ckpt, last)
    last = train(TrainConfig(**{**run.to_dict(), "steps": 4}), hybrid, log=lambda m: None)
    assert read_checkpoint(last)["step"] == 4
    with pytest.raises(SemcomError, match="different model config"):
        train(TrainConfig(**{**run.to_dict(), "steps": 6}), HybridConfig(width=8, latent_channels=12, blocks=1),
              log=lambda m: None)
