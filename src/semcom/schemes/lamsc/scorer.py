"""ASI (attention-based semantic integration): score each segment's importance, keep the important ones.

- ``segment_images``: the k segment images (the image masked to each segment, resized to 64x64), stacked
  to [k*3, 64, 64] as in the seed; empty slots (fewer than k segments) are zero images.
- ``ASIScorer``: a small CBAM-style network (channel attention, then spatial attention; Woo et al. 2018)
  over the stacked segment images, one sigmoid score per segment [B, k].
- ``integrate``: the semantic image = the union of the segments scoring above the threshold.
- Targets for training the scorer (``semcom.segmentation.importance``): ``occlusion_importance`` (the documented
  proxy: how much a real ImageNet classifier's confidence drops when a segment is removed) or
  ``load_human_scores`` (a CSV ``image,segment,score`` of human labels, as the seed trained on).
"""

from __future__ import annotations

import torch
from torch import nn

from semcom.data.images import check_image, resize_images
from semcom.errors import SemcomError
from semcom.segmentation.segmenter import Segments, check_k, check_segments

SEGMENT_SIZE = 64  # side of each segment image seen by the scorer (the seed's)
DEFAULT_K = 5
THRESHOLD = 0.7  # segments scoring above it are integrated (the seed's)
FILLS = ("zero", "mean")


def segment_images(image: torch.Tensor, segments: Segments, k: int = DEFAULT_K, size: int = SEGMENT_SIZE) -> torch.Tensor:
    """[k*3, size, size]: slot i holds the image masked to segment i (zero outside), resized to size x size
    (the aspect ratio is not kept, as in the seed); slots beyond the number of segments are zero.
    Only the first k segments (the largest) are used."""
    check_image(image)
    check_k(k)
    check_segments(image, segments)
    out = torch.zeros(k, 3, size, size)
    n = min(k, len(segments))
    if n:
        masked = image[None].float().cpu() * segments.masks[:n, None].float()
        out[:n] = resize_images(masked, (size, size))
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
    check_segments(image, segments)
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
