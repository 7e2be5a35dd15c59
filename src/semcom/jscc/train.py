"""One readable training loop for image JSCC: config -> model -> random-SNR steps -> eval -> checkpoint.

The run (folder, resume from ``<out>/last.pt``, seeds, JSONL log with steps and CPU-hours, checkpoints, data-parallel
under ``torchrun``) is a ``semcom.training.Run``; this module holds the data, the model and the loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.channels import build_channel
from semcom.data import RandomCrops, center_crops, split_train_val
from semcom.errors import SemcomError
from semcom.jscc.hybrid import HybridConfig, HybridJSCC
from semcom.jscc.models import JSCC, JSCCConfig
from semcom.metrics import psnr_db
from semcom.seeding import make_generator
from semcom.training.checkpoint import warm_start
from semcom.training.loop import cosine_lr
from semcom.training.run import Run, RunConfig
from semcom.units import check_snr_db


@dataclass(frozen=True, kw_only=True)
class TrainConfig(RunConfig):
    """The run settings (``RunConfig``: out, lr, lr_min, warmup, eval/log/ckpt_every, seed, threads, cpu_budget_s;
    with a CPU budget the schedule follows the fraction of it spent instead of the steps) and these."""

    data: str
    cbr: tuple[float, ...] = (1 / 16, 1 / 8)
    snr_range: tuple[float, float] = (0.0, 15.0)
    channel: str = "awgn"
    steps: int = 20000
    batch: int = 16
    crop: int = 128
    val_count: int = 4
    device: str = "cpu"
    init_from: str | None = None  # warm start: weights of a JSCC checkpoint (modules it lacks keep their init)
    init_basis: str | None = "pca"  # hybrid models: the linear path starts as SoftCast with this basis (pca|dct|file)
    linear_lr_scale: float = 0.05  # hybrid models: the linear path's learning rate relative to lr
    clip: float = 0.0  # gradient-norm clipping (0: none)
    schedule: str = "cosine"  # cosine: warm-up then cosine; late-cosine: constant, cosine over the last 30 %
    loss: str = "mse"  # mse | log-mse (mean over the batch of log MSE per image: every SNR in a mixed-SNR batch
    # counts by its relative (dB) improvement; with plain MSE the low-SNR images' large errors dominate the gradient)

    def __post_init__(self):
        super().__post_init__()
        lo, hi = self.snr_range
        check_snr_db(torch.tensor([lo, hi]))
        if lo > hi:
            raise SemcomError(f"SNR range must be low,high; got {lo},{hi}")
        if not self.cbr or any(not (c > 0) for c in self.cbr):
            raise SemcomError(f"CBR values must be > 0, got {self.cbr}")
        if self.steps < 1 or self.batch < 1 or self.crop < 16:
            raise SemcomError("steps and batch must be >= 1 and crop >= 16")
        if self.schedule not in SCHEDULES:
            raise SemcomError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.loss not in LOSSES:
            raise SemcomError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.clip < 0 or not self.linear_lr_scale > 0:
            raise SemcomError("clip must be >= 0 and linear_lr_scale > 0")


SCHEDULES = ("cosine", "late-cosine")
LOSSES = ("mse", "log-mse")
LATE_COSINE_START = 0.7


def learning_rate(cfg: TrainConfig, step: int, cpu_seconds: float = 0.0) -> float:
    """``cosine``: linear warm-up, then cosine decay from ``lr`` to ``lr_min`` over ``steps``; ``late-cosine``:
    warm-up, constant ``lr``, cosine decay over the last 30 %. With a CPU budget, progress is the fraction of
    the budget spent rather than of the steps."""
    if cfg.cpu_budget_s > 0:
        total = 100_000
        step = min(total, max(step if step < cfg.warmup else cfg.warmup, round(total * cpu_seconds / cfg.cpu_budget_s)))
    else:
        total = cfg.steps
    if cfg.schedule == "late-cosine":
        start = round(LATE_COSINE_START * total)
        if step < start:
            return cosine_lr(step, total, cfg.lr, cfg.lr, cfg.warmup)
        return cosine_lr(step - start, total - start, cfg.lr, cfg.lr_min, 0)
    return cosine_lr(step, total, cfg.lr, cfg.lr_min, cfg.warmup)


def build_model(model_cfg: JSCCConfig | HybridConfig) -> JSCC | HybridJSCC:
    """The model a config describes (both kinds share the training contract)."""
    return HybridJSCC(model_cfg) if isinstance(model_cfg, HybridConfig) else JSCC(model_cfg)


@torch.no_grad()
def validate(model: JSCC, val: torch.Tensor, cfg: TrainConfig, channel) -> dict:
    """Mean PSNR of the validation crops at three SNRs per training CBR (fixed noise seed)."""
    model.eval()
    lo, hi = cfg.snr_range
    result = {}
    for cbr in cfg.cbr:
        for snr in (lo, (lo + hi) / 2, hi):
            out = model(val, snr, channel, cbr, make_generator(1234))
            result[f"psnr_cbr{cbr:.4g}_snr{snr:g}"] = psnr_db(val, out["x_hat"]).mean().item()
    model.train()
    return result


def train(cfg: TrainConfig, model_cfg: JSCCConfig = JSCCConfig(), log=print, progress=None,
          resume_anyway: bool = False) -> Path:
    """Train (or resume) a JSCC model; returns the path of the last checkpoint.

    Resuming with other training settings than the checkpoint's is a SemcomError unless ``resume_anyway``."""
    run = Run(cfg, log, resume_anyway, smoothing=0.98, device=cfg.device)
    train_paths, val_paths = split_train_val(cfg.data, cfg.val_count)
    crops = RandomCrops.from_paths(train_paths, cfg.crop)
    val = center_crops(val_paths, cfg.crop * 2).to(run.device) if val_paths else None
    channel = build_channel(cfg.channel)

    model = build_model(model_cfg).to(run.device)
    for c in cfg.cbr:
        model.channels_for_cbr(c)  # fail early on an unsupported CBR
    hybrid = isinstance(model, HybridJSCC)
    groups = model.param_groups(cfg.lr, cfg.linear_lr_scale) if hybrid else [{"params": list(model.parameters()), "lr_scale": 1.0}]
    opt = torch.optim.Adam(groups, lr=cfg.lr)
    if not run.resuming and cfg.init_from:
        log(f"initialised from {cfg.init_from}: " + warm_start(model, cfg.init_from))
    elif not run.resuming and hybrid and model_cfg.linear and cfg.init_basis:
        from semcom.jscc.softcast import load_softcast

        model.init_linear(load_softcast(cfg.init_basis).basis)
        log(f"linear path initialised as SoftCast ({cfg.init_basis} basis)")
    gen = make_generator(cfg.seed * 1000 + run.rank)
    run.start(model, opt, gen, model_cfg.to_dict())
    net = run.parallel(model)

    model.train()
    lo, hi = cfg.snr_range
    while not run.finished:
        run.set_lr(learning_rate(cfg, run.step, run.clock.cpu_seconds))
        x = crops.sample(cfg.batch, gen).to(run.device)
        snr = (lo + (hi - lo) * torch.rand(cfg.batch, generator=gen)).to(run.device)
        cbr = [cfg.cbr[i] for i in torch.randint(len(cfg.cbr), (cfg.batch,), generator=gen).tolist()]
        result = net(x, snr, channel, cbr, gen)
        if cfg.loss == "log-mse":
            per_image = (result["x_hat"] - x).pow(2).flatten(1).mean(1)
            mse, loss = per_image.mean(), per_image.clamp_min(1e-10).log().mean()
        else:
            loss = mse = F.mse_loss(result["x_hat"], x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        run.after_step(mse.item(), progress,
                       record=lambda: {"psnr_train": -10 * math.log10(max(run.running, 1e-10))},
                       validate=(lambda: validate(model, val, cfg, channel)) if val is not None else None)
    return run.end()
