"""Training the offline ViTs: distillation, token-subset training, resume, CLI."""

import json

import pytest

from semcom.cli import main
from semcom.errors import SemcomError
from semcom.schemes.attention_ci.train import ViTTrainConfig, load_vit, train_vit
from semcom.training.checkpoint import read_checkpoint
from tests.conftest import shared_path


def test_server_vit_trains_on_token_subsets_and_resumes(tmp_path):
    root = shared_path("cifar10_resnets").parent
    cfg = dict(out=str(tmp_path / "run"), preset="client", data=str(root), limit=300, val_count=100, steps=3, batch=16,
               warmup=1, teacher_depth=20, min_keep=8, eval_every=3, log_every=3, ckpt_every=3)
    last = train_vit(ViTTrainConfig(**cfg), log=lambda m: None)
    assert read_checkpoint(last)["step"] == 3
    record = json.loads((tmp_path / "run" / "train.jsonl").read_text().splitlines()[-1])
    assert 0 <= record["val_acc"] <= 100 and 0 <= record["val_acc_half_patches"] <= 100
    train_vit(ViTTrainConfig(**{**cfg, "steps": 5}), log=lambda m: None)
    model, meta = load_vit(last)
    assert meta["step"] == 5 and meta["role"] == "client" and model.cfg.dim == 96
    with pytest.raises(SemcomError, match=r"other settings \(kd_weight: 0.7 -> 0.2\)"):
        train_vit(ViTTrainConfig(**{**cfg, "steps": 6, "kd_weight": 0.2}), log=lambda m: None)
    assert read_checkpoint(last)["step"] == 5


def test_warm_start_continues_a_vit_and_counts_its_steps(tmp_path, capsys):
    import pytest
    import torch

    from semcom.errors import SemcomError

    root = shared_path("cifar10_resnets").parent
    cfg = dict(preset="client", data=str(root), limit=200, val_count=50, steps=2, batch=8, warmup=1, teacher_depth=0,
               eval_every=2, log_every=2, ckpt_every=2)
    first = train_vit(ViTTrainConfig(out=str(tmp_path / "a"), **cfg), log=lambda m: None)
    start, _ = load_vit(first)
    second = train_vit(ViTTrainConfig(out=str(tmp_path / "b"), init_from=str(first), **{**cfg, "steps": 1, "lr": 0.0}),
                       log=lambda m: None)
    continued, meta = load_vit(second)
    assert all(torch.equal(a, b) for a, b in zip(start.state_dict().values(), continued.state_dict().values()))  # lr 0
    assert meta["step"] == 1 and meta["init"]["step"] == 2 and meta["init"]["cpu_hours"] > 0
    third = train_vit(ViTTrainConfig(out=str(tmp_path / "c"), init_from=str(second), **cfg), log=lambda m: None)
    assert read_checkpoint(third)["init"]["step"] == 3  # warm starts of warm starts add up
    with pytest.raises(SemcomError, match="another ViT"):
        train_vit(ViTTrainConfig(out=str(tmp_path / "d"), init_from=str(first), **{**cfg, "preset": "server"}),
                  log=lambda m: None)


def test_cli_train_vit_and_bad_input(tmp_path, capsys):
    root = shared_path("cifar10_resnets").parent
    assert main(["train", "vit", "--out", str(tmp_path / "r"), "--data", str(root), "--limit", "200", "--val-count",
                 "50", "--steps", "2", "--batch", "8", "--teacher-depth", "0", "--export", str(tmp_path / "v.pt")]) == 0
    assert load_vit(tmp_path / "v.pt")[0].cfg.depth == 4
    assert main(["train", "vit", "--preset", "huge", "--out", str(tmp_path / "x")]) == 2
    assert main(["train", "vit", "--min-keep", "99", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown ViT preset" in err and "min_keep" in err


def test_cli_eval_and_sweep_attention_ci_end_to_end(tmp_path, capsys):
    import torch

    from semcom.schemes.attention_ci import ViT, ViTConfig
    from semcom.training.checkpoint import atomic_save

    root = shared_path("cifar10_test_jpg").parent
    paths = {}
    for role, dim in (("client", 16), ("server", 24)):
        torch.manual_seed(dim)
        cfg = ViTConfig(dim=dim, depth=2, heads=2)
        model_config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()}
        paths[role] = tmp_path / f"{role}.pt"
        atomic_save({"model_config": model_config, "state_dict": ViT(cfg).state_dict(), "role": role}, paths[role])
    common = ["--client", str(paths["client"]), "--server", str(paths["server"]), "--data", str(root), "--limit", "20"]
    assert main(["eval", "attention-ci", "--policy", "topk", "--k", "16", "--gate", "margin", "--eta", "0.2",
                 "--snr", "0,10", *common, "--out", str(tmp_path / "ev")]) == 0
    rows = json.loads((tmp_path / "ev" / "results.json").read_text())["rows"]
    assert [r["snr_db"] for r in rows] == [0.0, 10.0] and all(0 <= r["accuracy"] <= 100 for r in rows)
    pj = tmp_path / "pj.pt"
    assert main(["train", "patch-jscc", "--out", str(pj), "--data", str(root), "--limit", "50", "--steps", "5"]) == 0
    assert main(["eval", "attention-ci", "--policy", "mass", "--delta", "0.8", "--eta", "0.1", "--snr", "5",
                 "--link", "analog", "--patch-jscc", str(pj), *common, "--out", str(tmp_path / "an")]) == 0
    analog = json.loads((tmp_path / "an" / "results.json").read_text())["rows"][0]
    assert analog["link"] == "analog" and analog["bits_per_image"] == 0 and analog["channel_uses_per_image"] > 0
    assert main(["sweep", "attention-ci", *common, "--out", str(tmp_path / "sw")]) == 0
    assert (tmp_path / "sw" / "pareto.png").is_file()
    for argv, message in ((["--policy", "mass", "--delta", "1.5"], "delta"), (["--policy", "topk", "--delta", "0.5"], "takes --k"),
                          (["--policy", "best"], "unknown patch policy"), (["--policy", "topk", "--k", "4", "--eta", "-1"], "eta"),
                          (["--policy", "topk", "--k", "4", "--gate", "vibes"], "unknown gate"),
                          (["--policy", "topk", "--k", "4", "--link", "smoke"], "unknown link")):
        assert main(["eval", "attention-ci", *argv, *common]) == 2
        assert message in capsys.readouterr().err


def test_guided_keep_is_the_clients_top_attended_patches():
    import torch

    from semcom.schemes.attention_ci import ViT, ViTConfig, patch_scores
    from semcom.schemes.attention_ci.train import guided_keep

    torch.manual_seed(0)
    client = ViT(ViTConfig(dim=16, depth=2, heads=2)).eval()
    x = torch.rand(3, 3, 32, 32)
    keep = guided_keep(client, x, 5, "rollout")
    scores = patch_scores(client(x, attentions=True)[1], "rollout", 1)
    assert keep.shape == (3, 5)
    for row, s in zip(keep, scores):
        assert s[row].min() >= s[[i for i in range(64) if i not in row.tolist()]].max()


def test_through_patch_link_changes_only_the_kept_patches():
    import torch

    from semcom.channels import build_channel
    from semcom.schemes.attention_ci.patch_jscc import PatchJSCC
    from semcom.schemes.attention_ci.train import through_patch_link
    from semcom.vit.grid import patchify

    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    keep = torch.tensor([[0, 5, 63], [7, 8, 9]])
    out = through_patch_link(PatchJSCC(), build_channel("awgn"), x, keep, 4, torch.tensor([5.0, 5.0]),
                             torch.Generator().manual_seed(0))
    before, after = patchify(x, 4), patchify(out, 4)
    for b in range(2):
        changed = {i for i in range(64) if not torch.equal(before[b, i], after[b, i])}
        assert changed == set(keep[b].tolist())


def test_server_trains_on_client_guided_and_noisy_subsets(tmp_path, capsys):
    import pytest

    from semcom.errors import SemcomError
    from semcom.schemes.attention_ci import ViT, ViTConfig
    from semcom.schemes.attention_ci.patch_jscc import PatchJSCC
    from semcom.training.checkpoint import atomic_save

    root = shared_path("cifar10_resnets").parent
    client_cfg = ViTConfig(dim=16, depth=2, heads=2)
    atomic_save({"model_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in client_cfg.__dict__.items()},
                 "state_dict": ViT(client_cfg).state_dict(), "role": "client"}, tmp_path / "client.pt")
    model = PatchJSCC()
    atomic_save({"model_config": model.cfg.__dict__, "state_dict": model.state_dict()}, tmp_path / "pj.pt")
    assert main(["train", "vit", "--out", str(tmp_path / "s"), "--data", str(root), "--limit", "200", "--val-count",
                 "50", "--steps", "3", "--batch", "8", "--teacher-depth", "0", "--min-keep", "8",
                 "--guide", str(tmp_path / "client.pt"), "--guide-prob", "1", "--patch-jscc", str(tmp_path / "pj.pt"),
                 "--noise-prob", "1", "--noise-snr", "0,15"]) == 0
    saved = read_checkpoint(tmp_path / "s" / "last.pt")
    assert saved["step"] == 3 and saved["train_config"]["guide"].endswith("client.pt")
    with pytest.raises(SemcomError, match="min_keep"):
        ViTTrainConfig(out="x", guide=str(tmp_path / "client.pt"))
    with pytest.raises(SemcomError, match="attention score"):
        ViTTrainConfig(out="x", min_keep=8, guide_score="vibes")
