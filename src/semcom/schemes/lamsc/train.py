"""Training LAM-SC's learned parts on photo crops: the ASI scorer, the ASC latent mask and its receiver.

Both start from a **segment pool**: random square crops of the training photos (random position and
horizontal flip; the last ``val_count`` photos by name are held out), each segmented once by the
knowledge base (``SlicSegmenter`` by default) with its k largest segments kept. Crops without a
usable segment are skipped. For the scorer the pool also holds each crop's proxy importance target
(``occlusion_importance``: EfficientNet-Lite0's confidence drop when a segment is removed), or the
human scores of a CSV when one is given (then the pool is the whole photos, one entry per photo).

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

Each writes ``last.pt`` (with ``step``, CPU-hours and its config), ``train.jsonl`` and ``config.json``
in its run folder and resumes from ``last.pt``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.channels import build_channel, normalize_power
from semcom.data.crops import split_train_val
from semcom.data.images import load_image
from semcom.errors import SemcomError
from semcom.jscc import FACTOR
from semcom.jscc.checkpoint import load_jscc
from semcom.jscc.transmitter import DEFAULT_CHECKPOINT
from semcom.outputs import check_resume
from semcom.schemes.lamsc.asc import ASC
from semcom.schemes.lamsc.loaders import asc_cbr, load_asc, resolve
from semcom.schemes.lamsc.scheme import background_latent, block_aligned, block_mask, coverage, kept_gain_and_scale
from semcom.schemes.lamsc.scorer import DEFAULT_K, ASIScorer, load_human_scores, occlusion_importance, segment_images
from semcom.schemes.lamsc.segmenter import Segmenter, Segments, SlicSegmenter
from semcom.seeding import fast_cpu_math, make_generator, seed_everything
from semcom.training.checkpoint import atomic_save, load_file, read_checkpoint
from semcom.training.loop import JsonlLog, RunClock, cosine_lr

PART_NAMES = ("scorer", "asc", "receiver")


# ---- the segment pool ---------------------------------------------------------------------------------
@dataclass
class SegmentPool:
    """Crops with their segments: ``images`` uint8 [N, 3, S, S], ``labels`` int8 [N, S, S] (segment index in
    area order, -1 outside every kept segment), ``counts`` int64 [N] (segments per crop, 1..k), ``targets``
    float32 [N, k] (importance per slot, 0 in empty slots; None when not computed), ``names`` per crop."""

    images: torch.Tensor
    labels: torch.Tensor
    counts: torch.Tensor
    targets: torch.Tensor | None
    names: list[str]

    def __len__(self) -> int:
        return self.images.shape[0]

    def segments(self, i: int) -> Segments:
        masks = self.labels[i][None] == torch.arange(int(self.counts[i]))[:, None, None]
        return Segments(masks)

    def image(self, i: int) -> torch.Tensor:
        return self.images[i].float() / 255

    def save(self, path: str | Path) -> None:
        atomic_save(asdict(self), path)

    @classmethod
    def load(cls, path: str | Path) -> "SegmentPool":
        data = load_file(path)
        try:
            return cls(**data)
        except TypeError:
            raise SemcomError(f"{path} is not a LAM-SC segment pool") from None


def build_pool(folder: str | Path, count: int, crop: int, k: int = DEFAULT_K, val_count: int = 4, seed: int = 0,
               segmenter: Segmenter | None = None, targets: bool = False, log=print) -> SegmentPool:
    """``count`` random ``crop`` x ``crop`` crops of the training photos in ``folder`` with their segments (and
    occlusion-importance targets when ``targets``); photos smaller than the crop are skipped."""
    paths, _ = split_train_val(folder, val_count)
    photos = [load_image(p) for p in paths]
    photos = [(p.name, im) for p, im in zip(paths, photos) if min(im.shape[1:]) >= crop]
    if not photos:
        raise SemcomError(f"no training photo in {folder} is at least {crop}x{crop} px")
    segmenter = segmenter or SlicSegmenter()
    gen = make_generator(seed)
    images, labels, counts, scores, names = [], [], [], [], []
    tries = 0
    while len(images) < count:
        tries += 1
        if tries > 4 * count:
            raise SemcomError(f"only {len(images)} of {count} crops had usable segments")
        name, photo = photos[int(torch.randint(len(photos), (1,), generator=gen))]
        top = int(torch.randint(photo.shape[1] - crop + 1, (1,), generator=gen))
        left = int(torch.randint(photo.shape[2] - crop + 1, (1,), generator=gen))
        x = photo[:, top:top + crop, left:left + crop]
        if torch.rand(1, generator=gen).item() < 0.5:
            x = x.flip(-1)
        segments = segmenter.segments(x).keep_largest(k)
        if len(segments) == 0:
            continue
        images.append((x * 255).round().to(torch.uint8))
        labels.append(segments.label_map().to(torch.int8))
        counts.append(len(segments))
        names.append(f"{name}@{top},{left}")
        if targets:
            t = torch.zeros(k)
            t[: len(segments)] = occlusion_importance(x, segments)
            scores.append(t)
        if len(images) % 50 == 0:
            log(f"pool: {len(images)}/{count} crops")
    return SegmentPool(torch.stack(images), torch.stack(labels), torch.tensor(counts),
                       torch.stack(scores) if targets else None, names)


def human_pool(folder: str | Path, csv_path: str | Path, k: int = DEFAULT_K, segmenter: Segmenter | None = None,
               max_side: int = 512) -> SegmentPool:
    """A pool of the whole photos scored in a human-score CSV (``load_human_scores``), each resized so its longer
    side is at most ``max_side`` and centre-cropped to a square; the CSV's segment indices refer to the segments
    the segmenter finds on that square."""
    from semcom.data.images import list_images

    paths = {p.name: p for p in list_images(folder)}
    scores = load_human_scores(csv_path, paths.keys())
    segmenter = segmenter or SlicSegmenter()
    images, labels, counts, targets, names = [], [], [], [], []
    for name, values in sorted(scores.items()):
        x = load_image(paths[name])
        side = min(x.shape[1:])
        top, left = (x.shape[1] - side) // 2, (x.shape[2] - side) // 2
        x = x[:, top:top + side, left:left + side]
        if side > max_side:
            x = F.interpolate(x[None], (max_side, max_side), mode="bilinear", antialias=True)[0].clamp(0, 1)
        segments = segmenter.segments(x).keep_largest(k)
        if len(values) > len(segments):
            raise SemcomError(f"{name}: the CSV scores {len(values)} segments but the segmenter found {len(segments)}")
        t = torch.zeros(k)
        t[: len(values)] = values
        images.append((x * 255).round().to(torch.uint8))
        labels.append(segments.label_map().to(torch.int8))
        counts.append(len(segments))
        targets.append(t)
        names.append(name)
    sizes = {tuple(im.shape) for im in images}
    if len(sizes) != 1:
        raise SemcomError(f"human-scored photos must give squares of one size, got {sorted(sizes)}")
    return SegmentPool(torch.stack(images), torch.stack(labels), torch.tensor(counts), torch.stack(targets), names)


# ---- configs -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LamSCTrainConfig:
    out: str
    part: str = "scorer"  # scorer | asc | receiver
    data: str | None = None  # training photos (default: ../shared/data/photos-train)
    pool_size: int = 400
    pool_crop: int = 256
    val_count: int = 4
    k: int = DEFAULT_K
    human_scores: str | None = None  # scorer: CSV image,segment,score instead of the proxy target
    steps: int = 600
    batch: int = 16
    lr: float = 1e-3
    lr_min: float = 1e-5
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
    log_every: int = 25
    ckpt_every: int = 50
    seed: int = 0
    threads: int = 0

    def __post_init__(self):
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

    def to_dict(self) -> dict:
        return asdict(self)


def _data_folder(cfg: LamSCTrainConfig) -> Path:
    from semcom.data.sources import shared_subdir

    return Path(cfg.data) if cfg.data else shared_subdir("photos-train")


def _start(cfg: LamSCTrainConfig, log) -> SegmentPool:
    """CPU settings, seeds, the run folder, and the run's pool: built once, cached in the folder (``pool.pt``)."""
    fast_cpu_math(cfg.threads)
    seed_everything(cfg.seed)
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    path = Path(cfg.out) / "pool.pt"
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


class _Run:
    """Checkpoint/resume/log plumbing shared by both parts."""

    def __init__(self, cfg: LamSCTrainConfig, model: torch.nn.Module, model_config: dict, log, resume_anyway=False):
        self.cfg, self.model, self.model_config = cfg, model, model_config
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.last = self.out / "last.pt"
        self.opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
        self.gen = make_generator(cfg.seed + 1)
        self.step, self.clock = 0, RunClock()
        if self.last.is_file():
            ckpt = read_checkpoint(self.last)
            if ckpt["model_config"] != model_config or ckpt.get("part") != cfg.part:
                raise SemcomError(f"{self.last} holds another model: {ckpt.get('part')} {ckpt['model_config']}")
            check_resume(ckpt.get("train_config"), cfg.to_dict(), self.last, resume_anyway, log)
            model.load_state_dict(ckpt["state_dict"])
            self.opt.load_state_dict(ckpt["optimizer"])
            self.step, self.clock = ckpt["step"], RunClock(ckpt["cpu_seconds"], ckpt["wall_seconds"])
            self.gen.set_state(ckpt["rng"])
            log(f"resumed from {self.last} at step {self.step}")
        (self.out / "config.json").write_text(json.dumps({"train": cfg.to_dict(), "model": model_config}, indent=2))
        self.jsonl = JsonlLog(self.out / "train.jsonl", log)

    def lr(self) -> float:
        lr = cosine_lr(self.step, self.cfg.steps, self.cfg.lr, self.cfg.lr_min, self.cfg.warmup)
        for group in self.opt.param_groups:
            group["lr"] = lr
        return lr

    def save(self, extra: dict | None = None) -> None:
        atomic_save({"model_config": self.model_config, "part": self.cfg.part, "train_config": self.cfg.to_dict(),
                     "state_dict": self.model.state_dict(), "optimizer": self.opt.state_dict(), "step": self.step,
                     **self.clock.state(), "rng": self.gen.get_state(), "torch": str(torch.__version__), **(extra or {})},
                    self.last)

    def after_step(self, loss: float, record: dict, progress, extra: dict | None = None) -> None:
        self.step += 1
        self.clock.tick()
        if progress is not None:
            progress(self.step, self.cfg.steps, loss)
        if self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps:
            self.jsonl.write({"step": self.step, "loss": loss, **record, **self.clock.hours()})
        if self.step % self.cfg.ckpt_every == 0 or self.step == self.cfg.steps:
            self.save(extra)


# ---- the scorer ----------------------------------------------------------------------------------------
def scorer_inputs(pool: SegmentPool, k: int) -> torch.Tensor:
    """Stacked segment images [N, 3k, 64, 64] of every pool entry."""
    return torch.stack([segment_images(pool.image(i), pool.segments(i), k) for i in range(len(pool))])


def train_scorer(cfg: LamSCTrainConfig, log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Train (or resume) the ASI scorer; returns the path of the last checkpoint."""
    pool = _start(cfg, log)
    if pool.targets is None:
        raise SemcomError(f"{Path(cfg.out) / 'pool.pt'} holds no importance targets: it was built for ASC; use a new --out")
    model = ASIScorer(cfg.k)
    run = _Run(cfg, model, {"k": cfg.k, "width": 32, "size": 64}, log, resume_anyway)
    x, y = scorer_inputs(pool, cfg.k), pool.targets
    filled = torch.arange(cfg.k)[None] < pool.counts[:, None]
    held = max(1, len(pool) // 10)  # last 10 % of the pool: validation loss
    model.train()
    while run.step < cfg.steps:
        lr = run.lr()
        idx = torch.randint(len(pool) - held, (cfg.batch,), generator=run.gen)
        xb = x[idx]
        flip = torch.rand(cfg.batch, generator=run.gen) < 0.5
        xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
        loss = ((model(xb) - y[idx]).pow(2) * filled[idx]).sum() / filled[idx].sum()
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        record = {"lr": lr}
        if (run.step + 1) % cfg.log_every == 0 or run.step + 1 == cfg.steps:
            record.update(scorer_validation(model, x[-held:], y[-held:], filled[-held:]))
        run.after_step(loss.item(), record, progress)
    return run.last


@torch.no_grad()
def scorer_validation(model: ASIScorer, x, y, filled) -> dict:
    """Validation MSE and how often the scorer's top segment is the target's top segment."""
    was = model.training
    model.eval()
    pred = model(x)
    model.train(was)
    mse = ((pred - y).pow(2) * filled).sum() / filled.sum()
    masked = lambda t: torch.where(filled, t, torch.full_like(t, -1.0))  # noqa: E731
    top = (masked(pred).argmax(1) == masked(y).argmax(1)).float().mean()
    return {"val_mse": mse.item(), "val_top1_agree": top.item()}


# ---- ASC -----------------------------------------------------------------------------------------------
def semantic_batch(pool: SegmentPool, batch: int, crop: int, gen: torch.Generator,
                   aligned: bool = True, whole: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """([batch, 3, crop, crop], regions bool [batch, crop, crop]): pool crops with a random non-empty subset of
    their segments kept, a random ``crop`` window each; the rest black, per 16x16 block as ``LamSC`` sends it
    (``aligned``) or per pixel. ``whole``: the windows unmasked, regions everywhere (the same random draws)."""
    idx = torch.randint(len(pool), (batch,), generator=gen).tolist()
    size = pool.images.shape[-1]
    out = torch.empty(batch, 3, crop, crop)
    regions = torch.empty(batch, crop, crop, dtype=torch.bool)
    for b, i in enumerate(idx):
        n = int(pool.counts[i])
        pick = torch.rand(n, generator=gen) < 0.5
        pick[int(torch.randint(n, (1,), generator=gen))] = True
        labels = pool.labels[i].long()
        region = pick[labels.clamp(min=0)] & (labels >= 0)
        top, left = (int(torch.randint(size - crop + 1, (1,), generator=gen)) for _ in range(2))
        regions[b] = region[top:top + crop, left:left + crop]
        window = pool.image(i)[:, top:top + crop, left:left + crop]
        if whole:
            regions[b], out[b] = True, window
        else:
            out[b] = block_aligned(window, regions[b]) if aligned else window * regions[b][None]
    return out, regions


def asc_loss(jscc, asc: ASC, channel, x: torch.Tensor, region: torch.Tensor, snr: torch.Tensor, cbr: float,
             rate_weight: float, generator=None) -> tuple[torch.Tensor, dict]:
    """One ASC training loss on semantic images ``x`` [B, 3, H, W] (H, W multiples of 16) with their regions
    (bool [B, H, W]) through a frozen JSCC. The objective is ``distortion + rate_weight * rate`` (distortion:
    MSE of the receiver's image; rate: the fraction of latent positions sent).

    Per-position masks (``group`` None): the frozen JSCC sends the whole latent once (no gradient), giving
    each 16x16 block's MSE when kept, ``keep_cost``; a dropped block is painted black by the receiver, so its
    MSE is its own energy, ``drop_cost``. Under this block-local model (a dropped block does not change how
    its neighbours decode; the evaluation measures the real effect) the objective is minimised block by
    block: keep a position exactly when ``drop_cost - keep_cost > rate_weight``. The mask learns to predict
    that decision from what the transmitter has (the latent and the coverage maps) by binary cross-entropy;
    the returned loss is that cross-entropy, and the record holds the objective of the mask's hard decisions
    (``objective``, ``mse``, ``rate``). Why not the straight-through gradient through the decoder: measured on
    this pool, on empty blocks its sign said "keep" (scaling an empty block's latent towards zero first makes
    the decoder paint it grey) and the mask never learnt to drop the background; a straight-through gradient
    of the block-local objective instead let the far larger "keep" gradients of content blocks saturate
    every probability at 1.
    Channel-group masks (``group`` set): the straight-through gradient through the decoder.
    """
    c = jscc.channels_for_cbr(cbr)
    counts = torch.full((x.shape[0],), c)
    side = jscc.side_info(snr, counts)
    with torch.no_grad():
        latent = jscc.encoder(x, side)[:, :c]
    out = asc(latent, coverage(region, latent.shape[2:]) if asc.masknet.side_channels else None)
    rest = torch.zeros(x.shape[0], jscc.cfg.latent_channels - c, *latent.shape[2:])
    rate = out["rate"].mean()
    if asc.masknet.group == c:
        with torch.no_grad():
            z_hat = channel(normalize_power(latent), snr, generator)
            x_hat = jscc.decoder(torch.cat([z_hat, rest], dim=1), side)
            keep_cost = F.avg_pool2d((x_hat - x).pow(2).mean(dim=1, keepdim=True), FACTOR)
            drop_cost = F.avg_pool2d(x.pow(2).mean(dim=1, keepdim=True), FACTOR)
            target = (drop_cost - keep_cost > rate_weight).float()
            hard = out["mask"][:, :1].detach()
            mse = (hard * keep_cost + (1 - hard) * drop_cost).mean()
        loss = F.binary_cross_entropy(out["keep_prob"].clamp(1e-6, 1 - 1e-6), target)
        record = {"mse": mse.item(), "rate": hard.mean().item(), "objective": (mse + rate_weight * hard.mean()).item(),
                  "target_keep": target.mean().item()}
    else:
        z = normalize_power(out["latent"], out["mask"])
        z_hat = channel(z, snr, generator) * out["mask"]
        x_hat = jscc.decoder(torch.cat([z_hat, rest], dim=1), side)
        sent = out["mask"].amax(dim=1, keepdim=True)  # [B, 1, h, w], straight-through
        mse = F.mse_loss(x_hat * F.interpolate(sent, scale_factor=FACTOR, mode="nearest"), x)
        loss = mse + rate_weight * rate
        record = {"mse": mse.item(), "rate": rate.item(), "objective": loss.item()}
    return loss, {**record, "kept": out["mask"].mean().item()}


def train_asc(cfg: LamSCTrainConfig, log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Train (or resume) the ASC mask over a frozen JSCC; returns the path of the last checkpoint."""
    pool = _start(cfg, log)
    jscc_path = cfg.jscc or str(DEFAULT_CHECKPOINT)
    jscc, _ = load_jscc(jscc_path)
    for p in jscc.parameters():
        p.requires_grad_(False)
    c = jscc.channels_for_cbr(cfg.cbr)
    side = 1 if cfg.coverage else 0
    asc = ASC(c, group=cfg.group, side_channels=side)
    model_config = {"channels": c, "group": cfg.group, "hidden": 64, "init_keep": 0.9, "side_bits_per_use": 1.0,
                    "side_channels": side}
    run = _Run(cfg, asc, model_config, log, resume_anyway)
    channel = build_channel(cfg.channel)
    lo, hi = cfg.snr_range
    extra = {"cbr": cfg.cbr, "jscc": Path(jscc_path).name}
    asc.train()
    while run.step < cfg.steps:
        lr = run.lr()
        x, region = semantic_batch(pool, cfg.batch, cfg.crop, run.gen)
        snr = lo + (hi - lo) * torch.rand(cfg.batch, generator=run.gen)
        loss, parts = asc_loss(jscc, asc, channel, x, region, snr, cfg.cbr, cfg.rate_weight, run.gen)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        run.after_step(loss.item(), {"lr": lr, **parts}, progress, extra)
    return run.last


# ---- the receiver ---------------------------------------------------------------------------------------
def receiver_loss(receiver, asc: ASC | None, channel, x: torch.Tensor, region: torch.Tensor, snr: torch.Tensor,
                  cbr: float, generator=None) -> tuple[torch.Tensor, dict]:
    """MSE of ``receiver`` (a copy of the JSCC whose decoder, and possibly encoder, learns) on semantic images ``x``
    [B, 3, H, W] with regions (bool [B, H, W]) sent as ``LamSC.send`` sends them with ``asc``: the receiver copy's
    latent, the kept elements of its power-normalised version at unit power per channel use, the background latent
    (scaled like the latent) at the dropped positions. The loss is taken over the blocks with a kept element (the
    receiver paints the others black); gradients reach the encoder when its parameters require them.
    Deployment sends the kept values back to back; here the channel sees the whole (masked) latent and only the
    kept positions' outputs are used: the same noise distribution for AWGN and (per value) fast Rayleigh.
    The float16 rounding of the two scale factors is left out. ``asc`` None: the whole latent is sent (the control
    run: plain JSCC fine-tuning)."""
    c = receiver.channels_for_cbr(cbr)
    side = receiver.side_info(snr, torch.full((x.shape[0],), c))
    latent = receiver.encoder(x, side)[:, :c]
    with torch.no_grad():
        if asc is None:
            keep = torch.ones_like(latent, dtype=torch.bool)
        else:
            _, keep, _ = asc.apply(latent.detach(), coverage(region, latent.shape[2:]) if asc.masknet.side_channels else None)
        background = background_latent(receiver, snr, cbr)[:, :, None, None]
        rest = torch.zeros(x.shape[0], receiver.cfg.latent_channels - c, *latent.shape[2:])
        paint = torch.stack([block_mask(k[None], tuple(x.shape[2:])) for k in keep])[:, None]
    normalised = normalize_power(latent)
    kept = keep.float()
    gain, scale = kept_gain_and_scale(latent, normalised, keep)
    gain = gain[:, None, None, None]
    received = channel(normalised * gain * kept, snr, generator) / gain
    latent_hat = torch.where(keep, received, (scale[:, None, None, None] * background).expand_as(latent))
    x_hat = receiver.decoder(torch.cat([latent_hat, rest], dim=1), side)
    area = paint.sum().clamp_min(1) * x.shape[1]
    loss = ((x_hat - x).pow(2) * paint).sum() / area
    return loss, {"mse": loss.item(), "kept": kept.mean().item()}


def train_receiver(cfg: LamSCTrainConfig, log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Fine-tune a copy of the JSCC as LAM-SC's receiver: its decoder, and with ``train_encoder`` its encoder too (the
    ASC mask stays frozen); returns the last checkpoint."""
    pool = _start(cfg, log)
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
    run = _Run(cfg, receiver if cfg.train_encoder else receiver.decoder, model_config, log, resume_anyway)
    channel = build_channel(cfg.channel)
    lo, hi = cfg.snr_range
    extra = {"jscc_file": Path(jscc_path).name, "asc_file": Path(asc_path).name if asc_path else None}
    receiver.train()
    while run.step < cfg.steps:
        lr = run.lr()
        x, region = semantic_batch(pool, cfg.batch, cfg.crop, run.gen, whole=cfg.whole_images)
        snr = lo + (hi - lo) * torch.rand(cfg.batch, generator=run.gen)
        loss, parts = receiver_loss(receiver, asc, channel, x, region, snr, cfg.cbr, run.gen)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        run.after_step(loss.item(), {"lr": lr, **parts}, progress, extra)
    return run.last


def train_lamsc(cfg: LamSCTrainConfig, log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Train (or resume) ``cfg.part``; resuming with other training settings is a SemcomError unless
    ``resume_anyway``."""
    return {"scorer": train_scorer, "asc": train_asc, "receiver": train_receiver}[cfg.part](cfg, log, progress,
                                                                                            resume_anyway)
