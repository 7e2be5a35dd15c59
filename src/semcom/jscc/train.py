"""One readable training loop for image JSCC: config -> model -> random-SNR steps -> eval -> checkpoint.

Runs single-process, or data-parallel under ``torchrun`` (DistributedDataParallel; gloo on CPU,
NCCL on CUDA). Resumes from ``<out>/last.pt``. Records steps, CPU-hours and wall-hours in every
checkpoint and a JSONL log beside it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from semcom.channels import build_channel
from semcom.data import RandomCrops, center_crops, split_train_val
from semcom.errors import SemcomError
from semcom.jscc.hybrid import HybridConfig, HybridJSCC
from semcom.jscc.models import JSCC, JSCCConfig
from semcom.metrics import psnr_db
from semcom.outputs import check_resume
from semcom.seeding import fast_cpu_math, make_generator, seed_everything
from semcom.training.checkpoint import atomic_save, read_checkpoint, warm_start
from semcom.training.loop import JsonlLog, RunClock, cosine_lr
from semcom.units import check_snr_db


@dataclass(frozen=True)
class TrainConfig:
    data: str
    out: str
    cbr: tuple[float, ...] = (1 / 16, 1 / 8)
    snr_range: tuple[float, float] = (0.0, 15.0)
    channel: str = "awgn"
    steps: int = 20000
    batch: int = 16
    crop: int = 128
    lr: float = 1e-3
    lr_min: float = 1e-5
    warmup: int = 200
    val_count: int = 4
    eval_every: int = 250
    log_every: int = 50
    ckpt_every: int = 100
    seed: int = 0
    device: str = "cpu"
    threads: int = 0  # 0: torch default
    init_from: str | None = None  # warm start: weights of a JSCC checkpoint (modules it lacks keep their init)
    init_basis: str | None = "pca"  # hybrid models: the linear path starts as SoftCast with this basis (pca|dct|file)
    linear_lr_scale: float = 0.05  # hybrid models: the linear path's learning rate relative to lr
    clip: float = 0.0  # gradient-norm clipping (0: none)
    schedule: str = "cosine"  # cosine: warm-up then cosine; late-cosine: constant, cosine over the last 30 %
    cpu_budget_s: float = 0.0  # > 0: stop after this many process CPU-seconds of training (equal-CPU studies);
    # the schedule then follows the fraction of the budget spent instead of the steps

    def __post_init__(self):
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
        if self.clip < 0 or self.cpu_budget_s < 0 or not self.linear_lr_scale > 0:
            raise SemcomError("clip and cpu_budget_s must be >= 0 and linear_lr_scale > 0")

    def to_dict(self) -> dict:
        return asdict(self)


SCHEDULES = ("cosine", "late-cosine")
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


def distributed_context(device: str) -> tuple[int, int]:
    """(rank, world size); initialises the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


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
    # GDN's off-diagonal gammas decay towards zero and become subnormal floats, which are very slow
    # on x86 CPUs; flushing them to zero changes nothing measurable and keeps the step time flat.
    fast_cpu_math(cfg.threads)
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise SemcomError("--device cuda requested but CUDA is not available")
    rank, world = distributed_context(cfg.device)
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cfg.device.startswith("cuda") and world > 1 else cfg.device)
    out = Path(cfg.out)
    last = out / "last.pt"
    train_paths, val_paths = split_train_val(cfg.data, cfg.val_count)
    crops = RandomCrops.from_paths(train_paths, cfg.crop)
    val = center_crops(val_paths, cfg.crop * 2).to(device) if val_paths else None
    channel = build_channel(cfg.channel)

    seed_everything(cfg.seed)
    model = build_model(model_cfg).to(device)
    for c in cfg.cbr:
        model.channels_for_cbr(c)  # fail early on an unsupported CBR
    hybrid = isinstance(model, HybridJSCC)
    groups = model.param_groups(cfg.lr, cfg.linear_lr_scale) if hybrid else [{"params": list(model.parameters()), "lr_scale": 1.0}]
    opt = torch.optim.Adam(groups, lr=cfg.lr)
    step, clock = 0, RunClock(world=world)
    gen = make_generator(cfg.seed * 1000 + rank)
    if last.is_file():
        ckpt = read_checkpoint(last)
        if ckpt["model_config"] != model_cfg.to_dict():
            raise SemcomError(f"{last} was trained with a different model config: {ckpt['model_config']}")
        check_resume(ckpt.get("train_config"), cfg.to_dict(), last, resume_anyway, log)
        model.load_state_dict(ckpt["state_dict"])
        opt.load_state_dict(ckpt["optimizer"])
        step, clock = ckpt["step"], RunClock(ckpt["cpu_seconds"], ckpt["wall_seconds"], world)
        gen.set_state(ckpt["rng"][rank] if rank < len(ckpt["rng"]) else gen.get_state())
        log(f"resumed from {last} at step {step}")
    elif cfg.init_from:
        log(f"initialised from {cfg.init_from}: " + warm_start(model, cfg.init_from))
    elif hybrid and model_cfg.linear and cfg.init_basis:
        from semcom.jscc.softcast import load_softcast

        model.init_linear(load_softcast(cfg.init_basis).basis)
        log(f"linear path initialised as SoftCast ({cfg.init_basis} basis)")
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps({"train": cfg.to_dict(), "model": model_cfg.to_dict(), "world_size": world}, indent=2))
    logf = JsonlLog(out / "train.jsonl", log) if rank == 0 else None

    def save() -> None:
        states = [gen.get_state()]
        if world > 1:
            gathered = [None] * world
            dist.all_gather_object(gathered, gen.get_state())
            states = gathered
        if rank == 0:
            atomic_save({
                "model_config": model_cfg.to_dict(), "train_config": cfg.to_dict(), "state_dict": model.state_dict(),
                "optimizer": opt.state_dict(), "step": step, **clock.state(), "world_size": world, "rng": states,
                "torch": str(torch.__version__),
            }, last)

    model.train()
    lo, hi = cfg.snr_range
    running = 0.0
    clock.tick()
    while step < cfg.steps and not (cfg.cpu_budget_s > 0 and clock.cpu_seconds >= cfg.cpu_budget_s):
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, step, clock.cpu_seconds) * group.get("lr_scale", 1.0)
        x = crops.sample(cfg.batch, gen).to(device)
        snr = (lo + (hi - lo) * torch.rand(cfg.batch, generator=gen)).to(device)
        cbr = [cfg.cbr[i] for i in torch.randint(len(cfg.cbr), (cfg.batch,), generator=gen).tolist()]
        result = net(x, snr, channel, cbr, gen)
        loss = F.mse_loss(result["x_hat"], x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        step += 1
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        clock.tick()
        if progress is not None and rank == 0:
            progress(step, cfg.steps, running)
        last_step = step == cfg.steps or (cfg.cpu_budget_s > 0 and clock.cpu_seconds >= cfg.cpu_budget_s)
        record = None
        if rank == 0 and (step % cfg.log_every == 0 or last_step):
            record = {"step": step, "loss": running, "psnr_train": -10 * math.log10(max(running, 1e-10)),
                      "lr": learning_rate(cfg, step - 1, clock.cpu_seconds), **clock.hours()}
        if val is not None and rank == 0 and (step % cfg.eval_every == 0 or last_step):
            record = {**(record or {"step": step}), **validate(model, val, cfg, channel)}
            clock.skip()  # validation time is not training time
        if record and logf:
            logf.write(record)
        if step % cfg.ckpt_every == 0 or last_step:
            save()
    if world > 1:
        dist.barrier()
    return last
