"""GESCO as a scheme (``semcom.types.Scheme``, issue 16 items 1-2): a label map sent by one of the map transmitters of
``maps``, the image regenerated from what arrived by the semantic diffusion model of ``diffusion``.

The source item is the label map itself: ``transmit(x, snr_db, generator)`` takes ``x`` int64 [H, W] (class indices
``0..C-1`` of the scheme's label set, void included). The photo the map was drawn from, where there is one, is never
sent and never needed: whoever scores the generated image against it (``evaluate``, ``semcom transmit --labels``)
holds it. Channel uses: what the map transmitter spent, at the image budget ``channel_use_budget((3, H, W), cbr)``
(the RGB image's 3 * H' * W' * cbr with the sides rounded up to multiples of 16: exactly what the core's pixel JSCC
spends on an H x W image), so GESCO and pixel schemes compare at equal channel uses.

The receiver: class probabilities of the received map (the learned receivers' softmax where there is one, else the
one-hot of the recovered map) are area-averaged to the diffusion model's resolution, the model samples an image by
DDIM (``steps``, classifier-free ``guidance``), and the image is resized (bilinear) back to H x W. Without a
diffusion model (``diffusion=None``, "map only") the received map in the label set's display colours stands in for
the image, and ``details["generated"]`` is False.

Also here: where the trained models ship (``shipped_*``: None until a model is trained and shipped; nothing ships
yet), ``build_gesco`` (a scheme from names and paths, as the CLI builds it) and ``ChannelCorruption`` (the
robust-training hook of ``train_diffusion``: maps really sent through a transmitter at a random SNR).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.channels import ComplexChannel
from semcom.data.camvid import CAMVID, LabelSet, check_labels, one_hot, resize_labels
from semcom.errors import SemcomError
from semcom.jscc.transmitter import DEFAULT_CBR
from semcom.metrics.segmentation import miou, pixel_accuracy
from semcom.schemes.gesco.maps import (
    AdaptiveMap, AnalogOneHot, DigitalMap, MapJSCC, load_map_model, resolve_channel,
)
from semcom.training.checkpoint import PACKAGE_CHECKPOINTS
from semcom.types import Transmission
from semcom.units import cbr_text, check_snr_db

TRANSMITTERS = ("digital", "analog", "analog+denoiser", "map-jscc", "adaptive")
"""Map transmitters by name: ``digital`` (``DigitalMap``: lossless + LDPC + QAM), ``analog`` (``AnalogOneHot`` with
the seed's cleaning), ``analog+denoiser`` (``AnalogOneHot`` with a trained ``MapDenoiser``), ``map-jscc`` (a
trained ``MapJSCC``), ``adaptive`` (``AdaptiveMap``: the digital map where it is reliable within the budget, else
the map JSCC). The last three need a checkpoint trained for the CBR (``adaptive``: the map JSCC's)."""

SHIPPED_FOLDER = PACKAGE_CHECKPOINTS / "gesco"
"""Where GESCO's trained models ship: ``diffusion-camvid.pt``, ``map-jscc-cbr<k>.pt`` and ``map-denoiser-cbr<k>.pt``
for CBR 1/k. Empty until the trainings of the README have run."""
DIFFUSION_FILE = "diffusion-camvid.pt"

TRAIN_HINTS = {
    "diffusion": "semcom train gesco --part diffusion",
    "map-jscc": "semcom train gesco --part maps",
    "map-denoiser": "semcom train gesco --part denoiser",
}
WHAT = {"diffusion": "GESCO diffusion model", "map-jscc": "GESCO map JSCC", "map-denoiser": "GESCO map denoiser"}


# ----------------------------------------------------------------------------------------------- shipped models


def _cbr_file(kind: str, cbr: float) -> str | None:
    """``<kind>-cbr<k>.pt`` for CBR 1/k; None for a CBR that is not the inverse of an integer (none ships)."""
    inverse = 1 / cbr
    if abs(inverse - round(inverse)) > 1e-9:
        return None
    return f"{kind}-cbr{round(inverse)}.pt"


def shipped_diffusion() -> Path | None:
    """The shipped CamVid diffusion model, or None (none is shipped yet)."""
    path = SHIPPED_FOLDER / DIFFUSION_FILE
    return path if path.is_file() else None


def shipped_map_model(kind: str, cbr: float) -> Path | None:
    """The shipped ``map-jscc`` or ``map-denoiser`` checkpoint for ``cbr``, or None (none is shipped yet)."""
    if kind not in ("map-jscc", "map-denoiser"):
        raise SemcomError(f"unknown map model kind {kind!r}; choose map-jscc or map-denoiser")
    name = _cbr_file(kind, cbr)
    path = SHIPPED_FOLDER / name if name else None
    return path if path is not None and path.is_file() else None


def not_shipped(kind: str, option: str, cbr: float | None = None) -> SemcomError:
    """The one-line error for a shipped model that does not exist yet: what is missing, how to train one, which
    option takes a file instead."""
    at = f" for CBR {cbr_text(cbr)}" if cbr is not None else ""
    train = TRAIN_HINTS[kind] + (f" --cbr {cbr_text(cbr)}" if cbr is not None else "")
    return SemcomError(f"no trained {WHAT[kind]}{at} is shipped yet: train one with `{train} ...` or pass "
                       f"{option} PATH")


def resolve_part(value: str | Path | None, shipped: Path | None, missing: SemcomError) -> Path | None:
    """A model file from an option value: None or ``shipped`` -> the shipped file (``missing`` is raised when there is
    none); ``none`` -> None (run without it); anything else -> that path."""
    if value is None or str(value) == "shipped":
        if shipped is None:
            raise missing
        return shipped
    if str(value) == "none":
        return None
    return Path(value)


@lru_cache(maxsize=4)
def _shared_diffusion(path: str, stamp: int, classes: int, device: str):
    from semcom.schemes.gesco.train_diffusion import load_diffusion

    return load_diffusion(path, classes=classes, device=device)


def shared_diffusion(path: str | Path, classes: int, device: str = "cpu"):
    """(model, metadata) of a diffusion checkpoint, loaded once per file, class count and device (a grid builds one
    scheme per cell over the same weights); SemcomError for a checkpoint for another class count."""
    path = Path(path)
    stamp = path.stat().st_mtime_ns if path.is_file() else 0
    return _shared_diffusion(str(path), stamp, classes, str(device))


# ----------------------------------------------------------------------------------------------- the scheme


def check_steps_guidance(steps: int | None, guidance: float | None) -> None:
    """SemcomError unless ``steps`` is None or an integer >= 1 and ``guidance`` None or a number >= 0 (the
    model-independent part of ``diffusion.check_sampling``; the model also caps the steps at its schedule)."""
    if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 1):
        raise SemcomError(f"sampling steps must be an integer >= 1, got {steps}")
    if guidance is not None and not guidance >= 0:  # also refuses NaN
        raise SemcomError(f"guidance scale must be >= 0, got {guidance}")


def transmitter_kind(transmitter) -> str:
    """The ``TRANSMITTERS`` name of a map transmitter object."""
    if isinstance(transmitter, MapJSCC):
        return "map-jscc"
    if isinstance(transmitter, AnalogOneHot):
        return "analog" if transmitter.denoiser is None else "analog+denoiser"
    if isinstance(transmitter, DigitalMap):
        return "digital"
    if isinstance(transmitter, AdaptiveMap):
        return "adaptive"
    raise SemcomError(f"not a map transmitter: {type(transmitter).__name__} (use MapJSCC, AnalogOneHot, DigitalMap or "
                      "AdaptiveMap)")


def transmitter_cbr(transmitter) -> float:
    return transmitter.cfg.cbr if isinstance(transmitter, MapJSCC) else transmitter.cbr


def _score(value: torch.Tensor) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


@dataclass(kw_only=True)
class GescoTransmission(Transmission):
    """One GESCO transmission (a ``Transmission``; ``x_hat`` [3, H, W] the generated image, or the received map's
    colours without a diffusion model). ``labels_hat``: int64 [H, W], the map the receiver recovered; ``probs``:
    float32 [C, H, W], the class probabilities the diffusion model was conditioned on (before resizing)."""

    labels_hat: torch.Tensor | None = None
    probs: torch.Tensor | None = None


class GescoScheme:
    """Label map -> map transmitter -> channel -> received class probabilities -> diffusion sampling -> image.

    ``transmitter``: a ``MapJSCC``, ``AnalogOneHot`` (with or without denoiser) or ``DigitalMap`` for the label set's
    classes (its CBR is the scheme's); ``channel``: a ``ComplexChannel`` or a name of ``build_channel``;
    ``diffusion``: a ``SemanticDiffusion`` for the label set's classes, or None (map only, see the module
    docstring); ``steps``/``guidance``: DDIM steps and guidance scale s (defaults: the model's ``sample_steps`` and
    ``guidance``; s = 1 is no guidance); ``eta``: DDIM noise (0: deterministic given the start noise);
    ``label_set``: classes, palette and void (default CamVid's); ``checkpoints``: the files the parts came from, for
    ``describe``.

    ``transmit(x, snr_db, generator)``: ``x`` int64 [H, W] label map (see the module docstring). The channel noise
    and then the sampler's noise are drawn from ``generator``, so a seed fixes the whole transmission. Details:
    ``transmitter``, ``generated``, ``map_pixel_accuracy`` and ``map_miou`` of the recovered map against the sent one
    (void pixels of the sent map ignored; None when every pixel is void), the transmitter's own facts (MCS, payload
    bytes, pooling factor, ...), and with a diffusion model ``steps``, ``guidance`` and ``sampling_seconds``.
    """

    name = "gesco"
    task = "image"

    def __init__(self, transmitter, channel: ComplexChannel | str, diffusion=None, *, steps: int | None = None,
                 guidance: float | None = None, eta: float = 0.0, label_set: LabelSet = CAMVID,
                 checkpoints: dict | None = None):
        self.kind = transmitter_kind(transmitter)
        self.label_set = label_set
        classes = label_set.num_classes
        if transmitter.num_classes != classes:
            raise SemcomError(f"the {self.kind} map transmitter is for {transmitter.num_classes} classes, but the "
                              f"label set {label_set.name!r} has {classes}")
        check_steps_guidance(steps, guidance)
        if not eta >= 0:
            raise SemcomError(f"eta must be >= 0, got {eta}")
        if diffusion is not None:
            from semcom.schemes.gesco.diffusion import check_sampling

            cfg = diffusion.cfg
            if cfg.classes != classes or cfg.edge:
                raise SemcomError(f"the diffusion model is for {cfg.map_channels} map channels, but the label set "
                                  f"{label_set.name!r} has {classes} classes and no instance edges")
            steps = cfg.sample_steps if steps is None else int(steps)
            guidance = cfg.guidance if guidance is None else float(guidance)
            check_sampling(guidance, steps, cfg.train_steps)
            diffusion.eval()
        self.transmitter, self.diffusion = transmitter, diffusion
        self.channel_name = channel if isinstance(channel, str) else type(channel).__name__.lower()
        self.channel = resolve_channel(channel)
        if self.kind in ("digital", "adaptive"):
            from semcom.digital.side import digital_channel_name

            try:
                digital_channel_name(self.channel)
            except SemcomError:
                raise SemcomError(f"the {self.kind} map transmitter picks its MCS from the BLER tables of awgn and "
                                  f"rayleigh (fast, ZF); there is none for {self.channel_name}") from None
        self.steps, self.guidance, self.eta = steps, guidance, float(eta)
        self.checkpoints = dict(checkpoints or {})

    @property
    def cbr(self) -> float:
        return transmitter_cbr(self.transmitter)

    @property
    def num_classes(self) -> int:
        return self.label_set.num_classes

    def channel_uses_for(self, h: int, w: int) -> int:
        """The map transmitter's channel uses for an h x w map (the digital one: the most it may spend)."""
        return self.transmitter.channel_uses_for(h, w)

    def describe(self) -> dict:
        out = {"scheme": self.name, "transmitter": self.kind, "channel": self.channel_name, "cbr": self.cbr,
               "label_set": self.label_set.name, "map_transmitter": self.transmitter.describe(),
               "generated": self.diffusion is not None, "checkpoints": self.checkpoints}
        if self.diffusion is not None:
            out |= {"steps": self.steps, "guidance": self.guidance, "eta": self.eta,
                    "diffusion_config": self.diffusion.cfg.to_dict()}
        return out

    def check_map(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as a validated int64 [H, W] label map of this scheme's classes (one-line SemcomError otherwise)."""
        return check_labels(x, self.num_classes, "label map", dims=2)

    @torch.no_grad()
    def generate(self, probs: torch.Tensor, size: tuple[int, int], generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, float]:
        """Class probabilities [B, C, H, W] -> (images [B, 3, *size] float in [0, 1] on the CPU, sampling seconds):
        area-averaged to the model's resolution, sampled, resized (bilinear) to ``size``."""
        cfg = self.diffusion.cfg
        small = F.interpolate(probs.float(), size=(cfg.height, cfg.width), mode="area")
        start = time.perf_counter()
        images = self.diffusion.sample(small, self.steps, self.guidance, self.eta, generator)
        seconds = time.perf_counter() - start
        if tuple(images.shape[-2:]) != tuple(size):
            images = F.interpolate(images, size=tuple(size), mode="bilinear", align_corners=False)
        return images.clamp(0, 1).cpu(), seconds

    @torch.no_grad()
    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> GescoTransmission:
        labels = self.check_map(x).cpu()
        check_snr_db(snr_db)
        h, w = labels.shape
        received = self.transmitter.transmit(labels[None], snr_db, self.channel, generator)
        labels_hat = received.labels_hat[0].cpu()
        probs = (received.probs[0].float().cpu() if received.probs is not None
                 else one_hot(labels_hat[None], self.num_classes)[0])
        ignore = self.label_set.ignore_index
        details = {"transmitter": self.kind, "generated": self.diffusion is not None,
                   "map_pixel_accuracy": _score(pixel_accuracy(labels, labels_hat, self.num_classes, ignore)),
                   "map_miou": _score(miou(labels, labels_hat, self.num_classes, ignore)),
                   **received.details[0]}
        if self.diffusion is None:
            x_hat = self.label_set.colorize(labels_hat)
        else:
            images, seconds = self.generate(probs[None], (h, w), generator)
            x_hat = images[0]
            details |= {"steps": self.steps, "guidance": self.guidance, "sampling_seconds": seconds}
        return GescoTransmission(x_hat=x_hat, channel_uses=int(received.channel_uses[0]), ok=bool(received.ok[0]),
                                 details=details, labels_hat=labels_hat, probs=probs)


# ----------------------------------------------------------------------------------------------- building


def build_map_transmitter(kind: str, cbr: float | None = None, label_set: LabelSet = CAMVID,
                          checkpoint: str | Path | None = None, *, decode: bool = True, option: str = "--checkpoint"):
    """A map transmitter by name (``TRANSMITTERS``) at ``cbr`` (default: the checkpoint's for a trained model given by
    path, else the core's default CBR). ``checkpoint`` (``map-jscc``, ``analog+denoiser`` only): a path, or None /
    ``shipped`` for the shipped one (a one-line SemcomError naming ``option`` while none is shipped); a checkpoint
    for another class count, kind or CBR is a SemcomError. ``decode`` (``digital``): really LDPC-decode every
    codeword (else draw the outcome from the BLER table). Learned map models run on the CPU (they are small; the
    maps and the channel live there)."""
    return _map_transmitter(kind, cbr, label_set, checkpoint, decode, option)[0]


def _map_transmitter(kind: str, cbr: float | None, label_set: LabelSet, checkpoint, decode: bool,
                     option: str) -> tuple[object, Path | None]:
    """(``build_map_transmitter``'s transmitter, the checkpoint it loaded or None)."""
    if kind not in TRANSMITTERS:
        raise SemcomError(f"unknown map transmitter {kind!r}; choose one of {', '.join(TRANSMITTERS)}")
    classes = label_set.num_classes
    if kind in ("digital", "analog"):
        if checkpoint is not None and str(checkpoint) != "shipped":
            raise SemcomError(f"the {kind} map transmitter has no trained model ({option} {checkpoint} was given)")
        cbr = DEFAULT_CBR if cbr is None else cbr
        if kind == "digital":
            return DigitalMap(classes, cbr, label_set.prior_class, decode=decode), None
        return AnalogOneHot(classes, cbr), None
    model_kind = "map-jscc" if kind in ("map-jscc", "adaptive") else "map-denoiser"
    wants_shipped = checkpoint is None or str(checkpoint) == "shipped"
    if cbr is None and wants_shipped:
        cbr = DEFAULT_CBR
    path = resolve_part(checkpoint, shipped_map_model(model_kind, cbr) if wants_shipped else None,
                        not_shipped(model_kind, option, cbr))
    if path is None:
        raise SemcomError(f"the {kind} map transmitter needs its trained model, not {option} none")
    model, _ = load_map_model(path, classes, kind=model_kind)
    trained = model.cfg.cbr
    if cbr is not None and abs(trained - cbr) > 1e-12:
        raise SemcomError(f"{path} is a {model_kind} for CBR {cbr_text(trained)}, not {cbr_text(cbr)}")
    if kind == "map-jscc":
        return model, path
    if kind == "adaptive":
        return AdaptiveMap(DigitalMap(classes, trained, label_set.prior_class, decode=decode), model), path
    return AnalogOneHot(classes, trained, denoiser=model), path


def build_gesco(channel: ComplexChannel | str = "awgn", cbr: float | None = None, transmitter: str = "analog", *,
                checkpoint: str | Path | None = None, diffusion: str | Path | None = "shipped",
                steps: int | None = None, guidance: float | None = None, eta: float = 0.0, decode: bool = True,
                device: str = "cpu", label_set: LabelSet = CAMVID, checkpoint_option: str = "--checkpoint",
                diffusion_option: str = "--diffusion") -> GescoScheme:
    """A ``GescoScheme`` from names and files, as ``semcom transmit --scheme gesco`` builds it.

    ``transmitter``: one of ``TRANSMITTERS``; ``checkpoint``: its trained model (see ``build_map_transmitter``);
    ``diffusion``: a checkpoint path, ``shipped`` (a one-line SemcomError while none is shipped) or ``none`` (map
    only); a checkpoint for another class count is a SemcomError. ``device``: where the diffusion model samples
    (the map transmitters run on the CPU). ``checkpoint_option``/``diffusion_option``: the option names the errors
    tell the user to use. The checks that need no file (steps, guidance, transmitter name) run before anything is
    loaded."""
    check_steps_guidance(steps, guidance)
    if transmitter not in TRANSMITTERS:
        raise SemcomError(f"unknown map transmitter {transmitter!r}; choose one of {', '.join(TRANSMITTERS)}")
    diffusion_path = resolve_part(diffusion, shipped_diffusion(), not_shipped("diffusion", diffusion_option))
    sender, map_path = _map_transmitter(transmitter, cbr, label_set, checkpoint, decode, checkpoint_option)
    model = None
    if diffusion_path is not None:
        model, _ = shared_diffusion(diffusion_path, label_set.num_classes, device)
    return GescoScheme(sender, channel, model, steps=steps, guidance=guidance, eta=eta, label_set=label_set,
                       checkpoints={"diffusion": None if diffusion_path is None else str(diffusion_path),
                                    "map_transmitter": None if map_path is None else str(map_path)})


# ----------------------------------------------------------------------------------------------- robust training


class ChannelCorruption:
    """A map corruption for ``train_diffusion(..., corruption=...)`` (its ``Corruption`` type): the maps really sent
    through ``transmitter`` over ``channel``, each at its own SNR drawn uniformly from ``snr_range`` (dB), so the
    diffusion model learns on received maps as GESCO's receiver will see them.

    ``__call__(labels [B, H, W] int64, generator) -> [B, C, H, W] float32``: the receiver's class probabilities where
    it has them (``MapJSCC``, the denoiser), else the one-hot of the recovered map (digital, the seed's cleaning).
    ``send_size``: (H, W) the maps are sent at (nearest-neighbour resize; the received probabilities are
    area-averaged back): the diffusion model trains on small crops, but GESCO sends the full-size map, whose budget,
    pooling factor and compressed size are what the receiver really sees (for CamVid, (180, 240)); None sends the
    crops as they are. The SNRs, the channel noise and the digital outcomes come from ``generator``. For training,
    build a ``DigitalMap`` with ``decode=False`` (outcome drawn from the BLER table: LDPC decoding each map would
    dominate the step time).
    """

    def __init__(self, transmitter, channel: ComplexChannel | str = "awgn",
                 snr_range: tuple[float, float] = (-5.0, 20.0), send_size: tuple[int, int] | None = None):
        lo, hi = (float(v) for v in snr_range)
        check_snr_db(torch.tensor([lo, hi]))
        if lo > hi:
            raise SemcomError(f"SNR range must be low,high; got {lo:g},{hi:g}")
        if send_size is not None and (len(send_size) != 2 or min(send_size) < 1):
            raise SemcomError(f"send_size must be (H, W) with both >= 1, got {send_size}")
        self.kind = transmitter_kind(transmitter)
        self.transmitter, self.channel = transmitter, resolve_channel(channel)
        self.snr_range, self.send_size = (lo, hi), None if send_size is None else tuple(send_size)
        channel_name = channel if isinstance(channel, str) else type(channel).__name__.lower()
        sent = f", sent at {self.send_size[1]}x{self.send_size[0]}" if self.send_size else ""
        self.__name__ = (f"{self.kind} over {channel_name} at {lo:g}..{hi:g} dB, CBR "
                         f"{cbr_text(transmitter_cbr(transmitter))}{sent}")

    def __call__(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        classes = self.transmitter.num_classes
        labels = check_labels(labels, classes)
        device, labels = labels.device, labels.cpu()
        batch, h, w = labels.shape
        lo, hi = self.snr_range
        snr = lo + (hi - lo) * torch.rand(batch, generator=generator)
        sent = labels if self.send_size is None else resize_labels(labels, self.send_size)
        received = self.transmitter.transmit(sent, snr, self.channel, generator)
        probs = received.probs if received.probs is not None else one_hot(received.labels_hat.cpu(), classes)
        probs = probs.float().cpu()
        if tuple(probs.shape[-2:]) != (h, w):
            probs = F.interpolate(probs, size=(h, w), mode="area")
        return probs.to(device)
