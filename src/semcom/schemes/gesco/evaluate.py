"""GESCO's evaluation harness (issue 16 item 3): one cell = one scheme (transmitter, channel, CBR) at one SNR over a
set of (photo, label map) pairs, e.g. the CamVid test split.

Always: map recovery, the recovered map against the sent one, pooled over the cell (``SegmentationMeter``: per-class
counts over every pixel, void ignored): ``map_pixel_accuracy``, ``map_miou``; channel uses; the share of maps that
arrived (``success_rate``). With a diffusion model and the photos: ``psnr_db`` / ``ms_ssim`` of the generated image
against the photo (mean over images; where a generative receiver is expected to lose) and ``sampling_seconds`` per
image. With a segmenter (``semcom.segmentation.semantic``: ``predict(images [B, 3, H, W]) -> labels [B, H, W]``):
``seg_miou`` / ``seg_pixel_accuracy``, the segmenter run on the generated images against the *true* maps (pooled);
``segmenter_ceiling`` gives the same on the real photos (what a perfect receiver would score). With a distribution
metric (``semcom.metrics.distribution.DistributionMeter``): ``fid_effnet`` / ``kid_effnet`` (Fréchet / kernel
inception distances on EfficientNet-Lite0 features, never to be read as the usual Inception FID/KID) of the generated
images against the real photos.

``score_images`` computes the image-side metrics for any received images, so pixel schemes (the core's JSCC, the
digital chain) are scored the same way at equal channel uses (``benchmarks/camvid_gesco.py``).

Every transmission draws its noise from ``noise_seed(seed, index, snr_db, cbr)``, so a cell is a pure function of
(scheme, data, SNR, seed) and any row can be regenerated alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from statistics import mean

import torch

from semcom.errors import SemcomError
from semcom.metrics import ms_ssim, psnr_db
from semcom.metrics.segmentation import SegmentationMeter
from semcom.seeding import make_generator, noise_seed

SEGMENT_BATCH = 16
"""Images per call of the segmenter and of the distribution meter's feature network."""


def _nan_none(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def load_distribution_meter() -> Callable[[], object] | None:
    """A factory of fresh ``DistributionMeter``s (FID-/KID-EffNet) sharing one feature network (loaded here, once;
    its results cached by image content, ``CachedFeatures``),
    or None when ``semcom.metrics.distribution`` is not part of this installation."""
    try:
        from semcom.metrics.distribution import CachedFeatures, DistributionMeter
    except ImportError:
        return None
    features = CachedFeatures(DistributionMeter().features)  # the real photos' features: extracted once per run
    return lambda: DistributionMeter(features=features)


def segment(segmenter, images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The segmenter's label maps int64 [N, *size] for ``images`` [N, 3, H, W], in batches. A segmenter trained for
    one frame size (``cfg.image_height`` x ``cfg.image_width``, as ``semcom.segmentation.semantic``'s) sees every
    image resized to it (anti-aliased: real photos, pixel-scheme and generated images alike); its maps are resized
    to ``size`` nearest-neighbour."""
    from semcom.data.camvid import resize_labels
    from semcom.data.images import resize_images

    cfg = getattr(segmenter, "cfg", None)
    frame = (cfg.image_height, cfg.image_width) if hasattr(cfg, "image_height") else None
    out = []
    for start in range(0, images.shape[0], SEGMENT_BATCH):
        chunk = images[start:start + SEGMENT_BATCH]
        if frame is not None and tuple(chunk.shape[-2:]) != frame:
            chunk = resize_images(chunk, frame)
        labels = torch.as_tensor(segmenter.predict(chunk)).long().cpu()
        out.append(resize_labels(labels, size))
    return torch.cat(out)


def distribution_scores(meter_factory, real: torch.Tensor, fake: torch.Tensor) -> dict:
    """``fid_effnet``, ``kid_effnet``, ``kid_effnet_std`` of ``fake`` [N, 3, H, W] against ``real`` [M, 3, H, W]
    (a fresh meter). A meter that refuses too few images (SemcomError) gives None values and the reason."""
    meter = meter_factory()
    for images, is_real in ((real, True), (fake, False)):
        for start in range(0, images.shape[0], SEGMENT_BATCH):
            meter.update(images[start:start + SEGMENT_BATCH], real=is_real)
    try:
        scores = meter.compute()
    except SemcomError as exc:
        return {"fid_effnet": None, "kid_effnet": None, "kid_effnet_std": None, "distribution_note": str(exc)}
    return {k: float(scores[k]) for k in ("fid_effnet", "kid_effnet", "kid_effnet_std")}


def score_images(x_hats: torch.Tensor, images: torch.Tensor | None, labels: torch.Tensor, num_classes: int,
                 ignore_index: int | None, segmenter=None, meter_factory=None, lpips=None) -> dict:
    """Image-side metrics of received images ``x_hats`` [N, 3, H, W] against the photos ``images`` (or None) and
    the true maps ``labels`` [N, H, W]: ``psnr_db``/``ms_ssim`` (means; with photos), ``lpips`` (mean; with photos and
    an ``semcom.metrics.lpips.LPIPS``), ``seg_miou``/``seg_pixel_accuracy`` (pooled; with a segmenter),
    ``fid_effnet``/``kid_effnet``/``kid_effnet_std`` (with a meter factory and photos)."""
    out: dict = {}
    if images is not None:
        out["psnr_db"] = mean(psnr_db(images[i:i + 1], x_hats[i:i + 1]).item() for i in range(len(x_hats)))
        out["ms_ssim"] = mean(ms_ssim(images[i:i + 1], x_hats[i:i + 1]).item() for i in range(len(x_hats)))
        if lpips is not None:
            with torch.no_grad():
                total = sum(float(lpips(images[i:i + SEGMENT_BATCH], x_hats[i:i + SEGMENT_BATCH]).sum())
                            for i in range(0, len(x_hats), SEGMENT_BATCH))
            out["lpips"] = total / len(x_hats)
    if segmenter is not None:
        meter = SegmentationMeter(num_classes, ignore_index)
        meter.update(labels, segment(segmenter, x_hats, tuple(labels.shape[-2:])))
        out |= {"seg_miou": _nan_none(meter.miou()), "seg_pixel_accuracy": _nan_none(meter.pixel_accuracy())}
    if meter_factory is not None and images is not None:
        out |= distribution_scores(meter_factory, images, x_hats)
    return out


def segmenter_ceiling(segmenter, images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                      ignore_index: int | None) -> dict:
    """The segmenter on the real photos against their true maps (pooled): the most a receiver's image can score."""
    meter = SegmentationMeter(num_classes, ignore_index)
    meter.update(labels, segment(segmenter, images, tuple(labels.shape[-2:])))
    return {"seg_miou": _nan_none(meter.miou()), "seg_pixel_accuracy": _nan_none(meter.pixel_accuracy())}


def evaluate_cell(scheme, labels: torch.Tensor, snr_db: float, *, images: torch.Tensor | None = None,
                  names: list[str] | None = None, seed: int = 0, segmenter=None, meter_factory=None,
                  on_image=None, lpips=None) -> tuple[list[dict], dict]:
    """Send every map of ``labels`` [N, H, W] through ``scheme`` (a ``GescoScheme``) at ``snr_db``; returns (one
    row per map, the cell's summary; see the module docstring). ``images``: the photos [N, 3, H, W] (for PSNR,
    MS-SSIM, LPIPS with an ``lpips`` model, and FID-/KID-EffNet); ``on_image(row)`` is called after each map."""
    if labels.dim() != 3 or labels.shape[0] == 0:
        raise SemcomError(f"labels must be [N, H, W] with N >= 1, got {tuple(labels.shape)}")
    if images is not None and (images.shape[0] != labels.shape[0] or images.shape[-2:] != labels.shape[-2:]):
        raise SemcomError(f"images {tuple(images.shape)} do not match the maps {tuple(labels.shape)}")
    classes, ignore = scheme.num_classes, scheme.label_set.ignore_index
    names = names or [str(i) for i in range(labels.shape[0])]
    meter = SegmentationMeter(classes, ignore)
    rows, x_hats = [], []
    for index in range(labels.shape[0]):
        generator = make_generator(noise_seed(seed, index, snr_db, scheme.cbr))
        start = time.perf_counter()
        tx = scheme.transmit(labels[index], snr_db, generator)
        seconds = time.perf_counter() - start
        meter.update(labels[index], tx.labels_hat)
        row = {"scheme": f"gesco-{scheme.kind}", "transmitter": scheme.kind, "channel": scheme.channel_name,
               "image": names[index], "snr_db": snr_db, "cbr_target": scheme.cbr,
               "cbr": tx.channel_uses / (3 * labels.shape[1] * labels.shape[2]), "channel_uses": tx.channel_uses,
               "ok": tx.ok, "seconds": seconds, "seed": seed, **tx.details}
        if tx.details["generated"] and images is not None:
            row |= {"psnr_db": psnr_db(images[index][None], tx.x_hat[None]).item(),
                    "ms_ssim": ms_ssim(images[index][None], tx.x_hat[None]).item()}
        rows.append(row)
        x_hats.append(tx.x_hat)
        if on_image:
            on_image(row)
    generated = scheme.diffusion is not None
    summary = {"scheme": f"gesco-{scheme.kind}", "transmitter": scheme.kind, "channel": scheme.channel_name,
               "cbr_target": scheme.cbr, "snr_db": snr_db, "images": len(rows), "generated": generated,
               "channel_uses": mean(r["channel_uses"] for r in rows),
               "success_rate": mean(float(r["ok"]) for r in rows),
               "map_pixel_accuracy": _nan_none(meter.pixel_accuracy()), "map_miou": _nan_none(meter.miou()),
               "seconds": mean(r["seconds"] for r in rows), "seed": seed}
    if generated:
        summary |= {"steps": scheme.steps, "guidance": scheme.guidance,
                    "sampling_seconds": mean(r["sampling_seconds"] for r in rows)}
        summary |= score_images(torch.stack(x_hats), images, labels, classes, ignore, segmenter, meter_factory,
                                lpips)
    return rows, summary
