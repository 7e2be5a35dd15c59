"""Training SemanticNN and its baselines: stage 1 feature MSE, then stage 2 task loss, frozen classifier.

Stage 1 (``stage1_steps``) trains the codec as a denoising autoencoder of the split features; stage 2
(``stage2_steps``) trains it through the frozen tail with the variant's loss (cross-entropy,
distillation, or still feature MSE for the reconstruction-only ADJSCC baseline), plus the optional
integrated-gradients alignment term (``xai_weight``). Digital codecs add the quantiser's ``fit_loss`` in both
stages, so the levels track the distribution of the symbols. Each stage has its own warm-up + cosine schedule.
SNR is drawn uniformly from ``snr_range`` per example. The run (resume from ``<out>/last.pt``, JSONL log with steps
and CPU-hours, checkpoints) is a ``semcom.training.Run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from semcom.data.cifar import CifarBatches, cifar10_train
from semcom.errors import SemcomError
from semcom.schemes.splitnn import losses
from semcom.schemes.splitnn.checkpoint import checkpoint_fields
from semcom.schemes.splitnn.evaluate import batches
from semcom.schemes.splitnn.model import SemanticNN
from semcom.schemes.splitnn.variants import SPLIT_MODEL, Variant, get_variant, split_for
from semcom.seeding import make_generator
from semcom.splitting.losses import distillation
from semcom.training.loop import cosine_lr
from semcom.training.run import Run, RunConfig
from semcom.units import check_snr_db


@dataclass(frozen=True, kw_only=True)
class SplitTrainConfig(RunConfig):
    """The run settings (``RunConfig``) and these; ``steps`` is the two stages together."""

    variant: str = "semanticnn-c8b3"
    data: str | None = None  # folder holding cifar10_train_jpg.zip (default: the shared data folder)
    weights: str | None = None  # ResNet-20 weights (default: the shared data folder)
    limit: int | None = None  # use only the first N training images (class-balanced)
    val_count: int = 1000  # last N of the training images, held out
    stage1_steps: int = 300
    stage2_steps: int = 2000
    batch: int = 64
    lr: float = 2e-3
    lr_min: float = 2e-5
    warmup: int = 50
    snr_range: tuple[float, float] = (-6.0, 7.0)
    channel: str = "awgn"
    modulation: str = "qpsk"
    xai_weight: float = 0.0
    xai_steps: int = 4
    cache: str | None = None  # .npz cache of the decoded training set

    def __post_init__(self):
        super().__post_init__()
        variant = get_variant(self.variant)
        lo, hi = self.snr_range
        if variant.link == "adaptive" and hi < variant.clean_snr_db:
            raise SemcomError(f"{variant.name} is decoded at {variant.clean_snr_db:g} dB when its coded block arrives: "
                              f"train it up to there (snr_range high >= {variant.clean_snr_db:g}, got {hi:g})")
        check_snr_db(torch.tensor([lo, hi]))
        if lo > hi:
            raise SemcomError(f"SNR range must be low,high; got {lo},{hi}")
        if self.stage1_steps < 0 or self.stage2_steps < 0 or self.stage1_steps + self.stage2_steps < 1:
            raise SemcomError("stage steps must be >= 0 with at least one step in total")
        if self.batch < 1 or self.val_count < 0 or self.xai_weight < 0 or self.xai_steps < 1:
            raise SemcomError("batch and xai_steps must be >= 1; val_count and xai_weight >= 0")

    @property
    def steps(self) -> int:
        return self.stage1_steps + self.stage2_steps


def stage_of(cfg: SplitTrainConfig, step: int) -> tuple[int, float]:
    """(stage 1 or 2, learning rate) at ``step`` (0-based)."""
    if step < cfg.stage1_steps:
        return 1, cosine_lr(step, cfg.stage1_steps, cfg.lr, cfg.lr_min, cfg.warmup)
    return 2, cosine_lr(step - cfg.stage1_steps, cfg.stage2_steps, cfg.lr, cfg.lr_min, cfg.warmup)


def stage_loss(model: SemanticNN, cfg: SplitTrainConfig, stage: int, out: dict, labels: torch.Tensor) -> torch.Tensor:
    variant = get_variant(cfg.variant)
    kind = "none" if stage == 1 else variant.stage2
    if kind == "none":
        loss = losses.feature_mse(out, model.codec.feature_std)
    elif kind == "ce":
        loss = losses.cross_entropy(out, labels)
    else:
        with torch.no_grad():
            teacher = model.split.tail(out["features"])
        loss = distillation(out, teacher, variant.kd_temperature)
    if kind != "none" and variant.feature_weight > 0:
        loss = loss + variant.feature_weight * losses.feature_mse(out, model.codec.feature_std)
    loss = loss + out["quantizer_loss"]  # levels follow the symbols (1-D k-means), symbols stay near their levels
    if stage == 2 and cfg.xai_weight > 0:
        loss = loss + cfg.xai_weight * losses.attribution_alignment(model.split.tail, out, labels, cfg.xai_steps)
    return loss


@torch.no_grad()
def validate(model: SemanticNN, x: torch.Tensor, y: torch.Tensor, snrs=(-6.0, 0.0, 7.0)) -> dict:
    """Top-1 accuracy (%) on the held-out uint8 images at fixed SNRs and a fixed noise seed, in batches of 100."""
    model.eval()
    result = {}
    for snr in snrs:
        gen = make_generator(1234)
        correct = sum((model(xb, snr, gen)["logits"].argmax(1) == yb).sum().item() for xb, yb in batches(x, y, 100))
        result[f"acc_snr{snr:g}"] = 100 * correct / len(x)
    model.train()
    return result


PHOTO_CROPS = 4000  # training crops for a photo classifier (EfficientNet-Lite0) when no --limit is given
PHOTO_MIX = (("photos-train", 0.5), ("camvid", 0.25), ("cifar10", 0.25))
"""Where the photo classifier's training crops come from (shares of ``limit``), all from the shared data folder:
the training photos (all but the last 4), CamVid training frames (240x180, upsampled a little) and CIFAR-10
training images (32 px, upsampled: blurry, but 10 ImageNet-like object categories the photos barely show)."""


@torch.no_grad()
def pseudo_labels(split, images: torch.Tensor, batch: int = 50) -> torch.Tensor:
    """Top-1 predictions of the uncompressed model for uint8 images: the targets where no labels exist."""
    return torch.cat([split(images[i:i + batch].float() / 255).argmax(1) for i in range(0, len(images), batch)])


def photo_sources(data: str | None) -> dict:
    """{source name: image paths or uint8 images} for ``PHOTO_MIX``; only ``data`` (a folder of photos) if given."""
    from semcom.data.crops import split_train_val
    from semcom.data.images import list_images
    from semcom.data.sources import shared_data_dir, shared_subdir

    if data:
        return {"photos-train": split_train_val(data, 4)[0]}
    cifar_images, _ = cifar10_train(shared_data_dir(), limit=5000)
    return {"photos-train": split_train_val(shared_subdir("photos-train"), 4)[0],
            "camvid": list_images(shared_subdir("camvid") / "train" / "images"),
            "cifar10": cifar_images}


def training_set(cfg: SplitTrainConfig, variant: Variant, split) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images, labels); the last ``val_count`` are the validation set.

    CIFAR ResNet: the CIFAR-10 training zip with its labels. EfficientNet-Lite0 (ImageNet, no labels here):
    ``limit`` (default ``PHOTO_CROPS``) scaled 224 px crops mixed as in ``PHOTO_MIX`` (or of the photos in
    ``data`` only), then ``val_count`` crops of the 4 held-out training photos (last by name), all labelled by
    the uncompressed model, so accuracy means top-1 agreement with it.
    """
    if variant.model == SPLIT_MODEL:
        return cifar10_train(cfg.data, limit=cfg.limit, cache=cfg.cache)
    from semcom.data.crops import scaled_crops, split_train_val
    from semcom.data.sources import shared_subdir

    gen = make_generator(cfg.seed + 7)
    size = split.input_shape[-1]
    total = cfg.limit or PHOTO_CROPS
    sources = photo_sources(cfg.data)
    shares = {name: share for name, share in PHOTO_MIX if name in sources}
    counts = {name: max(1, round(total * share / sum(shares.values()))) for name, share in shares.items()}
    val_paths = split_train_val(cfg.data or shared_subdir("photos-train"), 4)[1]
    images = torch.cat([*(scaled_crops(sources[name], n, size, gen) for name, n in counts.items()),
                        scaled_crops(val_paths, max(1, cfg.val_count), size, gen)])
    return images, pseudo_labels(split, images)


def train_splitnn(cfg: SplitTrainConfig, log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Train (or resume) one variant; returns the path of the last checkpoint. Resuming with other training settings
    is a SemcomError unless ``resume_anyway``."""
    run = Run(cfg, log, resume_anyway)
    variant = get_variant(cfg.variant)
    split = split_for(variant, cfg.weights)
    model = SemanticNN(split, variant.codec_config(split.feature_shape()[0]), cfg.modulation, cfg.channel)
    images, labels = training_set(cfg, variant, split)
    if cfg.val_count >= len(images):
        raise SemcomError(f"val_count {cfg.val_count} leaves no training images out of {len(images)}")
    cut = len(images) - cfg.val_count
    val_x, val_y = images[cut:], labels[cut:]
    gen = make_generator(cfg.seed)
    batches = CifarBatches(images[:cut], labels[:cut], cfg.batch, augment=True, drop_last=True, generator=gen)
    opt = torch.optim.Adam([p for p in model.codec.parameters()], lr=cfg.lr)
    if not run.resuming:
        with torch.no_grad():
            sample = images[:min(cut, 2000 if images.shape[-1] <= 64 else 256)]
            model.codec.fit_feature_stats(torch.cat([model.split.head(sample[i:i + 64].float() / 255)
                                                     for i in range(0, len(sample), 64)]))
    fields = checkpoint_fields(model, variant)
    run.start(model.codec, opt, gen, fields.pop("model_config"), meta=fields)

    model.train()
    lo, hi = cfg.snr_range
    while not run.finished:
        for x, y in batches:
            if run.finished:
                break
            stage, lr = stage_of(cfg, run.step)
            run.set_lr(lr)
            snr = lo + (hi - lo) * torch.rand(len(x), generator=gen)
            needs_tail = stage == 2 and (variant.stage2 != "none" or cfg.xai_weight > 0)
            result = model(x, snr, gen, classify=needs_tail)
            loss = stage_loss(model, cfg, stage, result, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run.after_step(loss.item(), progress, record={"stage": stage}, restart_average=run.step == cfg.stage1_steps,
                           validate=(lambda: validate(model, val_x, val_y)) if cfg.val_count else None)
    return run.end()
