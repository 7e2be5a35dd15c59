"""Training the learned map transmitters: ``MapJSCC`` and the ``MapDenoiser`` behind ``AnalogOneHot``.

One loop for both, on ``semcom.training.Run`` (run folder with ``config.json``, ``train.jsonl`` and ``last.pt``;
exact resume that refuses changed settings; optional CPU-seconds budget, with which the learning-rate schedule
follows the fraction of the budget spent). Data: label maps of the CamVid *train* split only (random crops with
random horizontal flips, ``semcom.data.camvid.LabelCrops``); each example gets its own SNR drawn uniformly from
``snr_range``; the loss is the cross-entropy of the receiver's logits against the sent map, over every class the
map holds (void included: it is part of the map). Validation every ``eval_every`` steps: pooled mIoU (void ignored)
and pixel accuracy of the first ``val_count`` maps of the CamVid val split, whole, at the range's ends and middle
(fixed noise seed); validation time is not training time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.channels import build_channel
from semcom.data.camvid import CAMVID, LabelCrops, load_camvid
from semcom.errors import SemcomError
from semcom.metrics.segmentation import miou, pixel_accuracy
from semcom.schemes.gesco.maps import AnalogOneHot, DenoiserConfig, MapJSCCConfig, map_model_from_config
from semcom.seeding import make_generator
from semcom.training.loop import cosine_lr
from semcom.training.run import Run, RunConfig
from semcom.units import check_snr_db

MODELS = ("map-jscc", "map-denoiser")


@dataclass(frozen=True, kw_only=True)
class MapTrainConfig(RunConfig):
    """The run settings (``RunConfig``: out, lr, lr_min, warmup, eval/log/ckpt_every, seed, threads, cpu_budget_s)
    and these. ``model``: ``map-jscc`` or ``map-denoiser``; ``data``: the CamVid folder (default: the shared data
    folder); ``limit``: use only the first N train maps; ``crop``: square crop side (0: whole maps);
    ``width``/``blocks``: the model's size (see ``MapJSCCConfig`` / ``DenoiserConfig``)."""

    model: str = "map-jscc"
    data: str | None = None
    limit: int | None = None
    cbr: float = 1 / 32
    snr_range: tuple[float, float] = (-5.0, 20.0)
    channel: str = "awgn"
    steps: int = 4000
    batch: int = 8
    crop: int = 128
    width: int = 64
    blocks: int = 2
    val_count: int = 16
    warmup: int = 100
    device: str = "cpu"

    def __post_init__(self):
        super().__post_init__()
        if self.model not in MODELS:
            raise SemcomError(f"unknown map model {self.model!r}; choose one of {', '.join(MODELS)}")
        lo, hi = self.snr_range
        check_snr_db(torch.tensor([lo, hi]))
        if lo > hi:
            raise SemcomError(f"SNR range must be low,high; got {lo},{hi}")
        if self.steps < 1 or self.batch < 1 or self.crop < 0 or self.val_count < 0:
            raise SemcomError("steps and batch must be >= 1, crop and val_count >= 0")
        if self.limit is not None and self.limit < 1:
            raise SemcomError(f"limit must be >= 1, got {self.limit}")

    def model_config(self) -> MapJSCCConfig | DenoiserConfig:
        """The config of the model this run trains (CamVid's 12 classes)."""
        if self.model == "map-jscc":
            return MapJSCCConfig(num_classes=CAMVID.num_classes, cbr=self.cbr, width=self.width, blocks=self.blocks)
        return DenoiserConfig(num_classes=CAMVID.num_classes, cbr=self.cbr, width=self.width, blocks=self.blocks)


def learning_rate(cfg: MapTrainConfig, step: int, cpu_seconds: float = 0.0) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``lr_min`` over ``steps``; with a CPU budget, progress is the
    fraction of the budget spent."""
    if cfg.cpu_budget_s > 0 and step >= cfg.warmup:
        progress = min(1.0, cpu_seconds / cfg.cpu_budget_s)
        return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * progress))
    return cosine_lr(step, cfg.steps, cfg.lr, cfg.lr_min, cfg.warmup)


def receive_logits(model, analog: AnalogOneHot | None, labels: torch.Tensor, snr: torch.Tensor, channel,
                   generator: torch.Generator | None) -> torch.Tensor:
    """The learned receiver's logits [B, C, H, W] for ``labels`` [B, H, W] sent at ``snr`` [B] (differentiable)."""
    if analog is None:
        return model(labels, snr, channel, generator)["logits"]
    received, factor = analog.send(labels, snr, channel, generator)
    return model(received, snr, tuple(labels.shape[-2:]), factor)


@torch.no_grad()
def validate(model, analog: AnalogOneHot | None, val: torch.Tensor, cfg: MapTrainConfig, channel) -> dict:
    """Pooled mIoU and pixel accuracy (void ignored) of the validation maps at three SNRs (fixed noise seed)."""
    model.eval()
    lo, hi = cfg.snr_range
    out = {}
    for snr in (lo, (lo + hi) / 2, hi):
        snrs = torch.full((val.shape[0],), float(snr), device=val.device)
        labels_hat = receive_logits(model, analog, val, snrs, channel, make_generator(1234)).argmax(1)
        out[f"miou_snr{snr:g}"] = float(miou(val, labels_hat, CAMVID.num_classes, CAMVID.ignore_index))
        out[f"acc_snr{snr:g}"] = float(pixel_accuracy(val, labels_hat, CAMVID.num_classes, CAMVID.ignore_index))
    model.train()
    return out


def train_maps(cfg: MapTrainConfig, log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Train (or resume) a ``MapJSCC`` or a ``MapDenoiser`` (``cfg.model``); returns the path of the last checkpoint
    (load it with ``semcom.schemes.gesco.maps.load_map_model``). Resuming with other settings than the
    checkpoint's is a SemcomError unless ``resume_anyway``."""
    run = Run(cfg, log, resume_anyway, smoothing=0.95, device=cfg.device)
    train = load_camvid("train", cfg.data, limit=cfg.limit, images=False).labels
    crops = LabelCrops(train, size=cfg.crop or tuple(train.shape[1:]))
    val = (load_camvid("val", cfg.data, limit=cfg.val_count, images=False).labels.to(run.device)
           if cfg.val_count else None)
    channel = build_channel(cfg.channel)
    model_cfg = cfg.model_config()
    model = map_model_from_config(model_cfg.to_dict()).to(run.device)
    analog = AnalogOneHot(model_cfg.num_classes, cfg.cbr) if cfg.model == "map-denoiser" else None
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = make_generator(cfg.seed * 1000 + run.rank)
    run.start(model, opt, gen, model_cfg.to_dict(), meta={"data": "camvid/train"})
    net = run.parallel(model)
    noise_gen = gen if run.device.type == "cpu" else None  # a CPU generator cannot draw noise on another device

    model.train()
    lo, hi = cfg.snr_range
    while not run.finished:
        run.set_lr(learning_rate(cfg, run.step, run.clock.cpu_seconds))
        _, labels = crops.sample(cfg.batch, gen)
        labels = labels.to(run.device)
        snr = (lo + (hi - lo) * torch.rand(cfg.batch, generator=gen)).to(run.device)
        logits = receive_logits(net, analog, labels, snr, channel, noise_gen)
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        correct = float((logits.detach().argmax(1) == labels).float().mean())
        run.after_step(loss.item(), progress, record=lambda acc=correct: {"pixel_acc_train": acc},
                       validate=(lambda: validate(model, analog, val, cfg, channel)) if val is not None else None)
    return run.end()
