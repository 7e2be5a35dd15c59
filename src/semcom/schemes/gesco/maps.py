"""Three transmitters of a semantic label map, with exact channel-use counts (GESCO, issue 16 item 1).

Every transmitter sends a batch of label maps ``labels`` int64 [B, H, W] (class indices ``0..num_classes-1``; void
is a class like any other here: the receiver gets the whole map) at ``snr_db`` (scalar or one per example) over a
core channel (a ``ComplexChannel`` or its name, ``semcom.channels.build_channel``) and returns a ``ReceivedMap``:
the recovered map, soft class probabilities where the receiver has them, and the complex channel uses each map
really took. The budget is the one every scheme of semcom gets at a CBR: ``channel_use_budget((3, H, W), cbr)``,
the RGB image's 3 * H' * W' times the CBR with the sides rounded up to multiples of 16 (what the core's pixel JSCC
sends for that image), so map and pixel schemes compare at equal channel uses. ``channel_uses_for(h, w)`` gives a
transmitter's count (the learned and the analog one: exact; the digital one: the most it may spend) in advance.

- ``MapJSCC`` (learned map JSCC): one-hot map -> conv encoder (total downsampling ``factor``) -> ``latent_channels``
  = 6 * cbr * factor^2 real maps, power-normalised per example (``normalize_power``: unit average power per complex
  use) -> channel -> conv decoder told the SNR -> class logits (cross-entropy at the receiver). The map is padded
  (edge pixels repeated) to multiples of 16, so its channel uses are exactly the budget. One model per CBR.
- ``AnalogOneHot`` (the seed's idea with a real channel): the one-hot map average-pooled by the smallest integer
  factor f whose C * ceil(H/f) * ceil(W/f) / 2 complex uses fit the budget (class fractions per f x f block), minus
  1/C (the per-pixel mean, known to the receiver, would only waste power), power-normalised and sent as analog
  symbols. Receiver: each received value is scaled by its LMMSE factor 1 / (1 + noise_var_eff) (on AWGN a constant;
  on a zero-forced fading channel it damps the symbols of deep fades), then either the seed's cleaning
  (``AnalogOneHot.clean``, documented there) or a learned ``MapDenoiser``.
- ``DigitalMap``: the map losslessly compressed (the smallest of PNG, zlib and LZMA, behind a 6-byte header) as one
  5G LDPC + QAM transport block via the core's ``send_bytes``, every codeword really decoded by default. A lost
  block leaves the receiver without a map: it shows ``fallback_class`` everywhere (see ``DigitalMap``).
"""

from __future__ import annotations

import io
import lzma
import math
import struct
import zlib
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from semcom.channels import ComplexChannel, build_channel, complex_uses, limit_received, normalize_power
from semcom.data.camvid import check_labels, one_hot
from semcom.digital.chain import GRID, channel_use_budget, check_cbr
from semcom.digital.mcs import MCS, MCS_TABLE, TARGET_SUCCESS, check_target_success, codewords_needed, load_bler_table
from semcom.digital.side import digital_channel_name
from semcom.digital.transport import channel_uses_needed, send_bytes
from semcom.errors import SemcomError
from semcom.training.checkpoint import read_checkpoint
from semcom.units import check_snr_db

SNR_SCALE = 20.0
"""Decoders and the denoiser are told the SNR as snr_db / SNR_SCALE (one constant input channel)."""

FACTORS = (4, 8, 16)
"""MapJSCC's supported total downsampling factors (stride-2 stages: 2, 3, 4)."""


@dataclass(kw_only=True)
class ReceivedMap:
    """What a map transmitter delivered for a batch of B maps.

    ``labels_hat``: int64 [B, H, W], the recovered map (for a lost digital map, the fallback); ``probs``: float32
    [B, C, H, W] class probabilities (softmax of a learned receiver's logits), None where the receiver has none;
    ``channel_uses``: int64 [B], complex channel uses each map took; ``ok``: bool [B], False where the receiver got
    no map; ``details``: one JSON-ready dict per example (MCS, bytes, pooling factor, ...).
    """

    labels_hat: torch.Tensor
    probs: torch.Tensor | None
    channel_uses: torch.Tensor
    ok: torch.Tensor
    details: list[dict] = field(default_factory=list)


def resolve_channel(channel: ComplexChannel | str) -> ComplexChannel:
    """A channel object from a ``ComplexChannel`` or a name of ``build_channel``."""
    if isinstance(channel, ComplexChannel):
        return channel
    if isinstance(channel, str):
        return build_channel(channel)
    raise SemcomError(f"channel must be a ComplexChannel or a channel name, got {type(channel).__name__}")


def snr_per_example(snr_db: torch.Tensor | float, batch: int, device: torch.device) -> torch.Tensor:
    """Validated SNR in dB as a float32 [batch] tensor on ``device``."""
    return check_snr_db(snr_db, batch=batch).to(device).reshape(-1).expand(batch)


def check_num_classes(num_classes: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or not 2 <= num_classes <= 255:
        raise SemcomError(f"num_classes must be an integer in 2..255, got {num_classes!r}")
    return num_classes


def padded(h: int, w: int, multiple: int) -> tuple[int, int]:
    """(h, w) rounded up to multiples of ``multiple``."""
    return math.ceil(h / multiple) * multiple, math.ceil(w / multiple) * multiple


def pad_edges(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[B, C, H, W] -> [B, C, *size], padded at the bottom and right by repeating the edge pixels."""
    h, w = x.shape[-2:]
    if (h, w) == tuple(size):
        return x
    return F.pad(x, (0, size[1] - w, 0, size[0] - h), mode="replicate")


def snr_plane(snr: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[B] SNR in dB -> [B, 1, h, w] constant planes snr / SNR_SCALE shaped like ``like`` [B, *, h, w]."""
    return (snr / SNR_SCALE).to(like.dtype)[:, None, None, None].expand(like.shape[0], 1, *like.shape[-2:])


def config_from_dict(cls, d: dict):
    """A config dataclass from a checkpoint's ``model_config``; unknown keys are a one-line SemcomError."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise SemcomError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    return cls(**d)


class ResBlock(nn.Module):
    """x + conv3x3(PReLU(conv3x3(x)))."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.PReLU(width),
                                  nn.Conv2d(width, width, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


# ----------------------------------------------------------------------------------------------- (a) learned JSCC


@dataclass(frozen=True)
class MapJSCCConfig:
    """Everything that rebuilds a ``MapJSCC``; stored in its checkpoints. ``cbr`` (relative to the RGB image's
    3 * H * W) and ``factor`` fix ``latent_channels`` = 6 * cbr * factor^2, which must be a whole number: with the
    default factor 8, CBR 1/64, 1/32 and 1/16 give 6, 12 and 24 latent channels."""

    num_classes: int = 12
    cbr: float = 1 / 32
    factor: int = 8
    width: int = 64  # feature width at 1/factor resolution (halved per stage towards full resolution, >= 16)
    blocks: int = 2  # residual blocks at 1/factor resolution, in the encoder and in the decoder
    name: str = "map-jscc"

    def __post_init__(self):
        check_num_classes(self.num_classes)
        check_cbr(self.cbr)
        if self.factor not in FACTORS:
            raise SemcomError(f"factor must be one of {', '.join(map(str, FACTORS))}, got {self.factor!r}")
        if self.width < 16 or self.blocks < 0:
            raise SemcomError(f"width must be >= 16 and blocks >= 0, got {self.width}, {self.blocks}")
        exact = 6 * self.cbr * self.factor**2
        if round(exact) < 1 or abs(exact - round(exact)) > 1e-6:
            raise SemcomError(f"CBR {self.cbr:g} with factor {self.factor} needs {exact:g} latent channels (6 * cbr * "
                              f"factor^2), not a whole number >= 1: use a CBR of k / {6 * self.factor**2} "
                              "(k = 1, 2, ...)")
        if self.name != "map-jscc":
            raise SemcomError(f"a MapJSCCConfig is named 'map-jscc', got {self.name!r}")

    @property
    def latent_channels(self) -> int:
        return round(6 * self.cbr * self.factor**2)

    @property
    def widths(self) -> list[int]:
        """Feature widths at 1/2, 1/4, ..., 1/factor resolution."""
        stages = int(math.log2(self.factor))
        return [max(16, self.width >> (stages - 1 - i)) for i in range(stages)]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MapJSCCConfig:
        return config_from_dict(cls, d)


class MapJSCC(nn.Module):
    """Learned JSCC of label maps (see the module docstring).

    ``forward(labels, snr_db, channel, generator)`` (differentiable; training) returns ``{"logits": [B, C, H, W],
    "channel_uses": int}``; ``transmit`` is the same in eval mode without gradients, as a ``ReceivedMap``.
    """

    def __init__(self, cfg: MapJSCCConfig = MapJSCCConfig()):
        super().__init__()
        self.cfg = cfg
        c, widths = cfg.num_classes, cfg.widths
        enc: list[nn.Module] = []
        for cin, cout in zip([c, *widths[:-1]], widths):
            enc += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.PReLU(cout)]
        enc += [ResBlock(widths[-1]) for _ in range(cfg.blocks)]
        enc.append(nn.Conv2d(widths[-1], cfg.latent_channels, 3, padding=1))
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(cfg.latent_channels + 1, widths[-1], 3, padding=1), nn.PReLU(widths[-1])]
        dec += [ResBlock(widths[-1]) for _ in range(cfg.blocks)]
        ups = widths[::-1]  # 1/factor ... 1/2
        for cin, cout in zip(ups, [*ups[1:], 16]):
            dec += [nn.Conv2d(cin, 4 * cout, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(cout)]
        dec.append(nn.Conv2d(16, c, 3, padding=1))
        self.decoder = nn.Sequential(*dec)

    @property
    def num_classes(self) -> int:
        return self.cfg.num_classes

    def channel_uses_for(self, h: int, w: int) -> int:
        """Complex channel uses of one h x w map: latent_channels * (H'/factor) * (W'/factor) / 2 with H', W' the sides
        rounded up to multiples of 16; equal to ``channel_use_budget((3, h, w), cbr)``."""
        hp, wp = padded(h, w, GRID)
        return self.cfg.latent_channels * (hp // self.cfg.factor) * (wp // self.cfg.factor) // 2

    def describe(self) -> dict:
        return {"map_transmitter": "map-jscc", **self.cfg.to_dict(), "latent_channels": self.cfg.latent_channels}

    def forward(self, labels: torch.Tensor, snr_db: torch.Tensor | float, channel: ComplexChannel | str,
                generator: torch.Generator | None = None) -> dict:
        labels = check_labels(labels, self.num_classes)
        batch, h, w = labels.shape
        snr = snr_per_example(snr_db, batch, labels.device)
        x = pad_edges(one_hot(labels, self.num_classes), padded(h, w, GRID))
        z = normalize_power(self.encoder(x))  # [B, latent_channels, H'/f, W'/f] real, unit power per complex use
        z_hat, _ = resolve_channel(channel).transmit(z, snr, generator)
        z_hat = limit_received(z_hat)
        logits = self.decoder(torch.cat([z_hat, snr_plane(snr, z_hat)], 1))[..., :h, :w]
        return {"logits": logits, "channel_uses": complex_uses(z)}

    @torch.no_grad()
    def transmit(self, labels: torch.Tensor, snr_db: torch.Tensor | float, channel: ComplexChannel | str,
                 generator: torch.Generator | None = None) -> ReceivedMap:
        """Send ``labels`` [B, H, W]; the recovered map is the argmax of the decoder's logits."""
        was_training = self.training
        self.eval()
        try:
            out = self(labels, snr_db, channel, generator)
        finally:
            self.train(was_training)
        probs = out["logits"].softmax(1)
        batch = probs.shape[0]
        return ReceivedMap(labels_hat=probs.argmax(1), probs=probs,
                           channel_uses=torch.full((batch,), out["channel_uses"], dtype=torch.int64),
                           ok=torch.ones(batch, dtype=torch.bool), details=[{} for _ in range(batch)])


# ----------------------------------------------------------------------------------------------- (b) analog one-hot


@dataclass(frozen=True)
class DenoiserConfig:
    """Everything that rebuilds a ``MapDenoiser``; stored in its checkpoints. ``cbr``: the CBR of the
    ``AnalogOneHot`` it was trained behind (it sets the pooling factor the denoiser learned to undo)."""

    num_classes: int = 12
    cbr: float = 1 / 32
    width: int = 48
    blocks: int = 3
    name: str = "map-denoiser"

    def __post_init__(self):
        check_num_classes(self.num_classes)
        check_cbr(self.cbr)
        if self.width < 8 or self.blocks < 0:
            raise SemcomError(f"width must be >= 8 and blocks >= 0, got {self.width}, {self.blocks}")
        if self.name != "map-denoiser":
            raise SemcomError(f"a DenoiserConfig is named 'map-denoiser', got {self.name!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DenoiserConfig:
        return config_from_dict(cls, d)


class MapDenoiser(nn.Module):
    """Learned receiver of ``AnalogOneHot``: received soft map [B, C, h, w] (LMMSE-scaled) and the SNR -> class
    logits [B, C, H, W].

    A residual conv trunk at the received resolution (input: the received values, limited to +-8, and the SNR plane)
    gives low-resolution logits, upsampled bilinearly to H x W; a small full-resolution head refines them from the
    upsampled logits and the upsampled received values. Trained with cross-entropy (``train_maps``).
    """

    def __init__(self, cfg: DenoiserConfig = DenoiserConfig()):
        super().__init__()
        self.cfg = cfg
        c, w = cfg.num_classes, cfg.width
        self.trunk = nn.Sequential(nn.Conv2d(c + 1, w, 3, padding=1), nn.PReLU(w),
                                   *[ResBlock(w) for _ in range(cfg.blocks)], nn.Conv2d(w, c, 3, padding=1))
        self.head = nn.Sequential(nn.Conv2d(2 * c, 16, 3, padding=1), nn.PReLU(16), nn.Conv2d(16, c, 3, padding=1))

    @property
    def num_classes(self) -> int:
        return self.cfg.num_classes

    def forward(self, y: torch.Tensor, snr_db: torch.Tensor | float, size: tuple[int, int],
                factor: int) -> torch.Tensor:
        """``y``: [B, C, h, w] received values (``AnalogOneHot.send``) of a map pooled by ``factor`` (padded size
        (h * factor, w * factor)); ``size``: (H, W) of the map. Returns logits [B, C, H, W]."""
        if y.dim() != 4 or y.shape[1] != self.num_classes:
            raise SemcomError(f"the denoiser expects [B, {self.num_classes}, h, w] received values, got "
                              f"{tuple(y.shape)}")
        snr = snr_per_example(snr_db, y.shape[0], y.device)
        y = limit_received(y)
        low = self.trunk(torch.cat([y, snr_plane(snr, y)], 1))
        h, w = size
        full = (y.shape[-2] * factor, y.shape[-1] * factor)
        if full[0] < h or full[1] < w:
            raise SemcomError(f"received values of {y.shape[-2]}x{y.shape[-1]} pooled by {factor} cannot cover {h}x{w}")

        def up(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, full, mode="bilinear", align_corners=False)[..., :h, :w]

        coarse = up(low)
        return coarse + self.head(torch.cat([coarse, up(y)], 1))


class AnalogOneHot:
    """The one-hot map at reduced resolution as analog symbols (see the module docstring).

    ``num_classes``: C; ``cbr``: sets the budget; ``avg_kernel``/``max_kernel``: the cleaning's pooling windows in
    full-resolution pixels (odd; None: chosen from the SNR, see ``windows``); ``denoiser``: a trained
    ``MapDenoiser`` for C classes and this CBR, used instead of the cleaning when given.
    """

    def __init__(self, num_classes: int = 12, cbr: float = 1 / 32, avg_kernel: int | None = None,
                 max_kernel: int | None = None, denoiser: MapDenoiser | None = None):
        self.num_classes = check_num_classes(num_classes)
        self.cbr = check_cbr(cbr)
        for name, k in (("avg_kernel", avg_kernel), ("max_kernel", max_kernel)):
            if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0):
                raise SemcomError(f"{name} must be an odd integer >= 1, got {k!r}")
        self.avg_kernel, self.max_kernel = avg_kernel, max_kernel
        if denoiser is not None:
            if denoiser.num_classes != num_classes:
                raise SemcomError(f"the denoiser is for {denoiser.num_classes} classes, not {num_classes}")
            if abs(denoiser.cfg.cbr - self.cbr) > 1e-12:
                raise SemcomError(f"the denoiser was trained at CBR {denoiser.cfg.cbr:g}, not {self.cbr:g}")
        self.denoiser = denoiser

    def describe(self) -> dict:
        return {"map_transmitter": "analog-onehot", "num_classes": self.num_classes, "cbr": self.cbr,
                "receiver": "denoiser" if self.denoiser is not None else "cleaning",
                "avg_kernel": self.avg_kernel, "max_kernel": self.max_kernel}

    def factor_for(self, h: int, w: int) -> int:
        """The smallest pooling factor f whose ``uses(h, w, f)`` fit the budget, ``channel_use_budget((3, h, w),
        cbr)``."""
        budget = channel_use_budget((3, h, w), self.cbr)
        for f in range(1, max(h, w) + 1):
            if self.uses(h, w, f) <= budget:
                return f
        raise SemcomError(f"CBR {self.cbr:g} gives {budget} channel uses for a {h}x{w} map, fewer than the "
                          f"{self.uses(h, w, max(h, w))} that even one pixel of {self.num_classes} class values needs")

    def uses(self, h: int, w: int, factor: int) -> int:
        """Complex channel uses at pooling ``factor``: ceil(C * ceil(h/f) * ceil(w/f) / 2)."""
        return math.ceil(self.num_classes * math.ceil(h / factor) * math.ceil(w / factor) / 2)

    def channel_uses_for(self, h: int, w: int) -> int:
        """Complex channel uses of one h x w map (exact; at most the budget)."""
        return self.uses(h, w, self.factor_for(h, w))

    def windows(self, factor: int, snr_db: float) -> tuple[int, int]:
        """The cleaning's (average, max) pooling windows at pooling ``factor`` and ``snr_db``: the given ones, else
        average 2 * floor(f * sqrt(noise_var) / 2) + 1 pixels (odd; noise_var = 10^(-snr_db/10): wider as the noise
        grows, none at high SNR) and max 3 where the average window is wider than f (from about 0 dB down), else none.

        Why SNR-dependent: a fixed window helps at low SNR and costs at high SNR. mIoU (void ignored) on 12 CamVid val
        maps, this rule vs no cleaning: CBR 1/16 (f = 6) AWGN -5 dB 60.5 vs 49.3, 0 dB 68.0 vs 69.0, 5 dB 72.0 vs 72.3,
        >= 10 dB equal (72.9, 73.1); Rayleigh -5 dB 54.1 vs 37.3, 0 dB 62.2 vs 55.7, 5 dB 67.8 vs 67.1; CBR 1/64
        (f = 12) AWGN -5 dB 50.0 vs 41.1, Rayleigh 44.2 vs 32.8. A fixed 7-pixel window with max 3 lost 3 points at
        20 dB (69.5).
        """
        avg = self.avg_kernel
        if avg is None:
            avg = 2 * math.floor(factor * 10 ** (-snr_db / 20) / 2) + 1
        mx = self.max_kernel if self.max_kernel is not None else (3 if avg > factor else 1)
        return avg, mx

    def send(self, labels: torch.Tensor, snr_db: torch.Tensor | float, channel: ComplexChannel | str,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, int]:
        """Transmitter and channel: returns (received values [B, C, ceil(H/f), ceil(W/f)] float32, each scaled by its
        LMMSE factor 1 / (1 + noise_var_eff), in units of the power-normalised transmitted values; pooling factor f).
        """
        labels = check_labels(labels, self.num_classes)
        batch, h, w = labels.shape
        snr = snr_per_example(snr_db, batch, labels.device)
        f = self.factor_for(h, w)
        pooled = F.avg_pool2d(pad_edges(one_hot(labels, self.num_classes), padded(h, w, f)), f)  # class fractions
        values = (pooled - 1.0 / self.num_classes).reshape(batch, -1)
        n = values.shape[1]
        if n % 2:  # an odd number of real values: the last complex symbol carries a zero in its imaginary part
            values = F.pad(values, (0, 1))
        z = normalize_power(values)
        z_hat, noise_var = resolve_channel(channel).transmit(z, snr, generator)
        weight = 1.0 / (1.0 + noise_var)  # [B, 1], or [B, symbols] on fading channels: one per real pair
        if weight.shape[1] > 1:
            weight = weight.repeat_interleave(2, dim=1)
        received = (z_hat * weight)[:, :n].reshape(pooled.shape)
        return received, f

    def clean(self, received: torch.Tensor, size: tuple[int, int], factor: int,
              snr_db: torch.Tensor | float) -> torch.Tensor:
        """The seed's cleaning of a received soft map, as done here: ``received`` [B, C, h, w] -> scores
        [B, C, H, W] whose argmax over C is the recovered map.

        1. upsample by ``factor`` (bilinear, align_corners False) to the padded size and crop to ``size`` (H, W);
        2. average pooling per class, stride 1, window from ``windows`` (zero padding not counted: the mean over the
           window's pixels inside the map): averages the noise of neighbouring blocks;
        3. max pooling per class, stride 1, window from ``windows``: each class keeps its strongest nearby score, so
           thin classes that the averaging diluted still win near where they were sent.
        The argmax over classes is unchanged by the unknown power-normalisation scale (a positive factor) and by the
        removed 1/C mean, so the receiver needs neither.
        """
        h, w = size
        full = (received.shape[-2] * factor, received.shape[-1] * factor)
        scores = F.interpolate(received, full, mode="bilinear", align_corners=False)[..., :h, :w]
        snr = snr_per_example(snr_db, received.shape[0], torch.device("cpu")).tolist()
        out = torch.empty_like(scores)
        for avg, mx in {self.windows(factor, s) for s in snr}:
            rows = [i for i, s in enumerate(snr) if self.windows(factor, s) == (avg, mx)]
            part = scores[rows]
            if avg > 1:
                part = F.avg_pool2d(part, avg, stride=1, padding=avg // 2, count_include_pad=False)
            if mx > 1:
                part = F.max_pool2d(part, mx, stride=1, padding=mx // 2)
            out[rows] = part
        return out

    @torch.no_grad()
    def transmit(self, labels: torch.Tensor, snr_db: torch.Tensor | float, channel: ComplexChannel | str,
                 generator: torch.Generator | None = None) -> ReceivedMap:
        """Send ``labels`` [B, H, W]; recovered by the denoiser when there is one (with ``probs``), else by
        ``clean`` (``probs`` None)."""
        received, f = self.send(labels, snr_db, channel, generator)
        batch, h, w = labels.shape
        if self.denoiser is not None:
            was_training = self.denoiser.training
            self.denoiser.eval()
            try:
                snr = snr_per_example(snr_db, batch, received.device)
                probs = self.denoiser(received, snr, (h, w), f).softmax(1)
            finally:
                self.denoiser.train(was_training)
            labels_hat = probs.argmax(1)
        else:
            probs, labels_hat = None, self.clean(received, (h, w), f, snr_db).argmax(1)
        uses = self.uses(h, w, f)
        return ReceivedMap(labels_hat=labels_hat, probs=probs,
                           channel_uses=torch.full((batch,), uses, dtype=torch.int64),
                           ok=torch.ones(batch, dtype=torch.bool), details=[{"factor": f} for _ in range(batch)])


# ----------------------------------------------------------------------------------------------- (c) digital


HEADER = struct.Struct(">HHBB")
"""The compressed map's header: height, width (uint16 each), number of classes, method (uint8 each): 6 bytes."""

METHODS = ("png", "zlib", "lzma", "jxl")
"""Lossless coders tried for every map; the smallest result is sent (the header's method byte says which)."""
JXL_EFFORT = 9
"""libjxl effort of the lossless JPEG XL map (9: ~0.05 CPU-s per 240x180 map, ~9 % smaller than the best of the
others on CamVid test maps)."""

LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]  # raw stream: no container header
MCS_CHOICES = ("robust", "cheapest")


def encode_map(labels: torch.Tensor, num_classes: int, methods: tuple[str, ...] = METHODS) -> bytes:
    """One map [H, W] -> header + the smallest of: PNG (8-bit grey, Pillow at compress_level 9 with optimize),
    zlib (level 9) of the row-major uint8 raster, raw LZMA2 (preset 9e) of that raster, lossless JPEG XL (bare
    codestream, imagecodecs/libjxl at effort ``JXL_EFFORT``). ``methods``: the coders to try (a subset of
    ``METHODS``)."""
    labels = check_labels(labels, check_num_classes(num_classes), dims=2)
    if not methods or any(m not in METHODS for m in methods):
        raise SemcomError(f"methods must be a non-empty subset of {', '.join(METHODS)}, got {methods!r}")
    h, w = labels.shape
    if h > 65535 or w > 65535:
        raise SemcomError(f"a map of {h}x{w} pixels is too large for the 16-bit size header")
    raster = labels.to(torch.uint8).cpu().numpy()
    bodies = {m: MAP_ENCODERS[m](raster) for m in methods}
    method = min(bodies, key=lambda m: (len(bodies[m]), METHODS.index(m)))
    return HEADER.pack(h, w, num_classes, METHODS.index(method)) + bodies[method]


def _png(raster: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(raster, mode="L").save(out, format="PNG", optimize=True, compress_level=9)
    return out.getvalue()


def _jxl(raster: np.ndarray) -> bytes:
    import imagecodecs

    return bytes(imagecodecs.jpegxl_encode(raster, lossless=True, effort=JXL_EFFORT, usecontainer=False, numthreads=1))


MAP_ENCODERS = {
    "png": _png,
    "zlib": lambda raster: zlib.compress(raster.tobytes(), 9),
    "lzma": lambda raster: lzma.compress(raster.tobytes(), format=lzma.FORMAT_RAW, filters=LZMA_FILTERS),
    "jxl": _jxl,
}


def decode_map(data: bytes, num_classes: int | None = None) -> torch.Tensor:
    """Inverse of ``encode_map``: int64 [H, W]; SemcomError for a damaged payload or another class count."""
    from PIL import Image

    if len(data) < HEADER.size:
        raise SemcomError(f"a compressed map has a {HEADER.size}-byte header, got {len(data)} bytes")
    h, w, classes, method = HEADER.unpack_from(data)
    if num_classes is not None and classes != num_classes:
        raise SemcomError(f"the compressed map has {classes} classes, not {num_classes}")
    if method >= len(METHODS):
        raise SemcomError(f"unknown map compression method {method}")
    body = data[HEADER.size:]
    try:
        if METHODS[method] == "png":
            with Image.open(io.BytesIO(body)) as img:
                raster = np.array(img, dtype=np.uint8)
        elif METHODS[method] == "jxl":
            import imagecodecs

            try:
                raster = np.asarray(imagecodecs.jpegxl_decode(body, numthreads=1))
            except Exception as exc:  # noqa: BLE001 - imagecodecs raises its own error types for damaged data
                raise ValueError(f"{exc.__class__.__name__}: {exc}") from None
            if raster.dtype != np.uint8 or raster.ndim != 2:
                raise ValueError(f"not an 8-bit one-channel map ({raster.dtype}, {raster.ndim} dims)")
        else:
            raw = zlib.decompress(body) if METHODS[method] == "zlib" else lzma.decompress(
                body, format=lzma.FORMAT_RAW, filters=LZMA_FILTERS)
            raster = np.frombuffer(raw, dtype=np.uint8).reshape(h, w)
    except (OSError, ValueError, SyntaxError, EOFError, zlib.error, lzma.LZMAError) as exc:  # damaged data
        raise SemcomError(f"cannot decode the compressed map ({METHODS[method]}): {exc}") from None
    if raster.shape != (h, w):
        raise SemcomError(f"the compressed map decodes to {raster.shape}, its header says {(h, w)}")
    return check_labels(torch.from_numpy(raster.copy()), classes, "decoded map", dims=2)


class DigitalMap:
    """The map losslessly compressed (``encode_map``) and sent as one LDPC + QAM transport block (``send_bytes``).

    ``num_classes``: C; ``cbr``: the budget ``channel_use_budget((3, H, W), cbr)``; ``fallback_class``: what the
    receiver shows when no map arrives: that class everywhere (pass the training maps' most frequent class, e.g.
    ``CAMVID.prior_class`` (road), the best constant guess; an all-void map would score 0 on every class);
    ``decode``: really encode, send and LDPC-decode every codeword (else draw the outcome from the BLER table);
    ``target_success``: the reliability every MCS used must reach (predicted probability that every codeword of the
    block decodes); ``mcs_choice``: among the MCSs whose block fits the budget and reaches ``target_success``,
    ``robust`` (default) takes the most reliable one (the budget is spent on protection), ``cheapest`` the one with the
    fewest channel uses. When none qualifies nothing is sent (0 channel uses) and the receiver shows the fallback,
    ``ok`` False, with the reason in ``details``. The channel must be AWGN or fast Rayleigh with ZF (the BLER tables).
    """

    def __init__(self, num_classes: int, cbr: float, fallback_class: int, *, decode: bool = True,
                 target_success: float = TARGET_SUCCESS, mcs_choice: str = "robust"):
        self.num_classes = check_num_classes(num_classes)
        self.cbr = check_cbr(cbr)
        if (isinstance(fallback_class, bool) or not isinstance(fallback_class, int)
                or not 0 <= fallback_class < num_classes):
            raise SemcomError(f"fallback_class must be a class index 0..{num_classes - 1}, got {fallback_class!r}")
        if mcs_choice not in MCS_CHOICES:
            raise SemcomError(f"unknown mcs_choice {mcs_choice!r}; choose one of {', '.join(MCS_CHOICES)}")
        self.fallback_class, self.decode = fallback_class, bool(decode)
        self.target_success, self.mcs_choice = check_target_success(target_success), mcs_choice

    def describe(self) -> dict:
        return {"map_transmitter": "digital-map", "num_classes": self.num_classes, "cbr": self.cbr,
                "fallback_class": self.fallback_class, "decode": self.decode, "target_success": self.target_success,
                "mcs_choice": self.mcs_choice}

    def channel_uses_for(self, h: int, w: int) -> int:
        """The budget of one h x w map: the most it may spend (what it spends depends on the map and the SNR)."""
        return channel_use_budget((3, h, w), self.cbr)

    def choose_mcs(self, payload_bits: int, snr_db: float, channel_name: str,
                   budget: int) -> tuple[MCS | None, str | None]:
        """(MCS, None), or (None, why not) when no MCS carries ``payload_bits`` within ``budget`` reliably."""
        table = load_bler_table()
        fitting = [m for m in MCS_TABLE if channel_uses_needed(m, payload_bits) <= budget]
        if not fitting:
            return None, "map does not fit the budget"
        success = {m: table.success_probability(channel_name, m, snr_db, codewords_needed(m, payload_bits))
                   for m in fitting}
        eligible = [m for m in fitting if success[m] >= self.target_success]
        if not eligible:
            return None, "no reliable MCS fits the budget"
        if self.mcs_choice == "robust":
            return max(eligible, key=lambda m: (success[m], -channel_uses_needed(m, payload_bits))), None
        return min(eligible, key=lambda m: (channel_uses_needed(m, payload_bits), m.spectral_efficiency)), None

    @torch.no_grad()
    def transmit(self, labels: torch.Tensor, snr_db: torch.Tensor | float, channel: ComplexChannel | str,
                 generator: torch.Generator | None = None) -> ReceivedMap:
        """Send each map of ``labels`` [B, H, W] as its own transport block; ``channel_uses`` are the transport's."""
        labels = check_labels(labels, self.num_classes)
        batch, h, w = labels.shape
        snr = snr_per_example(snr_db, batch, torch.device("cpu")).tolist()
        channel = resolve_channel(channel)
        name = digital_channel_name(channel)
        budget = self.channel_uses_for(h, w)
        out = torch.full_like(labels, self.fallback_class)
        uses, ok, details = [], [], []
        for b in range(batch):
            data = encode_map(labels[b], self.num_classes)
            mcs, reason = self.choose_mcs(8 * len(data), snr[b], name, budget)
            info = {"payload_bytes": len(data), "method": METHODS[data[HEADER.size - 1]], "channel_use_budget": budget,
                    "mcs": None, "codewords": 0, "codewords_failed": 0, "reason": reason}
            spent = 0
            if mcs is not None:
                delivery = send_bytes(data, mcs, channel, name, snr[b], self.decode, generator)
                spent = delivery.channel_uses
                info |= {"mcs": delivery.mcs, "codewords": delivery.codewords,
                         "codewords_failed": delivery.codewords_failed, "reason": delivery.reason}
                if delivery.ok:
                    out[b] = decode_map(delivery.received, self.num_classes).to(labels.device)
            uses.append(spent)
            ok.append(info["reason"] is None)
            details.append(info)
        return ReceivedMap(labels_hat=out, probs=None, channel_uses=torch.tensor(uses, dtype=torch.int64),
                           ok=torch.tensor(ok), details=details)


# ----------------------------------------------------------------------------------------------- adaptive


class AdaptiveMap:
    """Digital where it is reliable, analog elsewhere: per map, the ``DigitalMap`` when an MCS carries its compressed
    bytes within the budget with the predicted success the digital chain requires (lossless then, except for that
    ~1 % risk), else ``fallback`` (a ``MapJSCC`` or ``AnalogOneHot`` at the same CBR). The transmitter decides from
    the map's compressed size and the SNR, before sending; which branch was used reaches the receiver out of band,
    as the digital chain's MCS and payload length do (the same convention, no channel uses counted for it). At high
    SNR it is the lossless digital map, at low SNR the learned one, with no cliff in between. ``details``:
    ``branch`` ("digital" or the fallback's kind) plus that branch's own facts."""

    def __init__(self, digital: DigitalMap, fallback):
        if not isinstance(digital, DigitalMap):
            raise SemcomError(f"digital must be a DigitalMap, got {type(digital).__name__}")
        if not isinstance(fallback, (MapJSCC, AnalogOneHot)):
            raise SemcomError(f"the fallback must be a MapJSCC or an AnalogOneHot, got {type(fallback).__name__}")
        cbr = fallback.cfg.cbr if isinstance(fallback, MapJSCC) else fallback.cbr
        if abs(cbr - digital.cbr) > 1e-12 or fallback.num_classes != digital.num_classes:
            raise SemcomError(f"the digital map (CBR {digital.cbr:g}, {digital.num_classes} classes) and the fallback "
                              f"(CBR {cbr:g}, {fallback.num_classes} classes) must share CBR and classes")
        self.digital, self.fallback = digital, fallback
        self.num_classes, self.cbr = digital.num_classes, digital.cbr

    @property
    def fallback_kind(self) -> str:
        if isinstance(self.fallback, MapJSCC):
            return "map-jscc"
        return "analog" if self.fallback.denoiser is None else "analog+denoiser"

    def describe(self) -> dict:
        return {"map_transmitter": "adaptive", "digital": self.digital.describe(),
                "fallback": self.fallback.describe()}

    def channel_uses_for(self, h: int, w: int) -> int:
        """The most one h x w map may spend: the budget (the fallback spends exactly it, the digital map at most)."""
        return max(self.digital.channel_uses_for(h, w), self.fallback.channel_uses_for(h, w))

    def use_digital(self, labels: torch.Tensor, snr_db: float, channel: ComplexChannel) -> bool:
        """Whether the map ``labels`` [H, W] goes digitally at ``snr_db`` (an MCS fits it reliably in the budget)."""
        h, w = labels.shape
        data = encode_map(labels, self.num_classes)
        mcs, _ = self.digital.choose_mcs(8 * len(data), snr_db, digital_channel_name(channel),
                                         self.digital.channel_uses_for(h, w))
        return mcs is not None

    @torch.no_grad()
    def transmit(self, labels: torch.Tensor, snr_db: torch.Tensor | float, channel: ComplexChannel | str,
                 generator: torch.Generator | None = None) -> ReceivedMap:
        labels = check_labels(labels, self.num_classes)
        batch = labels.shape[0]
        snr = snr_per_example(snr_db, batch, torch.device("cpu"))
        channel = resolve_channel(channel)
        digital = [self.use_digital(labels[b], float(snr[b]), channel) for b in range(batch)]
        parts = {}
        for branch, sender in ((True, self.digital), (False, self.fallback)):
            index = [b for b in range(batch) if digital[b] == branch]
            if index:
                parts[branch] = (index, sender.transmit(labels[index], snr[index], channel, generator))
        labels_hat = torch.empty_like(labels)
        probs = torch.empty(batch, self.num_classes, *labels.shape[1:])
        uses, ok, details = torch.zeros(batch, dtype=torch.int64), torch.zeros(batch, dtype=torch.bool), [{}] * batch
        details = list(details)
        for branch, (index, got) in parts.items():
            labels_hat[index] = got.labels_hat
            probs[index] = (got.probs.float() if got.probs is not None
                            else one_hot(got.labels_hat, self.num_classes).float())
            uses[index], ok[index] = got.channel_uses, got.ok
            for i, b in enumerate(index):
                details[b] = {"branch": "digital" if branch else self.fallback_kind, **got.details[i]}
        return ReceivedMap(labels_hat=labels_hat, probs=probs, channel_uses=uses, ok=ok, details=details)


# ----------------------------------------------------------------------------------------------- checkpoints


MAP_MODELS = {"map-jscc": (MapJSCCConfig, MapJSCC), "map-denoiser": (DenoiserConfig, MapDenoiser)}


def map_model_from_config(config: dict) -> MapJSCC | MapDenoiser:
    """An untrained model of the kind a ``model_config`` names (``map-jscc`` or ``map-denoiser``)."""
    name = config.get("name") if isinstance(config, dict) else None
    if name not in MAP_MODELS:
        raise SemcomError(f"not a map model config (name {name!r}); expected one of {', '.join(MAP_MODELS)}")
    config_cls, model_cls = MAP_MODELS[name]
    return model_cls(config_cls.from_dict(config))


def load_map_model(path, num_classes: int | None = None, kind: str | None = None) -> tuple[MapJSCC | MapDenoiser, dict]:
    """A trained ``MapJSCC`` or ``MapDenoiser`` from its checkpoint (model in eval mode, metadata). ``num_classes``
    / ``kind`` (``map-jscc`` or ``map-denoiser``): refuse, with a one-line SemcomError, a checkpoint for another class
    count or of another kind."""
    ckpt = read_checkpoint(path)
    config = ckpt["model_config"]
    name = config.get("name") if isinstance(config, dict) else None
    if kind is not None and name != kind:
        raise SemcomError(f"{path} holds a {name!r} model, not a {kind!r}")
    if num_classes is not None and isinstance(config, dict) and config.get("num_classes") != num_classes:
        raise SemcomError(f"{path} is a {name} for {config.get('num_classes')} classes, not {num_classes}")
    model = map_model_from_config(config)
    try:
        model.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    except (RuntimeError, KeyError) as exc:
        raise SemcomError(f"checkpoint {path} does not match its {name} config: {str(exc).splitlines()[0]}") from None
    model.eval()
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "rng")}
    return model, meta
