"""Accuracy of split inference over channels, its cost in bits and channel uses, and device latency.

Rows share one schema (``row``): scheme, channel, snr_db, accuracy (%), bits per image, compression
ratios against the float32 split features and the 8-bit raw image, complex channel uses per image.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from semcom.schemes.splitnn.checkpoint import load_semanticnn
from semcom.schemes.splitnn.link import adaptive_accuracy
from semcom.schemes.splitnn.model import SemanticNN
from semcom.schemes.splitnn.variants import Variant
from semcom.seeding import make_generator
from semcom.splitting import SplitModel

FLOAT_BITS = 32


def row(scheme: str, channel: str, snr_db: float | None, accuracy: float, bits: float, channel_uses: float | None,
        split: SplitModel, **extra) -> dict:
    feature_bits = math.prod(split.feature_shape()) * FLOAT_BITS
    image_bits = math.prod(split.input_shape) * 8
    return {"scheme": scheme, "channel": channel, "snr_db": snr_db, "accuracy": accuracy, "bits": bits,
            "compression_vs_features": feature_bits / bits if bits else None,
            "compression_vs_image": image_bits / bits if bits else None, "channel_uses": channel_uses, **extra}


def batches(images: torch.Tensor, labels: torch.Tensor, size: int = 500):
    for start in range(0, len(images), size):
        yield images[start:start + size].float() / 255, labels[start:start + size]


@torch.no_grad()
def uncompressed_accuracy(split: SplitModel, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy (%) of the unsplit model: head and tail on the same machine, no channel."""
    split.eval()
    correct = sum((split(x).argmax(1) == y).sum().item() for x, y in batches(images, labels))
    return 100 * correct / len(images)


@torch.no_grad()
def semanticnn_accuracy(model: SemanticNN, images: torch.Tensor, labels: torch.Tensor, snr_db: float,
                        seed: int = 0) -> float:
    """Top-1 accuracy (%) through encoder, channel (noise from ``seed``) and decoder."""
    model.eval()
    gen = make_generator(seed)
    correct = sum((model(x, snr_db, gen)["logits"].argmax(1) == y).sum().item() for x, y in batches(images, labels))
    return 100 * correct / len(images)


def variant_row(model: SemanticNN, variant: Variant, images: torch.Tensor, labels: torch.Tensor, channel: str,
                snr_db: float, seed: int = 0) -> dict:
    """One (channel, SNR) row for a loaded codec (its bit channel must be ``channel``). Variants with the
    adaptive link are priced by ``link.adaptive_accuracy`` (block failures drawn from the BLER table;
    ``mcs`` and ``delivered`` in the row)."""
    if variant.link == "adaptive":
        r = adaptive_accuracy(model, images, labels, snr_db, channel, variant.clean_snr_db, seed=seed)
        return row(variant.name, channel, snr_db, r.accuracy, model.bits, r.channel_uses, model.split,
                   analog=False, mcs=r.mcs, delivered=r.delivered)
    acc = semanticnn_accuracy(model, images, labels, snr_db, seed)
    return row(variant.name, channel, snr_db, acc, model.bits if model.codec.cfg.bits else None,
               model.channel_uses, model.split, analog=not model.codec.cfg.bits)


def evaluate_checkpoint(path: str | Path, images: torch.Tensor, labels: torch.Tensor, snrs, channels,
                        split: SplitModel | None = None, seed: int = 0, on_cell=None) -> list[dict]:
    """One ``variant_row`` per (channel, SNR) for a trained codec; the row's scheme is the checkpoint's variant name."""
    rows = []
    for channel in channels:
        model, meta = load_semanticnn(path, split=split, medium=channel)
        variant = Variant(**meta["variant"])
        for snr in snrs:
            rows.append(variant_row(model, variant, images, labels, channel, snr, seed))
            if on_cell:
                on_cell(rows[-1])
    return rows


@torch.no_grad()
def device_latency(model: SemanticNN, repeats: int = 200, threads: int = 1) -> dict:
    """Median wall time (ms) of the device side for one 32x32 image: head + encoder + quantiser + packing."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = torch.rand(1, *model.split.input_shape)
        snr = torch.zeros(1) if model.codec.cfg.encoder_snr else None
        if model.codec.cfg.bits:
            step = lambda: model.device_payload(x, snr)  # noqa: E731
        else:
            step = lambda: model.codec.encode(model.split.head(x), snr)  # noqa: E731
        for _ in range(10):
            step()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            step()
            times.append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(previous)
    device_params = sum(p.numel() for p in model.split.head.parameters()) + sum(
        p.numel() for p in model.codec.encoder.parameters()) + (
        sum(p.numel() for p in model.codec.quantizer.parameters()) if model.codec.quantizer is not None else 0)
    return {"device_ms": 1000 * sorted(times)[len(times) // 2], "device_params": device_params, "threads": threads}
