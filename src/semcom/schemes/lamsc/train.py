"""Training LAM-SC's learned parts on photo crops: the ASI scorer, the ASC latent mask and its receiver.

All three start from the run's segment pool (``pool.py``: segmented crops of the training photos, built once and
cached in the run folder as ``pool.pt``); their losses are in ``losses.py``.

- ``train_scorer``: ``ASIScorer`` by MSE between its scores and the targets over the filled slots
  (empty slots, when a crop has fewer than k segments, carry no loss). Adam, cosine schedule.
- ``train_asc``: the JSCC is frozen (the shipped model by default); only the ``ASC`` mask learns. Each
  step builds semantic images from pool crops with a random non-empty subset of their segments (so
  ASC learns for whatever ASI selects), takes a random ``crop`` x ``crop`` window, encodes, masks the
  latent, sends it through the channel at an SNR drawn uniformly from ``snr_range`` and decodes; the
  receiver blackens the blocks the mask dropped. The objective is ``MSE + rate_weight * rate``; see
  ``asc_loss`` for how the mask learns it. With ``coverage`` the mask also sees the fraction of each latent
  position's 16x16 block covered by the kept segments (the transmitter knows it).
- ``train_receiver``: the JSCC's encoder and a trained ASC stay frozen (the transmitter is unchanged); a copy
  of the JSCC decoder is fine-tuned on what the LAM-SC receiver really gets: the kept latent elements through
  the channel, the background latent at the dropped positions (``receiver_loss``). The loss is the MSE over
  the blocks the receiver paints (the dropped ones are black anyway).

The run (resume from ``last.pt``, JSONL log with steps and CPU-hours, checkpoints) is a ``semcom.training.Run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from semcom.channels import build_channel
from semcom.errors import SemcomError
from semcom.jscc import FACTOR
from semcom.jscc.checkpoint import load_jscc
from semcom.jscc.transmitter import DEFAULT_CHECKPOINT
from semcom.schemes.lamsc.asc import ASC
from semcom.schemes.lamsc.loaders import asc_cbr, load_asc, resolve
from semcom.schemes.lamsc.losses import asc_loss, receiver_loss
from semcom.schemes.lamsc.pool import SegmentPool, build_pool, human_pool, scorer_inputs, semantic_batch
from semcom.schemes.lamsc.scorer import DEFAULT_K, ASIScorer
from semcom.seeding import make_generator
from semcom.training.loop import cosine_lr
from semcom.training.run import Run, RunConfig

PART_NAMES = ("scorer", "asc", "receiver")


@dataclass(frozen=True, kw_only=True)
class LamSCTrainConfig(RunConfig):
    """The run settings (``RunConfig``; validation runs with the log) and these."""

    part: str = "scorer"  # scorer | asc | receiver
    data: str | None = None  # training photos (default: ../shared/data/photos-train)
    pool_size: int = 400
    pool_crop: int = 256
    val_count: int = 4
    k: int = DEFAULT_K
    human_scores: str | None = None  # scorer: CSV image,segment,score instead of the proxy target
    steps: int = 600
    batch: int = 16
    warmup: int = 20
    # ASC
    jscc: str | None = None  # JSCC checkpoint (default: the shipped model)
    asc: str | None = None  # receiver: the frozen ASC mask (default: the shipped one)
    whole_images: bool = False  # receiver: the control run, whole crops and no mask (plain JSCC decoder fine-tuning)
    train_encoder: bool = False  # receiver: fine-tune the copy's encoder too (end to end through the frozen mask)
    cbr: float = 1 / 32  # the shipped parts' rate (48 of the shipped JSCC's latent maps)
    crop: int = 128
    snr_range: tuple[float, float] = (-2.0, 16.0)
    channel: str = "awgn"
    rate_weight: float = 5e-4  # keep a 16x16 block when dropping it would cost more than this MSE on it
    group: int | None = None
    coverage: bool = True  # the mask also sees each latent position's coverage by the selected segments
    eval_every: int = 25
    log_every: int = 25
    ckpt_every: int = 50

    def __post_init__(self):
        super().__post_init__()
        if self.part not in PART_NAMES:
            raise SemcomError(f"unknown LAM-SC part {self.part!r}; choose one of {', '.join(PART_NAMES)}")
        if self.steps < 1 or self.batch < 1 or self.pool_size < 1:
            raise SemcomError("steps, batch and pool_size must be >= 1")
        if self.crop % FACTOR or self.crop > self.pool_crop:
            raise SemcomError(f"crop must be a multiple of {FACTOR} and at most pool_crop={self.pool_crop}")
        if self.whole_images and self.part != "receiver":
            raise SemcomError("whole_images is the receiver's control run: use it with part='receiver'")
        if self.train_encoder and self.part != "receiver":
            raise SemcomError("train_encoder fine-tunes the receiver's JSCC copy: use it with part='receiver'")
        if self.rate_weight < 0:
            raise SemcomError(f"rate_weight must be >= 0, got {self.rate_weight}")
        lo, hi = self.snr_range
        if not -20 <= lo <= hi <= 40:
            raise SemcomError(f"snr_range must satisfy -20 <= A <= B <= 40 dB, got {self.snr_range}")


def _data_folder(cfg: LamSCTrainConfig) -> Path:
    from semcom.data.sources import shared_subdir

    return Path(cfg.data) if cfg.data else shared_subdir("photos-train")


def run_pool(cfg: LamSCTrainConfig, log) -> SegmentPool:
    """The run's pool: built once, cached in the run folder (``pool.pt``)."""
    path = Path(cfg.out) / "pool.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file():
        return SegmentPool.load(path)
    if cfg.human_scores:
        pool = human_pool(_data_folder(cfg), cfg.human_scores, cfg.k)
    else:
        pool = build_pool(_data_folder(cfg), cfg.pool_size, cfg.pool_crop, cfg.k, cfg.val_count, cfg.seed,
                          targets=(cfg.part == "scorer"), log=log)
    pool.save(path)
    log(f"pool: {len(pool)} crops, {pool.counts.float().mean():.2f} segments per crop, cached in {path}")
    return pool


def begin(cfg: LamSCTrainConfig, log, resume_anyway: bool) -> tuple[Run, SegmentPool]:
    """The run (CPU settings, seeds, refusing changed settings) and its pool."""
    run = Run(cfg, log, resume_anyway, smoothing=0)
    return run, run_pool(cfg, log)


def start(run: Run, model: torch.nn.Module, model_config: dict, meta: dict | None = None) -> torch.optim.Optimizer:
    """Start ``run`` on ``model`` with Adam over its trainable parameters and a generator seeded ``seed + 1``."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=run.cfg.lr)
    run.start(model, opt, make_generator(run.cfg.seed + 1), model_config, meta={"part": run.cfg.part, **(meta or {})})
    return opt


def learning_rate(run: Run) -> float:
    """Set and return the step's learning rate (warm-up, then cosine decay)."""
    cfg = run.cfg
    return run.set_lr(cosine_lr(run.step, cfg.steps, cfg.lr, cfg.lr_min, cfg.warmup))


def semantic_loop(run: Run, pool: SegmentPool, opt: torch.optim.Optimizer, progress, loss_of,
                  whole: bool = False) -> Path:
    """The ASC and receiver loop: semantic batches from the pool (``whole``: unmasked), an SNR per image drawn
    uniformly from ``snr_range``, ``loss_of(x, region, snr) -> (loss, log fields)``."""
    cfg = run.cfg
    lo, hi = cfg.snr_range
    while not run.finished:
        learning_rate(run)
        x, region = semantic_batch(pool, cfg.batch, cfg.crop, run.generator, whole=whole)
        snr = lo + (hi - lo) * torch.rand(cfg.batch, generator=run.generator)
        loss, parts = loss_of(x, region, snr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.after_step(loss.item(), progress, record=parts)
    return run.end()


def train_scorer(cfg: LamSCTrainConfig, log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Train (or resume) the ASI scorer; returns the path of the last checkpoint."""
    run, pool = begin(cfg, log, resume_anyway)
    if pool.targets is None:
        raise SemcomError(f"{Path(cfg.out) / 'pool.pt'} holds no importance targets: it was built for ASC; use a new --out")
    model = ASIScorer(cfg.k)
    opt = start(run, model, {"k": cfg.k, "width": 32, "size": 64})
    x, y = scorer_inputs(pool, cfg.k), pool.targets
    filled = torch.arange(cfg.k)[None] < pool.counts[:, None]
    held = max(1, len(pool) // 10)  # last 10 % of the pool: validation loss
    model.train()
    while not run.finished:
        learning_rate(run)
        idx = torch.randint(len(pool) - held, (cfg.batch,), generator=run.generator)
        xb = x[idx]
        flip = torch.rand(cfg.batch, generator=run.generator) < 0.5
        xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
        loss = ((model(xb) - y[idx]).pow(2) * filled[idx]).sum() / filled[idx].sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.after_step(loss.item(), progress,
                       validate=lambda: scorer_validation(model, x[-held:], y[-held:], filled[-held:]))
    return run.end()


@torch.no_grad()
def scorer_validation(model: ASIScorer, x, y, filled) -> dict:
    """Validation MSE and how often the scorer's top segment is the target's top segment."""
    was = model.training
    model.eval()
    pred = model(x)
    model.train(was)
    mse = ((pred - y).pow(2) * filled).sum() / filled.sum()
    masked = lambda t: torch.where(filled, t, torch.full_like(t, -1.0))
    top = (masked(pred).argmax(1) == masked(y).argmax(1)).float().mean()
    return {"val_mse": mse.item(), "val_top1_agree": top.item()}


def train_asc(cfg: LamSCTrainConfig, log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Train (or resume) the ASC mask over a frozen JSCC; returns the path of the last checkpoint."""
    run, pool = begin(cfg, log, resume_anyway)
    jscc_path = cfg.jscc or str(DEFAULT_CHECKPOINT)
    jscc, _ = load_jscc(jscc_path)
    for p in jscc.parameters():
        p.requires_grad_(False)
    c = jscc.channels_for_cbr(cfg.cbr)
    side = 1 if cfg.coverage else 0
    asc = ASC(c, group=cfg.group, side_channels=side)
    model_config = {"channels": c, "group": cfg.group, "hidden": 64, "init_keep": 0.9, "side_bits_per_use": 1.0,
                    "side_channels": side}
    opt = start(run, asc, model_config, meta={"cbr": cfg.cbr, "jscc": Path(jscc_path).name})
    channel = build_channel(cfg.channel)
    asc.train()
    return semantic_loop(run, pool, opt, progress, lambda x, region, snr: asc_loss(
        jscc, asc, channel, x, region, snr, cfg.cbr, cfg.rate_weight, run.generator))


def train_receiver(cfg: LamSCTrainConfig, log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Fine-tune a copy of the JSCC as LAM-SC's receiver: its decoder, and with ``train_encoder`` its encoder too (the
    ASC mask stays frozen); returns the last checkpoint."""
    run, pool = begin(cfg, log, resume_anyway)
    jscc_path = cfg.jscc or str(DEFAULT_CHECKPOINT)
    receiver, _ = load_jscc(jscc_path)
    asc_path = None if cfg.whole_images else resolve(cfg.asc, "asc")
    asc, asc_meta = load_asc(asc_path) if asc_path else (None, {})
    asc_cbr(asc_meta, asc_path, cfg.cbr)
    for p in asc.parameters() if asc is not None else ():
        p.requires_grad_(False)
    model_config = {"jscc": receiver.cfg.to_dict(), "cbr": cfg.cbr, "encoder": cfg.train_encoder}
    if not cfg.train_encoder:
        receiver.encoder.requires_grad_(False)
    opt = start(run, receiver if cfg.train_encoder else receiver.decoder, model_config,
                meta={"jscc_file": Path(jscc_path).name, "asc_file": Path(asc_path).name if asc_path else None})
    channel = build_channel(cfg.channel)
    receiver.train()
    return semantic_loop(run, pool, opt, progress, lambda x, region, snr: receiver_loss(
        receiver, asc, channel, x, region, snr, cfg.cbr, run.generator), whole=cfg.whole_images)


def train_lamsc(cfg: LamSCTrainConfig, log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Train (or resume) ``cfg.part``; resuming with other training settings is a SemcomError unless
    ``resume_anyway``."""
    return {"scorer": train_scorer, "asc": train_asc, "receiver": train_receiver}[cfg.part](cfg, log, progress,
                                                                                            resume_anyway)
