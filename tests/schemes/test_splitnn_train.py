"""Training on the shared CIFAR-10 data: the quantiser's centres learn, runs resume, CLI train/eval end to end."""

import json

import pytest
import torch

from semcom.cli import main
from semcom.errors import SemcomError
from semcom.schemes.splitnn.train import SplitTrainConfig, train_splitnn
from semcom.training.checkpoint import read_checkpoint
from tests.conftest import shared_path


def tiny(tmp_path, **kw):
    root = shared_path("cifar10_resnets").parent
    args = dict(out=str(tmp_path / "run"), data=str(root), limit=400, val_count=100, stage1_steps=3, stage2_steps=3,
                batch=16, warmup=1, eval_every=6, log_every=3, ckpt_every=3)
    return SplitTrainConfig(**{**args, **kw})


def test_centres_move_and_training_resumes(tmp_path):
    from semcom.coding import LearnedScalarQuantizer

    initial = LearnedScalarQuantizer(3).centers.detach().clone()
    last = train_splitnn(tiny(tmp_path), log=lambda m: None)
    ckpt = read_checkpoint(last)
    assert ckpt["step"] == 6 and ckpt["cpu_seconds"] > 0
    centres = ckpt["state_dict"]["quantizer.centers"]
    assert not torch.allclose(centres, initial)  # the centres really learn (a seed bug was that they never did)
    log = [json.loads(line) for line in (tmp_path / "run" / "train.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in log if "loss" in r] == [1, 2] and "acc_snr0" in log[-1]
    train_splitnn(tiny(tmp_path, stage2_steps=6), log=lambda m: None)  # resume: 3 more steps
    assert read_checkpoint(last)["step"] == 9
    with pytest.raises(SemcomError, match=r"other settings \(snr_range: \[-6.0, 7.0\] -> \[0.0, 7.0\]\)"):
        train_splitnn(tiny(tmp_path, stage2_steps=7, snr_range=(0.0, 7.0)), log=lambda m: None)
    train_splitnn(tiny(tmp_path, stage2_steps=7, snr_range=(0.0, 7.0)), log=lambda m: None, resume_anyway=True)
    assert read_checkpoint(last)["step"] == 10


def test_cli_train_and_eval_splitnn_end_to_end(tmp_path, capsys):
    root = shared_path("cifar10_resnets").parent
    run, export = tmp_path / "run", tmp_path / "codec.pt"
    assert main(["train", "splitnn", "--variant", "deepcod-c8b3", "--out", str(run), "--data", str(root),
                 "--limit", "300", "--val-count", "100", "--stage1-steps", "2", "--stage2-steps", "2", "--batch", "8",
                 "--export", str(export)]) == 0
    assert main(["eval", "splitnn", "--checkpoint", str(export), "--data", str(root), "--limit", "50",
                 "--snr", "0,7", "--channel", "awgn,rayleigh", "--out", str(tmp_path / "res")]) == 0
    rows = json.loads((tmp_path / "res" / "results.json").read_text())["rows"]
    assert {(r["scheme"], r["channel"]) for r in rows} >= {("deepcod-c8b3", "awgn"), ("deepcod-c8b3", "rayleigh"),
                                                           ("uncompressed", "awgn")}
    assert all(0 <= r["accuracy"] <= 100 for r in rows)
    assert main(["eval", "splitnn", "--checkpoint", str(export), "--snr", "50"]) == 2
    assert main(["eval", "splitnn", "--checkpoint", str(export), "--channel", "wifi"]) == 2
    assert main(["train", "splitnn", "--variant", "nosuch", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown splitnn variant" in err and "unknown channel" in err and "Traceback" not in err


def test_efficientnet_variant_trains_on_photo_crops_against_its_own_predictions(tmp_path):
    import pytest

    pytest.importorskip("efficientnet_lite_pytorch")
    from semcom.data import save_image
    from semcom.schemes.splitnn.checkpoint import load_semanticnn

    photos = tmp_path / "photos"
    photos.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(6):  # the last 4 by name are held out for validation
        low = torch.rand(1, 3, 8, 10, generator=g)
        save_image(torch.nn.functional.interpolate(low, size=(240, 300), mode="bilinear")[0], photos / f"p{i}.png")
    cfg = SplitTrainConfig(out=str(tmp_path / "run"), variant="effnet-block2-c8b3-la", data=str(photos), limit=6, snr_range=(-6.0, 20.0),
                           val_count=4, stage1_steps=1, stage2_steps=1, batch=2, warmup=1, eval_every=2, log_every=1,
                           ckpt_every=2)
    last = train_splitnn(cfg, log=lambda m: None)
    ckpt = read_checkpoint(last)
    assert ckpt["split"] == {"model": "efficientnet-lite0", "split_at": "block2", "feature_shape": [24, 56, 56]}
    model, _ = load_semanticnn(last)  # rebuilds the EfficientNet split from the checkpoint's own metadata
    assert model.bits == 8 * 28 * 28 * 3 and model.split.split_at == "block2"
    log = [json.loads(line) for line in (tmp_path / "run" / "train.jsonl").read_text().splitlines()]
    assert "acc_snr0" in log[-1]


def test_stage2_adds_the_variants_weighted_feature_term_to_distillation_at_its_temperature(tmp_path):
    from types import SimpleNamespace

    from semcom.schemes.splitnn import losses
    from semcom.schemes.splitnn.train import stage_loss
    from semcom.schemes.splitnn.variants import get_variant
    from semcom.splitting.losses import distillation

    variant = get_variant("effnet-block2-c8b3-la")
    assert variant.kd_temperature == 1.0 and variant.feature_weight == 1.0
    g = torch.Generator().manual_seed(0)
    tail = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 3 * 3, 5))
    model = SimpleNamespace(split=SimpleNamespace(tail=tail), codec=SimpleNamespace(feature_std=torch.tensor([1.0, 2.0])))
    feats = torch.randn(4, 2, 3, 3, generator=g)
    out = {"features": feats, "features_hat": feats + 0.3 * torch.randn(4, 2, 3, 3, generator=g),
           "logits": torch.randn(4, 5, generator=g), "quantizer_loss": torch.tensor(0.25)}
    cfg = SplitTrainConfig(out=str(tmp_path), variant=variant.name, snr_range=(-6.0, 20.0))
    with torch.no_grad():
        teacher = tail(feats)
    expected = (distillation(out, teacher, 1.0) + losses.feature_mse(out, model.codec.feature_std) + 0.25)
    assert torch.allclose(stage_loss(model, cfg, 2, out, torch.zeros(4, dtype=torch.long)), expected)
    assert not torch.allclose(distillation(out, teacher, 1.0), distillation(out, teacher, 4.0))
    # stage 1 is feature MSE alone (plus the quantiser's fit), whatever the variant
    assert torch.allclose(stage_loss(model, cfg, 1, out, None), losses.feature_mse(out, model.codec.feature_std) + 0.25)


def test_variant_rejects_unknown_stage2_loss_and_bad_weights():
    import pytest

    from semcom.errors import SemcomError
    from semcom.schemes.splitnn.variants import Variant

    with pytest.raises(SemcomError, match="unknown stage-2 loss"):
        Variant("x", {"channels": 8, "bits": 3}, "mse")
    with pytest.raises(SemcomError, match="kd_temperature"):
        Variant("x", {"channels": 8, "bits": 3}, "kd", kd_temperature=0.0)
