"""Segmentation metrics: a hand-computed case, torchmetrics as the reference, the conventions, bad input."""

import math

import pytest
import torch
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_jaccard_index

from semcom.errors import SemcomError
from semcom.metrics.segmentation import (
    SegmentationMeter, class_iou, confusion_matrix, miou, pixel_accuracy,
)


def test_hand_computed_tiny_case():
    # 3 classes, class 2 is void (ignored). Reference and prediction, 2 x 4 pixels:
    labels = torch.tensor([[0, 0, 1, 1],
                           [0, 2, 1, 2]])
    labels_hat = torch.tensor([[0, 1, 1, 1],
                               [2, 0, 1, 1]])
    # counted pixels (reference not void): 6. Correct: (0,0), (0,2), (0,3), (1,2) -> 4 of 6.
    cm = confusion_matrix(labels, labels_hat, 3, ignore_index=2)
    assert cm.tolist() == [[1, 1, 1],   # reference 0: once 0, once 1, once void (a miss of class 0)
                           [0, 3, 0],   # reference 1: always 1
                           [0, 0, 0]]   # void reference pixels are not counted
    assert pixel_accuracy(labels, labels_hat, 3, ignore_index=2).item() == pytest.approx(4 / 6)
    # IoU 0: TP 1, FN 2, FP 0 -> 1/3; IoU 1: TP 3, FN 0, FP 1 -> 3/4; void: NaN (excluded)
    iou = class_iou(labels, labels_hat, 3, ignore_index=2)
    assert iou[0].item() == pytest.approx(1 / 3) and iou[1].item() == pytest.approx(3 / 4) and math.isnan(iou[2])
    assert miou(labels, labels_hat, 3, ignore_index=2).item() == pytest.approx((1 / 3 + 3 / 4) / 2)
    # without ignore_index, void is a class: TP 0 (no pixel agrees), union 3 -> IoU 0
    assert class_iou(labels, labels_hat, 3)[2].item() == 0.0


def test_absent_classes_are_excluded_not_counted_as_zero_or_one():
    labels = torch.zeros(1, 4, 4, dtype=torch.long)
    labels[0, :, 2:] = 1  # classes 0 and 1 only; classes 2..4 absent from both maps
    assert miou(labels, labels, 5).item() == 1.0
    iou = class_iou(labels, labels, 5)
    assert torch.isnan(iou[2:]).all()
    wrong = labels.clone()
    wrong[0, 0, 0] = 3  # class 3 now appears in the prediction only: IoU 0 and it counts
    assert class_iou(labels, wrong, 5)[3].item() == 0.0
    assert miou(labels, wrong, 5).item() == pytest.approx((7 / 8 + 1 + 0) / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_torchmetrics(seed):
    g = torch.Generator().manual_seed(seed)
    classes = 12
    labels = torch.randint(classes, (3, 20, 30), generator=g)
    labels[:, :5] = 11  # a void band
    labels[labels == 7] = 2  # class 7 never in the reference ...
    labels_hat = torch.where(torch.rand(labels.shape, generator=g) < 0.6, labels,
                             torch.randint(classes, labels.shape, generator=g))
    labels_hat[labels_hat == 9] = 3  # ... class 9 never predicted; class 10 in neither:
    labels[labels == 10] = 0
    labels_hat[labels_hat == 10] = 0
    ref_miou = multiclass_jaccard_index(labels_hat, labels, classes, average="macro", ignore_index=11)
    ref_iou = multiclass_jaccard_index(labels_hat, labels, classes, average="none", ignore_index=11)
    ref_acc = multiclass_accuracy(labels_hat, labels, classes, average="micro", ignore_index=11)
    assert miou(labels, labels_hat, classes, ignore_index=11).item() == pytest.approx(ref_miou.item(), abs=1e-6)
    ours = class_iou(labels, labels_hat, classes, ignore_index=11)
    present = ~torch.isnan(ours)
    assert present.sum() == 10  # 12 classes less void and class 10
    assert torch.allclose(ours[present].float(), ref_iou[present], atol=1e-6)
    acc = pixel_accuracy(labels, labels_hat, classes, ignore_index=11)
    assert acc.item() == pytest.approx(ref_acc.item(), abs=1e-6)
    # per-example scores match torchmetrics run on each example alone
    per = miou(labels, labels_hat, classes, ignore_index=11, reduction="none")
    assert per.shape == (3,)
    for b in range(3):
        ref = multiclass_jaccard_index(labels_hat[b], labels[b], classes, average="macro", ignore_index=11)
        assert per[b].item() == pytest.approx(ref.item(), abs=1e-6)


def test_meter_pools_over_batches_like_one_call():
    g = torch.Generator().manual_seed(3)
    labels = torch.randint(5, (4, 8, 8), generator=g)
    labels_hat = torch.randint(5, (4, 8, 8), generator=g)
    meter = SegmentationMeter(5, ignore_index=4)
    meter.update(labels[:1], labels_hat[:1])
    meter.update(labels[1:], labels_hat[1:])
    assert meter.miou() == pytest.approx(miou(labels, labels_hat, 5, 4).item())
    assert meter.pixel_accuracy() == pytest.approx(pixel_accuracy(labels, labels_hat, 5, 4).item())
    # pooled mIoU is not the mean of per-example mIoUs (the documented difference)
    assert meter.miou() != pytest.approx(miou(labels, labels_hat, 5, 4, reduction="none").mean().item())


def test_all_void_reference_gives_nan():
    labels = torch.full((2, 3), 2)
    assert math.isnan(pixel_accuracy(labels, labels, 3, ignore_index=2).item())
    assert math.isnan(miou(labels, labels, 3, ignore_index=2).item())


@pytest.mark.parametrize("labels, labels_hat, match", [
    (torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long), "differ in shape"),
    (torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long), "integer tensor"),
    (torch.full((2, 3), 5), torch.zeros(2, 3, dtype=torch.long), r"class indices 0\.\.4, got 5\.\.5"),
    (torch.full((2, 3), -1), torch.zeros(2, 3, dtype=torch.long), "class indices"),
    (torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long), r"\[H, W\] or \[B, H, W\]"),
])
def test_bad_input_is_one_line_error(labels, labels_hat, match):
    with pytest.raises(SemcomError, match=match) as info:
        miou(labels, labels_hat, 5)
    assert "\n" not in str(info.value)


def test_bad_reduction():
    with pytest.raises(SemcomError, match="reduction"):
        miou(torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long), 2, reduction="mean")
