"""Segmentation metrics for label maps: confusion matrix, pixel accuracy, per-class IoU and mIoU.

Conventions (the usual CamVid/Cityscapes evaluation, and torchmetrics' ``multiclass_jaccard_index`` with
``average="macro"`` and ``multiclass_accuracy`` with ``average="micro"``, which the tests use as the reference):

- ``labels`` is the reference map (the map sent, or the true map), ``labels_hat`` the map compared with it; both
  int [H, W] or [B, H, W] of class indices ``0..num_classes-1``.
- Pixels whose *reference* class is ``ignore_index`` (void) are left out entirely. A prediction of
  ``ignore_index`` where the reference is a real class still counts, as a miss of that class.
- IoU of class c = TP / (TP + FP + FN). A class absent from both maps (empty union) has no IoU (NaN) and is left
  out of the mean, as is ``ignore_index`` itself: mIoU is the mean over the classes that occur in either map.
- Pixel accuracy = correct pixels / counted pixels. When nothing is counted (every pixel void), accuracy and
  mIoU are NaN (torchmetrics returns 0 there).
- ``reduction``: ``"pooled"`` (default) sums the confusion over every pixel of the batch, as a data set is
  scored (per-class counts over all images, then IoU); ``"none"`` scores each example on its own ([B] results).
  Pooled mIoU is not the mean of per-example mIoUs. ``SegmentationMeter`` pools over many batches.
"""

from __future__ import annotations

import torch

from semcom.errors import SemcomError

REDUCTIONS = ("pooled", "none")


def _check(labels: torch.Tensor, labels_hat: torch.Tensor, num_classes: int, ignore_index: int | None,
           reduction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated [B, H, W] int64 copies of both maps."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise SemcomError(f"num_classes must be an integer >= 1, got {num_classes!r}")
    if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, int)):
        raise SemcomError(f"ignore_index must be an integer or None, got {ignore_index!r}")
    if reduction not in REDUCTIONS:
        raise SemcomError(f"unknown reduction {reduction!r}; choose one of {', '.join(REDUCTIONS)}")
    out = []
    for name, t in (("labels", labels), ("labels_hat", labels_hat)):
        if not isinstance(t, torch.Tensor) or t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            kind = t.dtype if isinstance(t, torch.Tensor) else type(t).__name__
            raise SemcomError(f"{name} must be an integer tensor of class indices, got {kind}")
        if t.dim() not in (2, 3) or t.numel() == 0:
            raise SemcomError(f"{name} must have shape [H, W] or [B, H, W], got {tuple(t.shape)}")
        low, high = int(t.min()), int(t.max())
        if low < 0 or high >= num_classes:
            raise SemcomError(f"{name} values must be class indices 0..{num_classes - 1}, got {low}..{high}")
        out.append(t.long().reshape(-1, *t.shape[-2:]))
    if labels.shape != labels_hat.shape:
        raise SemcomError(f"labels {tuple(labels.shape)} and labels_hat {tuple(labels_hat.shape)} differ in shape")
    return out[0], out[1]


def confusion_matrix(labels: torch.Tensor, labels_hat: torch.Tensor, num_classes: int,
                     ignore_index: int | None = None, reduction: str = "pooled") -> torch.Tensor:
    """Pixel counts, rows = reference class (``labels``), columns = compared class (``labels_hat``): int64
    [num_classes, num_classes] (``pooled``) or [B, num_classes, num_classes] (``none``). Pixels whose reference is
    ``ignore_index`` are not counted."""
    labels, labels_hat = _check(labels, labels_hat, num_classes, ignore_index, reduction)
    batch = labels.shape[0]
    index = (torch.arange(batch, device=labels.device)[:, None, None] * num_classes + labels) * num_classes + labels_hat
    if ignore_index is not None:
        index = index[labels != ignore_index]
    counts = torch.bincount(index.reshape(-1), minlength=batch * num_classes**2)
    counts = counts.reshape(batch, num_classes, num_classes)
    return counts.sum(0) if reduction == "pooled" else counts


def iou_from_confusion(confusion: torch.Tensor, ignore_index: int | None = None) -> torch.Tensor:
    """IoU per class from a confusion matrix [..., C, C]: float64 [..., C], NaN for classes with an empty union and
    for ``ignore_index``."""
    confusion = confusion.double()
    tp = confusion.diagonal(dim1=-2, dim2=-1)
    union = confusion.sum(-1) + confusion.sum(-2) - tp
    iou = torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(tp, float("nan")))
    if ignore_index is not None and 0 <= ignore_index < iou.shape[-1]:
        iou[..., ignore_index] = float("nan")
    return iou


def miou_from_confusion(confusion: torch.Tensor, ignore_index: int | None = None) -> torch.Tensor:
    """Mean IoU over the classes present in either map (``ignore_index`` excluded): float64 [...]; NaN if none."""
    return iou_from_confusion(confusion, ignore_index).nanmean(-1)


def pixel_accuracy_from_confusion(confusion: torch.Tensor) -> torch.Tensor:
    """Share of counted pixels whose class is right: float64 [...]; NaN when no pixel is counted."""
    confusion = confusion.double()
    total = confusion.sum((-2, -1))
    correct = confusion.diagonal(dim1=-2, dim2=-1).sum(-1)
    return torch.where(total > 0, correct / total.clamp_min(1), torch.full_like(total, float("nan")))


def class_iou(labels: torch.Tensor, labels_hat: torch.Tensor, num_classes: int, ignore_index: int | None = None,
              reduction: str = "pooled") -> torch.Tensor:
    """IoU per class, float64 [num_classes] (``pooled``) or [B, num_classes] (``none``); NaN for a class absent from
    both maps and for ``ignore_index`` (see the module docstring)."""
    return iou_from_confusion(confusion_matrix(labels, labels_hat, num_classes, ignore_index, reduction), ignore_index)


def miou(labels: torch.Tensor, labels_hat: torch.Tensor, num_classes: int, ignore_index: int | None = None,
         reduction: str = "pooled") -> torch.Tensor:
    """Mean IoU in [0, 1] over the classes present in either map, ``ignore_index`` excluded: float64 scalar
    (``pooled``) or [B] (``none``)."""
    return miou_from_confusion(confusion_matrix(labels, labels_hat, num_classes, ignore_index, reduction),
                               ignore_index)


def pixel_accuracy(labels: torch.Tensor, labels_hat: torch.Tensor, num_classes: int,
                   ignore_index: int | None = None, reduction: str = "pooled") -> torch.Tensor:
    """Share in [0, 1] of the pixels not void in ``labels`` that ``labels_hat`` gets right: float64 scalar
    (``pooled``) or [B] (``none``)."""
    return pixel_accuracy_from_confusion(confusion_matrix(labels, labels_hat, num_classes, ignore_index, reduction))


class SegmentationMeter:
    """Pooled confusion over every ``update(labels, labels_hat)``; ``miou()``, ``pixel_accuracy()`` and
    ``class_iou()`` of everything seen (a data set's scores, see the module docstring)."""

    def __init__(self, num_classes: int, ignore_index: int | None = None):
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, labels: torch.Tensor, labels_hat: torch.Tensor) -> None:
        self.confusion += confusion_matrix(labels, labels_hat, self.num_classes, self.ignore_index).cpu()

    def class_iou(self) -> torch.Tensor:
        return iou_from_confusion(self.confusion, self.ignore_index)

    def miou(self) -> float:
        return float(miou_from_confusion(self.confusion, self.ignore_index))

    def pixel_accuracy(self) -> float:
        return float(pixel_accuracy_from_confusion(self.confusion))

    def reset(self) -> None:
        self.confusion.zero_()
