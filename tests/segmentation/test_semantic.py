"""The CamVid semantic segmenter (GESCO's scorer): shapes at any size, the void class never predicted, frozen
ImageNet batch norms, training on a synthetic CamVid folder (loss falls, mIoU rises), exact resume, float16
export/load round trip, class weights, and one-line errors for bad input and wrong checkpoints."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from semcom.data.camvid import CAMVID
from semcom.errors import SemcomError
from semcom.segmentation.semantic import (
    SemanticSegmenter, SemanticSegmenterConfig, SegmenterTrainConfig, augment, class_weights, export_segmenter,
    load_segmenter, segmentation_scores, shipped_segmenter, train_segmenter,
)
from semcom.training.checkpoint import atomic_save

TINY = SemanticSegmenterConfig(encoder="unet", width=8, input_scale=1.0, image_height=24, image_width=32)


@pytest.fixture(scope="module")
def camvid_folder(tmp_path_factory):
    """A CamVid-shaped folder: train 6, val 2 pairs of 64x48 RGB images (each class its palette colour plus
    noise) and 8-bit maps of the 12 classes in 8-pixel blocks, some void."""
    root = tmp_path_factory.mktemp("camvid")
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("val", 2)):
        for kind in ("images", "labels"):
            (root / split / kind).mkdir(parents=True)
        for i in range(count):
            labels = np.kron(rng.integers(0, 12, (6, 8)), np.ones((8, 8))).astype(np.uint8)
            colour = np.array(CAMVID.palette)[labels] + rng.normal(0, 12, (48, 64, 3))
            Image.fromarray(colour.clip(0, 255).astype(np.uint8)).save(root / split / "images" / f"{i}.png")
            Image.fromarray(labels, mode="L").save(root / split / "labels" / f"{i}.png")
    return root


def run_config(out, data, **kw):
    return SegmenterTrainConfig(**{"out": str(out), "data": str(data), "steps": 4, "batch": 4, "warmup": 2,
                                   "log_every": 1, "eval_every": 100, "ckpt_every": 2, "val_count": 2,
                                   "scales": (1.0, 1.5), "threads": 1, "lr": 1e-2, **kw})


def test_shapes_at_any_size_and_void_never_predicted():
    torch.manual_seed(0)
    model = SemanticSegmenter(TINY)
    for size in ((24, 32), (21, 35), (48, 64)):
        x = torch.rand(2, 3, *size)
        assert model(x).shape == (2, 12, *size)
        labels = model.predict(x)
        assert labels.shape == (2, *size) and labels.dtype == torch.int64
    with torch.no_grad():
        model.decoder.classifier.bias[11] = 1e4  # void would win every pixel: predict still never returns it
    labels = model.predict(torch.rand(3, 3, 24, 32), batch=2)
    assert labels.max() < 11 and model.training  # predict restores the mode


def test_lite0_encoder_is_pretrained_with_frozen_batch_norms():
    torch.manual_seed(0)
    cfg = SemanticSegmenterConfig(width=8)
    model = SemanticSegmenter(cfg)
    assert model(torch.rand(1, 3, 48, 64)).shape == (1, 12, 48, 64)
    bn = model.encoder.stem[1]
    before = bn.running_mean.clone()
    model.train()
    assert not bn.training and model.decoder.top[1].training
    model(torch.rand(2, 3, 48, 64))
    assert torch.equal(bn.running_mean, before)  # ImageNet statistics kept
    from semcom.splitting import load_efficientnet_lite0

    lite = load_efficientnet_lite0()
    assert torch.equal(model.encoder.blocks[15].block._project_conv.weight, lite.blocks[15].block._project_conv.weight)
    groups = model.param_groups(0.1)
    assert [g["lr_scale"] for g in groups] == [0.1, 1.0]
    assert sum(p.numel() for g in groups for p in g["params"]) == sum(p.numel() for p in model.parameters())


def test_training_lowers_the_loss_and_raises_val_miou(camvid_folder, tmp_path):
    cfg = run_config(tmp_path / "run", camvid_folder, steps=100, eval_every=100, ckpt_every=100, log_every=20,
                     class_balance="sqrt-inverse")
    last = train_segmenter(cfg, TINY, log=lambda m: None)
    lines = [json.loads(line) for line in (tmp_path / "run" / "train.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [20, 40, 60, 80, 100] and all(r["cpu_hours"] > 0 for r in lines)
    assert lines[-1]["loss"] < 0.6 * lines[0]["loss"]  # smoothed losses
    model, meta = load_segmenter(last, num_classes=12)
    assert meta["step"] == 100 and meta["kind"] == "semantic-segmenter" and model.cfg == TINY and not model.training
    from semcom.data.camvid import load_camvid

    val = load_camvid("val", camvid_folder, size=(24, 32))
    trained = segmentation_scores(model, val.images, val.labels)
    fresh = segmentation_scores(SemanticSegmenter(TINY), val.images, val.labels)
    assert trained["miou"] > fresh["miou"] + 0.3 and lines[-1]["val_miou"] == pytest.approx(trained["miou"])
    assert len(trained["class_iou"]) == 12 and np.isnan(trained["class_iou"][11])


def test_resume_continues_exactly(camvid_folder, tmp_path):
    whole = train_segmenter(run_config(tmp_path / "whole", camvid_folder, steps=6), TINY, log=lambda m: None)

    def interrupt(step, steps, loss):  # Ctrl-C during step 5: the last checkpoint is step 4's
        if step == 5:
            raise KeyboardInterrupt

    messages = []
    with pytest.raises(KeyboardInterrupt):
        train_segmenter(run_config(tmp_path / "parts", camvid_folder, steps=6), TINY, log=messages.append,
                        progress=interrupt)
    parts = train_segmenter(run_config(tmp_path / "parts", camvid_folder, steps=6), TINY, log=messages.append)
    assert any("resumed" in m and "step 4" in m for m in messages)
    a, b = load_segmenter(whole)[0].state_dict(), load_segmenter(parts)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(SemcomError, match="other settings"):
        train_segmenter(run_config(tmp_path / "parts", camvid_folder, steps=8, jitter=0.0), TINY, log=messages.append)
    with pytest.raises(SemcomError, match="different model config"):
        train_segmenter(run_config(tmp_path / "parts", camvid_folder, steps=8),
                        SemanticSegmenterConfig(**{**TINY.to_dict(), "width": 16}), log=messages.append)


def test_export_and_load_round_trip(camvid_folder, tmp_path):
    last = train_segmenter(run_config(tmp_path / "run", camvid_folder, steps=2), TINY, log=lambda m: None)
    exported = export_segmenter(last, tmp_path / "segmenter.pt")
    assert exported.stat().st_size < last.stat().st_size / 2
    model, meta = load_segmenter(exported)
    run_model, _ = load_segmenter(last)
    assert meta["step"] == 2 and "optimizer" not in meta and meta["model_config"] == TINY.to_dict()
    assert all(v.dtype in (torch.float16, torch.int64) for v in torch.load(exported, weights_only=True)["state_dict"].values())
    x = torch.rand(2, 3, 24, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (F.softmax(model(x), 1) - F.softmax(run_model(x), 1)).abs().max() < 1e-2  # float16 weights
    assert shipped_segmenter() is None or load_segmenter(shipped_segmenter(), num_classes=12)[0].cfg.num_classes == 12


def test_class_weights():
    labels = torch.tensor([[0, 0, 0, 0, 1, 11, 11, 11]])
    w = class_weights(labels, 12, 11, "sqrt-inverse")
    # frequencies 0.8, 0.2 -> 1/sqrt: 1.118, 2.236 -> mean-1 over present classes: 2/3, 4/3
    assert w[0].item() == pytest.approx(2 / 3) and w[1].item() == pytest.approx(4 / 3) and w[11] == w[1]
    assert class_weights(labels, 12, 11, "none") is None


def test_augment_is_reproducible_bounded_and_off_at_zero():
    x = torch.rand(6, 3, 24, 32, generator=torch.Generator().manual_seed(0))
    original = x.clone()
    assert torch.equal(augment(x, torch.Generator().manual_seed(1)), x)
    a = augment(x, torch.Generator().manual_seed(1), jitter=0.2, noise_sigma=0.1, blur=0.5)
    b = augment(x, torch.Generator().manual_seed(1), jitter=0.2, noise_sigma=0.1, blur=0.5)
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1 and not torch.equal(a, x)
    blurred = augment(x, torch.Generator().manual_seed(1), blur=1.0)  # smoother: smaller neighbour differences
    assert (blurred.diff(dim=-1).abs().mean() < 0.6 * x.diff(dim=-1).abs().mean()) and torch.equal(x, original)


def test_bad_input_is_a_one_line_error(camvid_folder, tmp_path):
    model = SemanticSegmenter(TINY)
    last = train_segmenter(run_config(tmp_path / "run", camvid_folder, steps=1), TINY, log=lambda m: None)
    state = torch.load(last, weights_only=True)
    atomic_save({**state, "model_config": {**TINY.to_dict(), "width": 4}}, tmp_path / "wrong-arch.pt")
    atomic_save({**state, "kind": "gesco-diffusion"}, tmp_path / "diffusion.pt")
    atomic_save({"model_config": {"widths": [8, 8]}, "state_dict": {}}, tmp_path / "jscc.pt")
    cases = [
        (lambda: model(torch.zeros(1, 3, 24, 32, dtype=torch.uint8)), "float"),
        (lambda: model(torch.rand(1, 1, 24, 32)), r"\[B, 3, H, W\]"),
        (lambda: model(torch.rand(1, 3, 24, 32) + 1), r"\[0, 1\]"),
        (lambda: model(torch.full((1, 3, 24, 32), float("nan"))), "NaN"),
        (lambda: model.predict(torch.rand(1, 3, 8, 8)), "at least 16x16"),
        (lambda: SemanticSegmenterConfig(encoder="resnet"), "unknown segmenter encoder"),
        (lambda: SemanticSegmenterConfig(ignore_index=12), "ignore_index 12"),
        (lambda: SegmenterTrainConfig(out="x", scales=(0.5,)), "scales"),
        (lambda: SegmenterTrainConfig(out="x", class_balance="median"), "class_balance"),
        (lambda: SegmenterTrainConfig(out="x", noise_sigma=-0.1), "noise_sigma"),
        (lambda: load_segmenter(tmp_path / "jscc.pt"), "not a semantic segmenter checkpoint"),
        (lambda: load_segmenter(tmp_path / "diffusion.pt"), "gesco-diffusion"),
        (lambda: load_segmenter(tmp_path / "wrong-arch.pt"), "another architecture"),
        (lambda: load_segmenter(last, num_classes=35), "for 12 classes, not 35"),
        (lambda: load_segmenter(tmp_path / "missing.pt"), "not found"),
        (lambda: export_segmenter(tmp_path / "jscc.pt", tmp_path / "out.pt"), "not a semantic segmenter"),
        (lambda: train_segmenter(SegmenterTrainConfig(out=str(tmp_path / "new")),
                                 SemanticSegmenterConfig(num_classes=35)), "12 classes"),
    ]
    for call, message in cases:
        with pytest.raises(SemcomError, match=message) as info:
            call()
        assert "\n" not in str(info.value)
    assert not (tmp_path / "new").exists() and not (tmp_path / "out.pt").exists()
