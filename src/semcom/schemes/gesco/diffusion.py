"""GESCO's generative receiver: a semantic diffusion model (SDM) that draws an image from a (received) label map.

The network follows SDM (Wang et al. 2022, "Semantic image synthesis via diffusion models"): a UNet whose encoder
sees only the noisy image, while its middle and decoder blocks normalise with SPADE -- GroupNorm without affine
parameters, then a per-pixel scale and shift predicted by a small conv net from the label map resized to the block's
resolution. The label map enters as class probabilities ``[B, C, H, W]`` (one-hot for a clean map, soft for a
received one), so a map damaged by the channel conditions the model as it is.

Diffusion: DDPM training with epsilon prediction on a linear beta schedule (1000 steps, ``diffusers.DDPMScheduler``
adds the noise), DDIM sampling with any step count (``diffusers.DDIMScheduler``, "trailing" spacing so that a few
steps still start from pure noise), reproducible under a ``torch.Generator``. Images live in [-1, 1] inside the
model; the public API takes and returns images in [0, 1].

Classifier-free guidance, the convention implemented here (the one of SDM's code)::

    eps = eps_uncond + s * (eps_cond - eps_uncond)

``s = 0``: unconditional; ``s = 1``: plain conditional (no guidance, one UNet evaluation per step); ``s > 1``: guided.
The unconditional prediction conditions on the all-zero map (SDM's null map; no valid probability map is zero
everywhere), which training shows with probability ``p_drop``. SDM's ``--s`` uses this same formula
(``guided_diffusion/gaussian_diffusion.py``: ``zero + s * (cond - zero)``, guidance only for s > 1), so its s = 2
(Cityscapes) and s = 2.5 (ADE20K, COCO-Stuff) are ``guidance=2.0`` / ``2.5`` here. Ho & Salimans write the same
rule as ``(1 + w) eps_cond - w eps_uncond``: their w is s - 1.

Not taken from SDM: its learned variance (``learn_sigma``; DDIM with eta = 0 does not use it), fp16 and
up/downsampling inside residual blocks (plain strided conv and nearest upsampling + conv instead).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from semcom.data.camvid import check_labels, one_hot
from semcom.errors import SemcomError


def check_sampling(guidance: float, steps: int, train_steps: int) -> None:
    """SemcomError unless the guidance scale is >= 0 and 1 <= steps <= train_steps."""
    if not guidance >= 0:  # also refuses NaN
        raise SemcomError(f"guidance scale must be >= 0, got {guidance}")
    if int(steps) != steps or not 1 <= steps <= train_steps:
        raise SemcomError(f"sampling steps must be an integer in 1..{train_steps}, got {steps}")


@dataclass(frozen=True, kw_only=True)
class DiffusionConfig:
    """Everything needed to rebuild the model; stored in every checkpoint.

    ``classes``: label classes (channels of the map); ``edge``: one more map channel, the instance-edge map, for data
    sets with instances; ``height``/``width``: image size (the map has the same); ``base``: channels at full
    resolution; ``mults``: channel multiplier per resolution level (each level after the first halves the
    resolution); ``res_blocks``: residual blocks per level in the encoder (the decoder has one more);
    ``attention``: downsampling factors (1, 2, 4, ...) whose blocks get self-attention; ``head_channels``: channels
    per attention head; ``spade_hidden``: width of SPADE's map net; ``spade_kernel``: kernel size of its gamma/beta
    conv (SDM: 3); ``groups``: GroupNorm groups (fewer where a width is not divisible); ``dropout``: in residual
    blocks. Schedule: ``train_steps`` linear betas from ``beta_start`` to
    ``beta_end``. Sampling defaults: ``guidance`` (s, see the module docstring) and ``sample_steps`` (DDIM)."""

    classes: int
    height: int
    width: int
    edge: bool = False
    base: int = 32
    mults: tuple[int, ...] = (1, 2, 2)
    res_blocks: int = 1
    attention: tuple[int, ...] = ()
    head_channels: int = 64
    spade_hidden: int = 32
    spade_kernel: int = 3
    groups: int = 32
    dropout: float = 0.0
    train_steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    guidance: float = 1.5
    sample_steps: int = 50

    def __post_init__(self):
        if self.classes < 2:
            raise SemcomError(f"a label map needs at least 2 classes, got {self.classes}")
        if self.height < 8 or self.width < 8:
            raise SemcomError(f"image size must be at least 8x8, got {self.height}x{self.width}")
        if self.base < 1 or not self.mults or any(m < 1 for m in self.mults) or self.res_blocks < 1:
            raise SemcomError("base, mults and res_blocks must be >= 1 (and mults not empty)")
        if any(a not in [2 ** i for i in range(len(self.mults))] for a in self.attention):
            raise SemcomError(f"attention factors must be among the model's downsampling factors "
                              f"{[2 ** i for i in range(len(self.mults))]}, got {self.attention}")
        if self.spade_hidden < 1 or self.spade_kernel < 1 or self.spade_kernel % 2 == 0 or self.head_channels < 1:
            raise SemcomError("spade_hidden and head_channels must be >= 1 and spade_kernel odd")
        if not 0 < self.beta_start < self.beta_end < 1 or self.train_steps < 2:
            raise SemcomError("the schedule needs 0 < beta_start < beta_end < 1 and train_steps >= 2")
        check_sampling(self.guidance, self.sample_steps, self.train_steps)

    @property
    def map_channels(self) -> int:
        """Channels of the conditioning map: the classes, plus the instance-edge map where ``edge``."""
        return self.classes + int(self.edge)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DiffusionConfig:
        return cls(**{**d, "mults": tuple(d["mults"]), "attention": tuple(d["attention"])})


CONFIGS: dict[str, DiffusionConfig] = {
    # CPU default: CamVid (240x180, 12 classes, 11 = void) downscaled to 64x48 (the trainer resizes to 72x54, then
    # takes random 64x48 crops); 0.44-0.58 process-CPU-seconds per training step of batch 8 on one thread (measured
    # beside another training run). The guidance default s = 1.5 is a starting point: the shipped model carries the
    # s and DDIM steps chosen on CamVid val (export_diffusion(..., guidance=, sample_steps=); README).
    "camvid-cpu": DiffusionConfig(classes=12, height=48, width=64, base=16, mults=(1, 2, 4, 4), res_blocks=1,
                                  attention=(4, 8), head_channels=32, spade_hidden=16, groups=8, guidance=1.5,
                                  sample_steps=50),
    # SDM's 256-px settings (num_channels 256, channel mult 1,1,2,2,4,4, 2 res blocks, attention at 32/16/8 px,
    # 64-channel heads, SPADE hidden width 128): for GPU users with the data. Cityscapes is 256x512 as in SDM.
    "cityscapes": DiffusionConfig(classes=35, edge=True, height=256, width=512, base=256, mults=(1, 1, 2, 2, 4, 4),
                                  res_blocks=2, attention=(8, 16, 32), head_channels=64, spade_hidden=128,
                                  dropout=0.0, guidance=2.0, sample_steps=100),
    "ade20k": DiffusionConfig(classes=151, height=256, width=256, base=256, mults=(1, 1, 2, 2, 4, 4), res_blocks=2,
                              attention=(8, 16, 32), head_channels=64, spade_hidden=128, guidance=2.5,
                              sample_steps=100),
    "coco-stuff": DiffusionConfig(classes=183, edge=True, height=256, width=256, base=256, mults=(1, 1, 2, 2, 4, 4),
                                  res_blocks=2, attention=(8, 16, 32), head_channels=64, spade_hidden=128,
                                  guidance=2.5, sample_steps=100),
}
"""Named model configs: the CPU default and the paper's scale (s = 2 Cityscapes, 2.5 ADE20K / COCO-Stuff)."""


def diffusion_config(name: str, **changes) -> DiffusionConfig:
    """The named config (``CONFIGS``), with ``changes`` to any of its fields."""
    if name not in CONFIGS:
        raise SemcomError(f"unknown diffusion config {name!r}; choose one of {', '.join(CONFIGS)}")
    unknown = sorted(set(changes) - set(CONFIGS[name].to_dict()))
    if unknown:
        raise SemcomError(f"a diffusion config has no field {unknown[0]!r}")
    return replace(CONFIGS[name], **changes)


def label_probs(labels: torch.Tensor, classes: int) -> torch.Tensor:
    """A label map as one-hot class probabilities: ``labels`` [B, H, W] (or [H, W]) integer class indices in
    0..classes-1 -> [B, C, H, W] float32. Values outside the range are a SemcomError."""
    if isinstance(labels, torch.Tensor) and labels.dim() == 2:
        labels = labels[None]
    return one_hot(check_labels(labels, classes, "label map"), classes)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (integer or fractional) timesteps ``t`` [B] -> [B, dim] (as in DDPM / guided-diffusion)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, dim % 2))


def _groups(channels: int, groups: int) -> int:
    return math.gcd(channels, groups)


def _zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class Spade(nn.Module):
    """SPADE: GroupNorm without affine parameters, then ``x * (1 + gamma) + beta`` with gamma and beta predicted per
    pixel by a small conv net from the map (resized to ``x``'s size by area averaging, so soft maps stay soft)."""

    def __init__(self, channels: int, map_channels: int, hidden: int, groups: int, kernel: int = 3):
        super().__init__()
        self.norm = nn.GroupNorm(_groups(channels, groups), channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(map_channels, hidden, 3, padding=1), nn.ReLU())
        self.gamma_beta = nn.Conv2d(hidden, 2 * channels, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        if seg.shape[-2:] != x.shape[-2:]:
            seg = F.interpolate(seg, size=x.shape[-2:], mode="area")
        gamma, beta = self.gamma_beta(self.shared(seg)).chunk(2, dim=1)
        return self.norm(x) * (1 + gamma) + beta


class ResBlock(nn.Module):
    """Residual block with a time-embedding scale and shift (``use_scale_shift_norm``); with ``map_channels`` both
    norms are SPADE (SDM's decoder and middle blocks), else GroupNorm with affine parameters (its encoder)."""

    def __init__(self, cin: int, cout: int, emb: int, cfg: DiffusionConfig, spade: bool):
        super().__init__()
        self.spade = spade
        if spade:
            self.norm1 = Spade(cin, cfg.map_channels, cfg.spade_hidden, cfg.groups, cfg.spade_kernel)
            self.norm2 = Spade(cout, cfg.map_channels, cfg.spade_hidden, cfg.groups, cfg.spade_kernel)
        else:
            self.norm1 = nn.GroupNorm(_groups(cin, cfg.groups), cin)
            self.norm2 = nn.GroupNorm(_groups(cout, cfg.groups), cout)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, 2 * cout)
        self.drop = nn.Dropout(cfg.dropout)
        self.conv2 = _zero(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def _norm(self, norm: nn.Module, h: torch.Tensor, seg: torch.Tensor | None) -> torch.Tensor:
        return norm(h, seg) if self.spade else norm(h)

    def forward(self, x: torch.Tensor, emb: torch.Tensor, seg: torch.Tensor | None) -> torch.Tensor:
        h = self.conv1(F.silu(self._norm(self.norm1, x, seg)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self._norm(self.norm2, h, seg) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map (pre-norm, residual, zero-initialised output)."""

    def __init__(self, channels: int, head_channels: int, groups: int):
        super().__init__()
        self.heads = max(1, channels // head_channels)
        while channels % self.heads:  # the largest head count that divides the channels
            self.heads -= 1
        self.norm = nn.GroupNorm(_groups(channels, groups), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = _zero(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).transpose(-1, -2).unbind(1)
        y = F.scaled_dot_product_attention(q, k, v)  # [b, heads, hw, c/heads]
        return x + self.out(y.transpose(-1, -2).reshape(b, c, h, w))


class SemanticDiffusion(nn.Module):
    """SDM-style UNet predicting the noise of a noisy image given a label map, with its schedule and samplers.

    ``forward(x_t, t, probs)``: ``x_t`` [B, 3, H, W] noisy image (model space, [-1, 1] plus noise), ``t`` [B] or a
    scalar integer timestep in 0..train_steps-1, ``probs`` [B, C, H, W] class probabilities (``C`` =
    ``cfg.map_channels``) or None for the null (all-zero) map -> predicted noise [B, 3, H, W].
    ``loss(x, probs, generator, p_drop)``: the DDPM training loss. ``sample(probs, ...)``: images in [0, 1].
    """

    def __init__(self, cfg: DiffusionConfig):
        super().__init__()
        from diffusers import DDPMScheduler

        self.cfg = cfg
        self.scheduler = DDPMScheduler(num_train_timesteps=cfg.train_steps, beta_start=cfg.beta_start,
                                       beta_end=cfg.beta_end, beta_schedule="linear", prediction_type="epsilon",
                                       clip_sample=True)
        emb = 4 * cfg.base
        self.time = nn.Sequential(nn.Linear(cfg.base, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.stem = nn.Conv2d(3, cfg.base, 3, padding=1)
        widths = [cfg.base * m for m in cfg.mults]
        self.down, skips, ch = nn.ModuleList(), [cfg.base], cfg.base
        for level, width in enumerate(widths):
            for _ in range(cfg.res_blocks):
                self.down.append(self._level_block(ch, width, emb, 2 ** level, spade=False))
                ch = width
                skips.append(ch)
            if level < len(widths) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.middle = nn.ModuleList([ResBlock(ch, ch, emb, cfg, spade=True),
                                     Attention(ch, cfg.head_channels, cfg.groups),
                                     ResBlock(ch, ch, emb, cfg, spade=True)])
        self.up = nn.ModuleList()
        for level in reversed(range(len(widths))):
            for i in range(cfg.res_blocks + 1):
                self.up.append(self._level_block(ch + skips.pop(), widths[level], emb, 2 ** level, spade=True))
                ch = widths[level]
            if level > 0:
                self.up.append(Upsample(ch))
        self.out = nn.Sequential(nn.GroupNorm(_groups(ch, cfg.groups), ch), nn.SiLU(),
                                 _zero(nn.Conv2d(ch, 3, 3, padding=1)))

    def _level_block(self, cin: int, cout: int, emb: int, factor: int, spade: bool) -> nn.Module:
        block = ResBlock(cin, cout, emb, self.cfg, spade)
        if factor in self.cfg.attention:
            return Block(block, Attention(cout, self.cfg.head_channels, self.cfg.groups))
        return Block(block, None)

    # --- the network -------------------------------------------------------------------------------------------

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | int, probs: torch.Tensor | None) -> torch.Tensor:
        self.check_image(x_t)
        if probs is None:
            probs = x_t.new_zeros(x_t.shape[0], self.cfg.map_channels, *x_t.shape[-2:])
        else:
            self.check_map(probs, x_t.shape[-2:])
            probs = probs.to(x_t.dtype)
        t = torch.as_tensor(t, device=x_t.device).reshape(-1).expand(x_t.shape[0])
        emb = self.time(timestep_embedding(t, self.cfg.base))
        h = self.stem(x_t)
        hs = [h]
        for layer in self.down:
            h = layer(h, emb, None) if isinstance(layer, Block) else layer(h)
            hs.append(h)
        for layer in self.middle:
            h = layer(h) if isinstance(layer, Attention) else layer(h, emb, probs)
        for layer in self.up:
            if isinstance(layer, Upsample):
                h = layer(h, hs[-1].shape[-2:])
            else:
                h = layer(torch.cat([h, hs.pop()], dim=1), emb, probs)
        return self.out(h)

    def check_image(self, x: torch.Tensor) -> None:
        """SemcomError unless ``x`` is [B, 3, H, W] at the model's size."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise SemcomError(f"images must be [B, 3, H, W], got shape {tuple(x.shape)}")
        if tuple(x.shape[-2:]) != (self.cfg.height, self.cfg.width):
            raise SemcomError(f"this model makes {self.cfg.height}x{self.cfg.width} images, got an image of "
                              f"{x.shape[-2]}x{x.shape[-1]}")

    def check_map(self, probs: torch.Tensor, size: tuple[int, int] | torch.Size | None = None) -> None:
        """SemcomError unless ``probs`` is a float [B, C, H, W] map with the model's channel count and image size
        (``size``, the image's, when given)."""
        if not probs.dtype.is_floating_point or probs.dim() != 4:
            raise SemcomError(f"a conditioning map is float class probabilities [B, C, H, W], got "
                              f"{probs.dtype} of shape {tuple(probs.shape)} (use label_probs for class indices)")
        if probs.shape[1] != self.cfg.map_channels:
            raise SemcomError(f"the map has {probs.shape[1]} class channels but the model was trained on "
                              f"{self.cfg.map_channels}")
        want = tuple(size) if size is not None else (self.cfg.height, self.cfg.width)
        if tuple(probs.shape[-2:]) != want:
            raise SemcomError(f"map size {probs.shape[-2]}x{probs.shape[-1]} differs from the image size "
                              f"{want[0]}x{want[1]}")

    # --- training ----------------------------------------------------------------------------------------------

    def training_inputs(self, x: torch.Tensor, probs: torch.Tensor, generator: torch.Generator | None = None,
                        p_drop: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One DDPM training example per image: ``x`` [B, 3, H, W] clean images in [0, 1], ``probs`` their (possibly
        corrupted) maps -> (``x_t`` noisy images, ``t`` [B] timesteps, the maps with each replaced by the null map
        with probability ``p_drop`` (label dropout for guidance), ``noise`` the target). Timesteps, noise and
        dropout come from ``generator`` (a CPU generator); ``diffusers.DDPMScheduler.add_noise`` mixes."""
        self.check_image(x)
        self.check_map(probs, x.shape[-2:])
        if not 0 <= p_drop <= 1:
            raise SemcomError(f"p_drop must be in [0, 1], got {p_drop}")
        b = x.shape[0]
        t = torch.randint(0, self.cfg.train_steps, (b,), generator=generator)
        noise = torch.randn(x.shape, generator=generator)
        keep = (torch.rand(b, generator=generator) >= p_drop).float()
        t, noise, keep = t.to(x.device), noise.to(x.device, x.dtype), keep.to(x.device, x.dtype)
        x_t = self.scheduler.add_noise(x * 2 - 1, noise, t)
        return x_t, t, probs * keep[:, None, None, None], noise

    def loss(self, x: torch.Tensor, probs: torch.Tensor, generator: torch.Generator | None = None,
             p_drop: float = 0.0) -> dict:
        """The DDPM loss on ``training_inputs(x, probs, generator, p_drop)``: ``{"loss": MSE of the predicted
        noise}`` (a scalar tensor)."""
        x_t, t, cond, noise = self.training_inputs(x, probs, generator, p_drop)
        return {"loss": F.mse_loss(self(x_t, t, cond), noise)}

    # --- sampling ----------------------------------------------------------------------------------------------

    def guided_eps(self, x_t: torch.Tensor, t: torch.Tensor | int, probs: torch.Tensor,
                   guidance: float) -> torch.Tensor:
        """``eps_uncond + s (eps_cond - eps_uncond)`` with ``s = guidance``: one UNet evaluation for s = 0 (null map
        only) or s = 1 (map only), else one evaluation of the doubled batch (map and null map)."""
        if guidance == 1:
            return self(x_t, t, probs)
        if guidance == 0:
            return self(x_t, t, None)
        t = torch.as_tensor(t, device=x_t.device).reshape(-1)
        both = self(torch.cat([x_t, x_t]), t.repeat(2) if t.numel() > 1 else t,
                    torch.cat([probs, torch.zeros_like(probs)]))
        cond, uncond = both.chunk(2)
        return uncond + guidance * (cond - uncond)

    def ddim_scheduler(self, steps: int):
        """A fresh ``diffusers.DDIMScheduler`` on this model's schedule, set to ``steps`` steps ("trailing" spacing:
        the first step is at t = train_steps - 1, the last one lands on the clean image)."""
        from diffusers import DDIMScheduler

        sched = DDIMScheduler(num_train_timesteps=self.cfg.train_steps, beta_start=self.cfg.beta_start,
                              beta_end=self.cfg.beta_end, beta_schedule="linear", prediction_type="epsilon",
                              clip_sample=True, set_alpha_to_one=True, timestep_spacing="trailing")
        sched.set_timesteps(steps)
        return sched

    @torch.no_grad()
    def sample(self, probs: torch.Tensor, steps: int | None = None, guidance: float | None = None, eta: float = 0.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Images drawn for the maps ``probs`` [B, C, H, W] (class probabilities, see ``label_probs``) by DDIM with
        ``steps`` steps (default ``cfg.sample_steps``) and guidance scale ``guidance`` (default ``cfg.guidance``;
        s = 1 is no guidance); ``eta`` > 0 adds DDIM's stochastic noise. The start noise and every random draw come
        from ``generator`` (a CPU generator: the same draws on every device), so a seed fixes the result.
        Returns [B, 3, H, W] float in [0, 1] on the model's device."""
        steps = self.cfg.sample_steps if steps is None else steps
        guidance = self.cfg.guidance if guidance is None else float(guidance)
        check_sampling(guidance, steps, self.cfg.train_steps)
        if not eta >= 0:
            raise SemcomError(f"eta must be >= 0, got {eta}")
        self.check_map(probs)
        device = next(self.parameters()).device
        probs = probs.to(device, torch.float32)
        sched = self.ddim_scheduler(int(steps))
        x = torch.randn((probs.shape[0], 3, self.cfg.height, self.cfg.width), generator=generator).to(device)
        for t in sched.timesteps:
            eps = self.guided_eps(x, int(t), probs, guidance)
            noise = None
            if eta > 0:
                noise = torch.randn(x.shape, generator=generator).to(device)
            x = sched.step(eps, int(t), x, eta=eta, variance_noise=noise).prev_sample
        return ((x + 1) / 2).clamp(0, 1)


class Block(nn.Module):
    """A residual block, optionally followed by self-attention (the unit of one UNet level)."""

    def __init__(self, res: ResBlock, attn: Attention | None):
        super().__init__()
        self.res, self.attn = res, attn

    def forward(self, x: torch.Tensor, emb: torch.Tensor, seg: torch.Tensor | None) -> torch.Tensor:
        x = self.res(x, emb, seg)
        return x if self.attn is None else self.attn(x)


class Upsample(nn.Module):
    """Nearest upsampling to the skip connection's size (odd sizes come back exactly), then a 3x3 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, size) -> torch.Tensor:
        return self.conv(F.interpolate(x, size=tuple(size), mode="nearest"))
