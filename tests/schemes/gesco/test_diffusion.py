"""GESCO's generative receiver: the SPADE UNet, guidance, DDIM sampling, training, checkpoints, bad input."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from semcom.data.camvid import CAMVID
from semcom.errors import SemcomError
from semcom.schemes.gesco.diffusion import CONFIGS, DiffusionConfig, SemanticDiffusion, diffusion_config, label_probs
from semcom.schemes.gesco.train_diffusion import (
    BlobNoise,
    DiffusionTrainConfig,
    export_diffusion,
    load_diffusion,
    train_diffusion,
)
from semcom.training.checkpoint import atomic_save

TINY = DiffusionConfig(classes=3, height=16, width=16, base=8, mults=(1, 2), attention=(2,), head_channels=8,
                       spade_hidden=8, groups=4, sample_steps=4)


def tiny_model(seed=0, cfg=TINY, jitter=True):
    """A tiny model; ``jitter``: every weight perturbed, so the zero-initialised output convs pass the map through."""
    torch.manual_seed(seed)
    model = SemanticDiffusion(cfg)
    if jitter:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def maps(seed, batch=2, cfg=TINY):
    g = torch.Generator().manual_seed(seed)
    return label_probs(torch.randint(cfg.classes, (batch, cfg.height, cfg.width), generator=g), cfg.classes)


def test_forward_shapes_and_named_configs():
    model = tiny_model()
    x = torch.randn(2, 3, 16, 16)
    assert model(x, torch.tensor([0, 999]), maps(0)).shape == (2, 3, 16, 16)
    assert model(x, 500, None).shape == (2, 3, 16, 16)  # scalar timestep, null map
    odd = DiffusionConfig(**{**TINY.to_dict(), "height": 18, "width": 22, "mults": (1, 2, 2)})
    assert SemanticDiffusion(odd)(torch.randn(1, 3, 18, 22), 3, maps(1, 1, odd)).shape == (1, 3, 18, 22)
    assert DiffusionConfig.from_dict(json.loads(json.dumps(TINY.to_dict()))) == TINY
    paper = {name: (c.map_channels, c.height, c.width, c.guidance) for name, c in CONFIGS.items()}
    assert paper["cityscapes"] == (36, 256, 512, 2.0) and paper["ade20k"] == (151, 256, 256, 2.5)
    assert paper["coco-stuff"] == (184, 256, 256, 2.5) and paper["camvid-cpu"][:3] == (12, 48, 64)


def test_spade_uses_the_map_and_only_the_decoder_sees_it():
    model = tiny_model()
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([100, 700])
    with torch.no_grad():
        a, b = model(x, t, maps(0)), model(x, t, maps(1))
        soft = model(x, t, 0.5 * maps(0) + 0.5 * maps(1))
    assert (a - b).abs().max() > 1e-3 and (soft - a).abs().max() > 1e-4
    seen = []
    for name, module in model.named_modules():
        if type(module).__name__ == "Spade":
            seen.append(name.split(".")[0])
    assert set(seen) == {"middle", "up"}


def test_guidance_zero_is_unconditional_one_is_conditional_and_linear_between():
    model = tiny_model()
    x, t, p = torch.randn(2, 3, 16, 16), torch.tensor([300, 300]), maps(2)
    with torch.no_grad():
        cond, uncond = model(x, t, p), model(x, t, None)
        assert torch.allclose(model.guided_eps(x, t, p, 0.0), uncond, atol=1e-6)
        assert torch.allclose(model.guided_eps(x, t, p, 1.0), cond, atol=1e-6)
        assert torch.allclose(model.guided_eps(x, t, p, 2.5), uncond + 2.5 * (cond - uncond), atol=1e-5)
        assert torch.allclose(uncond, model(x, t, torch.zeros_like(p)), atol=1e-6)  # the null map is all zeros


def count_evaluations(model):
    images = []
    model.register_forward_hook(lambda module, inputs, output: images.append(inputs[0].shape[0]))
    return images


@pytest.mark.parametrize("guidance,per_step", [(1.0, 1), (2.0, 2), (0.0, 1)])
def test_ddim_sampling_is_reproducible_and_costs_steps_evaluations(guidance, per_step):
    model = tiny_model()
    calls = count_evaluations(model)
    p = maps(3)
    a = model.sample(p, steps=3, guidance=guidance, generator=torch.Generator().manual_seed(7))
    assert len(calls) == 3 and sum(calls) == 3 * per_step * 2  # one UNet call per step; guided: doubled batch
    b = model.sample(p, steps=3, guidance=guidance, generator=torch.Generator().manual_seed(7))
    c = model.sample(p, steps=3, guidance=guidance, generator=torch.Generator().manual_seed(8))
    assert a.shape == (2, 3, 16, 16) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    stochastic = [model.sample(p, steps=2, eta=1.0, generator=torch.Generator().manual_seed(9)) for _ in range(2)]
    assert torch.equal(*stochastic)
    assert model.ddim_scheduler(4).timesteps.tolist() == [999, 749, 499, 249]


def colour_world(n, seed):
    """Toy data: each pixel's colour is its class colour, classes in a few rectangles (a learnable dependence)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.zeros(n, 16, 16, dtype=torch.long)
    for i in range(n):
        top, left = torch.randint(0, 8, (2,), generator=g).tolist()
        labels[i, top:top + 8, left:left + 8] = 1 + i % 2
    colours = torch.tensor([[0.1, 0.2, 0.9], [0.9, 0.1, 0.1], [0.2, 0.9, 0.2]])
    return colours[labels].permute(0, 3, 1, 2), label_probs(labels, 3)


def test_a_few_training_steps_lower_the_loss():
    model = tiny_model(jitter=False).train()
    x, p = colour_world(8, 0)

    def fixed_loss():
        with torch.no_grad():
            return model.loss(x, p, torch.Generator().manual_seed(123))["loss"].item()

    before = fixed_loss()
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(30):
        loss = model.loss(x, p, g, p_drop=0.2)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert fixed_loss() < 0.6 * before


def test_blob_noise_corrupts_reproducibly_and_vanishes_at_strength_zero():
    labels = torch.randint(12, (3, 24, 32), generator=torch.Generator().manual_seed(0))
    noisy = BlobNoise(12, max_fraction=0.9, max_sigma=0.5)
    a, b = (noisy(labels, torch.Generator().manual_seed(1)) for _ in range(2))
    assert a.shape == (3, 12, 24, 32) and torch.equal(a, b) and a.min() >= 0
    assert torch.allclose(a.sum(1), torch.ones(3, 24, 32), atol=1e-5)
    assert (a.argmax(1) != labels).float().mean() > 0.05
    clean = BlobNoise(12, max_fraction=0.0, max_sigma=0.0)(labels, torch.Generator().manual_seed(1))
    assert torch.equal(clean, label_probs(labels, 12))


@pytest.fixture(scope="module")
def camvid_folder(tmp_path_factory):
    """A CamVid-shaped folder (train 4, val 2 pairs of 32x24 RGB + 8-bit class maps with the 12 classes)."""
    root = tmp_path_factory.mktemp("camvid")
    rng = np.random.default_rng(0)
    for split, count in (("train", 4), ("val", 2)):
        for kind in ("images", "labels"):
            (root / split / kind).mkdir(parents=True)
        for i in range(count):
            labels = np.zeros((24, 32), np.uint8)
            labels[:12] = i % 12
            labels[12:, rng.integers(0, 16):] = 3
            labels[0, 0] = 11
            colour = (np.array(CAMVID.palette)[labels]).astype(np.uint8)
            Image.fromarray(colour).save(root / split / "images" / f"{i}.png")
            Image.fromarray(labels, mode="L").save(root / split / "labels" / f"{i}.png")
    return root


CAMVID_TINY = DiffusionConfig(**{**TINY.to_dict(), "classes": 12})


def test_training_run_resumes_logs_and_round_trips_through_the_exported_checkpoint(camvid_folder, tmp_path):
    out = tmp_path / "run"
    cfg = {"out": str(out), "data": str(camvid_folder), "steps": 2, "batch": 2, "val_count": 2, "log_every": 1,
           "eval_every": 2, "ckpt_every": 1, "warmup": 1, "p_noisy": 0.5}
    messages = []
    last = train_diffusion(DiffusionTrainConfig(**cfg), CAMVID_TINY, log=messages.append)
    train_diffusion(DiffusionTrainConfig(**{**cfg, "steps": 3}), CAMVID_TINY, log=messages.append,
                    resume_anyway=True)
    assert any("resumed" in m and "step 2" in m for m in messages)
    lines = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3] and all(r["cpu_hours"] > 0 for r in lines)
    assert "val_loss" in lines[1] and "val_loss_null" in lines[1] and 0 <= lines[0]["noisy_share"] <= 1

    run_model, meta = load_diffusion(last, classes=12)
    assert meta["step"] == 3 and meta["kind"] == "gesco-diffusion" and run_model.cfg == CAMVID_TINY
    exported = export_diffusion(last, tmp_path / "gesco.pt")
    assert exported.stat().st_size < last.stat().st_size / 2
    model, meta = load_diffusion(exported)
    assert meta["step"] == 3 and "optimizer" not in meta
    p = label_probs(torch.randint(12, (1, 16, 16)), 12)
    a = model.sample(p, steps=2, generator=torch.Generator().manual_seed(0))
    b = run_model.sample(p, steps=2, generator=torch.Generator().manual_seed(0))
    assert (a - b).abs().max() < 1e-2  # float16 weights
    with pytest.raises(SemcomError, match="for 12 classes, not 35"):
        load_diffusion(exported, classes=35)
    tuned, _ = load_diffusion(export_diffusion(last, tmp_path / "tuned.pt", guidance=2.0, sample_steps=25))
    assert (tuned.cfg.guidance, tuned.cfg.sample_steps) == (2.0, 25) and model.cfg.guidance == CAMVID_TINY.guidance
    with pytest.raises(SemcomError, match="guidance scale must be >= 0"):
        export_diffusion(last, tmp_path / "bad.pt", guidance=-1.0)
    assert not (tmp_path / "bad.pt").exists()


def test_bad_input_is_a_one_line_error(tmp_path):
    model = tiny_model(jitter=False)
    p = maps(0, 1)
    atomic_save({"model_config": {"widths": [8, 8, 8]}, "state_dict": {}}, tmp_path / "jscc.pt")
    cases = [
        (lambda: model.sample(p, guidance=-0.5), "guidance scale must be >= 0"),
        (lambda: model.sample(p, guidance=float("nan")), "guidance scale must be >= 0"),
        (lambda: model.sample(p, steps=0), "sampling steps"),
        (lambda: model.sample(p, steps=-3), "sampling steps"),
        (lambda: model.sample(p, steps=1001), "sampling steps"),
        (lambda: model.sample(label_probs(torch.zeros(1, 16, 16, dtype=torch.long), 4)), "4 class channels"),
        (lambda: model(torch.randn(1, 3, 16, 16), 5, maps(0, 1, DiffusionConfig(**{**TINY.to_dict(), "height": 8}))),
         "map size 8x16 differs"),
        (lambda: model(torch.randn(1, 3, 8, 8), 5, None), "makes 16x16 images"),
        (lambda: model.sample(torch.zeros(1, 3, 16, 16, dtype=torch.long)), "float class probabilities"),
        (lambda: label_probs(torch.tensor([[0, 3]]), 3), r"0\.\.2"),
        (lambda: model.loss(torch.rand(1, 3, 16, 16), p, p_drop=1.5), "p_drop"),
        (lambda: diffusion_config("mnist"), "unknown diffusion config"),
        (lambda: diffusion_config("camvid-cpu", widths=3), "no field 'widths'"),
        (lambda: load_diffusion(tmp_path / "jscc.pt"), "not a GESCO diffusion checkpoint"),
        (lambda: train_diffusion(DiffusionTrainConfig(out=str(tmp_path / "run")), TINY), "12 classes"),
        (lambda: DiffusionConfig(**{**TINY.to_dict(), "attention": (3,)}), "attention factors"),
        (lambda: DiffusionTrainConfig(out="x", p_noisy=2.0), "p_noisy"),
    ]
    for call, message in cases:
        with pytest.raises(SemcomError, match=message) as info:
            call()
        assert "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()
