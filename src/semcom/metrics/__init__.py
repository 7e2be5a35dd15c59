"""Metrics: pure per-image functions first (``psnr_db``, ``ssim``, ``ms_ssim``, ``LPIPS``; label maps: ``miou``,
``pixel_accuracy``, ``class_iou``, ``confusion_matrix``), and thin accumulators second (``MetricMeter``, a running
mean; ``SegmentationMeter``, a pooled confusion matrix)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from semcom.errors import SemcomError
from semcom.metrics.distribution import DistributionMeter, EffNetFeatures, frechet_distance, kernel_inception_distance
from semcom.metrics.image import MS_SSIM_WEIGHTS, PSNR_CAP_DB, ms_ssim, ms_ssim_scales, ms_ssim_weights, psnr_db, ssim
from semcom.metrics.lpips import LPIPS
from semcom.metrics.segmentation import SegmentationMeter, class_iou, confusion_matrix, miou, pixel_accuracy


class MetricMeter:
    """Running mean per metric name over examples (not over batches).

    ``update("psnr_db", values)`` takes per-example values ([B] tensor, or a float for one example);
    ``means()`` returns {name: mean over every example seen}. Non-finite values raise SemcomError,
    since a single inf or NaN would silently poison the mean.
    """

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def update(self, name: str, values: torch.Tensor | float) -> None:
        t = torch.as_tensor(values).detach().double().flatten()
        if t.numel() == 0:
            raise SemcomError(f"no values given for metric {name!r}")
        if not torch.isfinite(t).all():
            raise SemcomError(f"metric {name!r} received NaN or inf")
        self._sums[name] = self._sums.get(name, 0.0) + t.sum().item()
        self._counts[name] = self._counts.get(name, 0) + t.numel()

    def update_all(self, metrics: Mapping[str, torch.Tensor | float]) -> None:
        for name, values in metrics.items():
            self.update(name, values)

    def count(self, name: str) -> int:
        return self._counts.get(name, 0)

    def mean(self, name: str) -> float:
        if name not in self._counts:
            known = ", ".join(sorted(self._counts)) or "none yet"
            raise SemcomError(f"no values recorded for metric {name!r} (recorded: {known})")
        return self._sums[name] / self._counts[name]

    def means(self) -> dict[str, float]:
        return {name: self.mean(name) for name in self._counts}

    def reset(self) -> None:
        self._sums.clear()
        self._counts.clear()

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v:.4g} (n={self._counts[k]})" for k, v in self.means().items())
        return f"MetricMeter({body})"


__all__ = [
    "LPIPS", "MS_SSIM_WEIGHTS", "MetricMeter", "PSNR_CAP_DB", "ms_ssim", "ms_ssim_scales", "ms_ssim_weights",
    "psnr_db", "ssim",
    "SegmentationMeter", "class_iou", "confusion_matrix", "miou", "pixel_accuracy",
    "DistributionMeter", "EffNetFeatures", "frechet_distance", "kernel_inception_distance",
]
