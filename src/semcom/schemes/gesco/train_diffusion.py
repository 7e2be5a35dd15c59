"""Training GESCO's generative receiver (``diffusion.SemanticDiffusion``) on CamVid, on ``semcom.training.Run``.

One loop, top to bottom: CamVid train pairs resized to ``zoom`` x the model's size -> random crops at the model's
size with random flips (``semcom.data.camvid.LabelCrops``) -> each map, with probability ``p_noisy``, replaced by a
corrupted one (``corruption(labels, generator) -> probabilities``; default ``BlobNoise``: random class flips in
blobs plus Gaussian noise on the one-hot map, so the receiver learns to draw sensible images from damaged maps) ->
DDPM loss with label dropout ``p_drop`` (classifier-free guidance) -> Adam, gradient clipping, an exponential moving
average of the weights (``ema``; sampling uses it). Validation: the EMA model's noise-prediction MSE on the first
``val_count`` CamVid val pairs at fixed timesteps and noise, with their maps and with the null map (the gap is what
the map tells the model). Only the train split is trained on.

The run folder is a ``Run``'s (``config.json``, ``train.jsonl`` with CPU- and wall-hours, ``last.pt``; resume,
CPU budget). ``export_diffusion`` writes the shippable file (EMA weights in float16 plus the configs and the
training clock; ``load_diffusion`` reads it, or a run's ``last.pt``, with the project's safe loading).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from semcom.data.camvid import CAMVID, LabelCrops, load_camvid, one_hot
from semcom.errors import SemcomError
from semcom.schemes.gesco.diffusion import CONFIGS, DiffusionConfig, SemanticDiffusion
from semcom.seeding import make_generator
from semcom.training.checkpoint import atomic_save, half_state, read_checkpoint
from semcom.training.loop import cosine_lr
from semcom.training.run import Run, RunConfig

Corruption = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
"""A map corruption: (labels [B, H, W] int64, generator) -> class probabilities [B, C, H, W] float32."""


@dataclass(frozen=True, kw_only=True)
class DiffusionTrainConfig(RunConfig):
    """The run settings (``RunConfig``: out, lr, lr_min, warmup, eval/log/ckpt_every, seed, threads, cpu_budget_s;
    with a CPU budget the learning rate follows the fraction of it spent instead of the steps) and these.

    ``data``: the CamVid folder (None: the shared one); ``limit``: use only the first train pairs (tests);
    ``zoom``: the train images are resized to this times the model's size before cropping; ``p_drop``: label
    dropout; ``p_noisy``: probability that a map is corrupted; ``blob_fraction``, ``blob_cell``, ``noise_sigma``:
    the default corruption's settings (see ``BlobNoise``); ``ema``: weight decay of the moving average; ``clip``:
    gradient-norm clipping (0: none)."""

    data: str | None = None
    steps: int = 40000
    batch: int = 8
    lr: float = 2e-4
    lr_min: float = 2e-5
    warmup: int = 500
    eval_every: int = 1000
    log_every: int = 100
    ckpt_every: int = 500
    zoom: float = 1.125
    p_drop: float = 0.2
    p_noisy: float = 0.3
    blob_fraction: float = 0.3
    blob_cell: int = 8
    noise_sigma: float = 0.6
    ema: float = 0.999
    clip: float = 1.0
    val_count: int = 16
    limit: int | None = None
    device: str = "cpu"

    def __post_init__(self):
        super().__post_init__()
        if self.steps < 1 or self.batch < 1:
            raise SemcomError("steps and batch must be >= 1")
        if not 1 <= self.zoom <= 4:
            raise SemcomError(f"zoom must be in [1, 4], got {self.zoom}")
        for name in ("p_drop", "p_noisy", "blob_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise SemcomError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.blob_cell < 1 or self.noise_sigma < 0 or self.clip < 0 or not 0 <= self.ema < 1:
            raise SemcomError("blob_cell must be >= 1, noise_sigma and clip >= 0, ema in [0, 1)")
        if self.val_count < 0 or (self.limit is not None and self.limit < 1):
            raise SemcomError("val_count must be >= 0 and limit >= 1")


class BlobNoise:
    """The default map corruption: with per-example random strength, a fraction of the pixels (up to
    ``max_fraction``, in smooth blobs about ``cell`` pixels across) gets random classes, then Gaussian noise of
    standard deviation up to ``max_sigma`` is added to the one-hot map, negative values are clipped and every
    pixel renormalised to a probability vector (uniform where nothing is left). Strength 0 returns the clean one-hot
    map. ``__call__(labels [B, H, W] int64, generator)`` -> [B, classes, H, W] float32 (on ``labels``' device)."""

    def __init__(self, classes: int, max_fraction: float = 0.3, cell: int = 8, max_sigma: float = 0.6):
        self.classes, self.max_fraction, self.cell, self.max_sigma = classes, max_fraction, cell, max_sigma

    def __call__(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        device, labels = labels.device, labels.cpu()
        b, h, w = labels.shape
        gh, gw = math.ceil(h / self.cell) + 1, math.ceil(w / self.cell) + 1
        field = F.interpolate(torch.rand(b, 1, gh, gw, generator=generator), size=(h, w), mode="bilinear",
                              align_corners=False).flatten(1)
        fraction = self.max_fraction * torch.rand(b, generator=generator)
        index = (fraction * (h * w)).long().clamp(max=h * w - 1)
        threshold = field.sort(dim=1).values.gather(1, index[:, None])
        blobs = ((field < threshold) & (fraction[:, None] > 0)).view(b, h, w)
        new = F.interpolate(torch.randint(self.classes, (b, 1, gh, gw), generator=generator).float(), size=(h, w),
                            mode="nearest")[:, 0].long()
        probs = one_hot(torch.where(blobs, new, labels), self.classes)
        sigma = self.max_sigma * torch.rand(b, 1, 1, 1, generator=generator)
        probs = (probs + sigma * torch.randn(probs.shape, generator=generator)).clamp_min(0)
        total = probs.sum(1, keepdim=True)
        probs = torch.where(total > 0, probs / total.clamp_min(1e-12), torch.full_like(probs, 1 / self.classes))
        return probs.to(device)


class EmaPair(nn.Module):
    """The trained model and its exponential moving average (what a run saves: keys ``model.*`` and ``ema.*``)."""

    def __init__(self, model: SemanticDiffusion, decay: float):
        super().__init__()
        self.model, self.decay = model, decay
        self.ema = copy.deepcopy(model).requires_grad_(False)

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(list(self.ema.parameters()), list(self.model.parameters()), 1 - self.decay)


def learning_rate(cfg: DiffusionTrainConfig, step: int, cpu_seconds: float = 0.0) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``lr_min`` over the steps, or, with a CPU budget, over the
    fraction of the budget spent."""
    if cfg.cpu_budget_s > 0:
        total = 100_000
        step = min(total, max(min(step, cfg.warmup), round(total * cpu_seconds / cfg.cpu_budget_s)))
        return cosine_lr(step, total, cfg.lr, cfg.lr_min, cfg.warmup)
    return cosine_lr(step, cfg.steps, cfg.lr, cfg.lr_min, cfg.warmup)


def conditioning(labels: torch.Tensor, classes: int, p_noisy: float, corruption: Corruption,
                 generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """The maps a batch is trained on: one-hot ``labels`` [B, H, W], each replaced with probability ``p_noisy`` by
    ``corruption``'s; returns (probabilities [B, C, H, W], how many were corrupted)."""
    probs = one_hot(labels, classes)
    noisy = torch.rand(labels.shape[0], generator=generator) < p_noisy
    if noisy.any():
        corrupted = corruption(labels[noisy], generator)
        if corrupted.shape != (int(noisy.sum()), classes, *labels.shape[-2:]):
            raise SemcomError(f"the map corruption returned shape {tuple(corrupted.shape)}, expected "
                              f"{(int(noisy.sum()), classes, *labels.shape[-2:])}")
        probs[noisy] = corrupted.to(probs.dtype)
    return probs, int(noisy.sum())


@torch.no_grad()
def validate(model: SemanticDiffusion, x: torch.Tensor, probs: torch.Tensor) -> dict:
    """Noise-prediction MSE of ``model`` on ``x`` [N, 3, H, W] with its maps and with the null map, at fixed
    timesteps and noise (the same draws at every validation)."""
    model.eval()
    g = make_generator(1234)
    n = x.shape[0]
    t = torch.linspace(20, model.cfg.train_steps - 20, n).round().long()
    noise = torch.randn(x.shape, generator=g)
    t, noise = t.to(x.device), noise.to(x.device)
    x_t = model.scheduler.add_noise(x * 2 - 1, noise, t)
    cond = F.mse_loss(model(x_t, t, probs), noise).item()
    null = F.mse_loss(model(x_t, t, None), noise).item()
    model.train()
    return {"val_loss": cond, "val_loss_null": null}


def train_diffusion(cfg: DiffusionTrainConfig, model_cfg: DiffusionConfig = CONFIGS["camvid-cpu"],
                    corruption: Corruption | None = None, log=print, progress=None,
                    resume_anyway: bool = False) -> Path:
    """Train (or resume) the semantic diffusion model on CamVid train; returns the path of the last checkpoint.

    ``corruption``: the map corruption applied with probability ``cfg.p_noisy`` (default ``BlobNoise`` with the
    config's settings; a transmitter's received maps can be plugged in here). Resuming with other training settings
    than the checkpoint's is a SemcomError unless ``resume_anyway``; another model config always is."""
    if model_cfg.classes != CAMVID.num_classes or model_cfg.edge:
        raise SemcomError(f"CamVid maps have {CAMVID.num_classes} classes and no instance edges; the model config "
                          f"has {model_cfg.map_channels} map channels")
    run = Run(cfg, log, resume_anyway, smoothing=0.98, device=cfg.device)
    h, w = model_cfg.height, model_cfg.width
    size = (math.ceil(h * cfg.zoom), math.ceil(w * cfg.zoom))
    train = load_camvid("train", cfg.data, size=size, limit=cfg.limit)
    crops = LabelCrops(train.labels, train.images, (h, w))
    val = load_camvid("val", cfg.data, size=(h, w), limit=cfg.val_count) if cfg.val_count else None
    log(f"CamVid train: {len(train)} pairs at {size[1]}x{size[0]}, crops {w}x{h}"
        + (f"; val: {len(val)} pairs" if val else ""))
    corruption = corruption or BlobNoise(model_cfg.classes, cfg.blob_fraction, cfg.blob_cell, cfg.noise_sigma)

    pair = EmaPair(SemanticDiffusion(model_cfg), cfg.ema).to(run.device)
    opt = torch.optim.Adam(pair.model.parameters(), lr=cfg.lr)
    gen = make_generator(cfg.seed * 1000 + run.rank)
    run.start(pair, opt, gen, model_cfg.to_dict(),
              meta={"kind": "gesco-diffusion", "corruption": getattr(corruption, "__name__", type(corruption).__name__)})
    net = run.parallel(pair.model)
    if val is not None:
        val_x = val.images.to(run.device)
        val_probs = one_hot(val.labels, model_cfg.classes).to(run.device)

    pair.model.train()
    counts = {"maps": 0, "noisy": 0, "dropped": 0}

    def shares() -> dict:  # what fraction of the maps since the last log line were corrupted or dropped
        line = {"noisy_share": counts["noisy"] / max(1, counts["maps"]),
                "dropped_share": counts["dropped"] / max(1, counts["maps"])}
        counts.update(maps=0, noisy=0, dropped=0)
        return line

    while not run.finished:
        run.set_lr(learning_rate(cfg, run.step, run.clock.cpu_seconds))
        x, labels = crops.sample(cfg.batch, gen)
        probs, noisy = conditioning(labels, model_cfg.classes, cfg.p_noisy, corruption, gen)
        x_t, t, cond, noise = pair.model.training_inputs(x.to(run.device), probs.to(run.device), gen, cfg.p_drop)
        loss = F.mse_loss(net(x_t, t, cond), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(pair.model.parameters(), cfg.clip)
        opt.step()
        pair.update()
        counts["maps"] += cfg.batch
        counts["noisy"] += noisy
        counts["dropped"] += int((cond.flatten(1).sum(1) == 0).sum())
        run.after_step(loss.item(), progress, record=shares,
                       validate=(lambda: validate(pair.ema, val_x, val_probs)) if val is not None else None)
    return run.end()


def _weights(ckpt: dict) -> dict:
    """The model weights of a checkpoint: a run's EMA weights (``ema.*``), else its plain state dict."""
    state = ckpt["state_dict"]
    if any(k.startswith("ema.") for k in state):
        return {k[len("ema."):]: v for k, v in state.items() if k.startswith("ema.")}
    return dict(state)


def load_diffusion(path: str | Path, classes: int | None = None,
                   device: str | torch.device = "cpu") -> tuple[SemanticDiffusion, dict]:
    """Rebuild the diffusion model from a checkpoint (an exported file, or a run's ``last.pt``: its EMA weights),
    read safely (``weights_only``); returns (model in eval mode on ``device``, metadata). ``classes``: the class
    count the caller's maps have; a checkpoint for another count is a SemcomError."""
    ckpt = read_checkpoint(path)
    try:
        cfg = DiffusionConfig.from_dict(ckpt["model_config"])
    except (TypeError, KeyError) as exc:
        raise SemcomError(f"{path} is not a GESCO diffusion checkpoint: {exc}") from None
    if classes is not None and cfg.classes != classes:
        raise SemcomError(f"{path} is a diffusion model for {cfg.classes} classes, not {classes}")
    model = SemanticDiffusion(cfg)
    try:
        model.load_state_dict({k: v.float() for k, v in _weights(ckpt).items()})
    except RuntimeError as exc:
        raise SemcomError(f"checkpoint {path} does not match its diffusion config: "
                          f"{str(exc).splitlines()[0]}") from None
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "rng")}
    return model.to(device).eval(), meta


def export_diffusion(src: str | Path, dst: str | Path, half: bool = True, guidance: float | None = None,
                     sample_steps: int | None = None) -> Path:
    """Write the shippable checkpoint of a run: the EMA weights (float16 unless ``half`` is False), the model and
    training configs, the step and the training clock; no optimizer or generator state. ``guidance`` and
    ``sample_steps``: the sampling defaults the shipped model carries (the ones chosen on validation data), instead
    of the training config's."""
    ckpt = read_checkpoint(src)
    state = half_state(_weights(ckpt), half)
    keep = {k: v for k, v in ckpt.items() if k not in ("optimizer", "rng", "state_dict")}
    sampling = {k: v for k, v in (("guidance", guidance), ("sample_steps", sample_steps)) if v is not None}
    if sampling:  # the config validates the pair
        keep["model_config"] = replace(DiffusionConfig.from_dict(keep["model_config"]), **sampling).to_dict()
    atomic_save({**keep, "state_dict": state}, dst)
    return Path(dst)
