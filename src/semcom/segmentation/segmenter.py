"""The knowledge base as a segmenter: an image in, non-overlapping object-sized regions out.

``Segmenter.segments(image)`` takes [3, H, W] float in [0, 1] and returns ``Segments``: bool masks
[k, H, W], pairwise disjoint, sorted by area (largest first), each at least ``min_area`` pixels.
Images that cannot be segmented (smaller than ``min_area`` pixels, a single colour, or no region
reaching ``min_area``) give an empty ``Segments`` (k = 0) whose ``reason`` says why; the caller then
sends the whole image (``fallback_reason`` states it).

``SlicSegmenter`` is the offline default (scikit-image); ``SamSegmenter`` (module ``sam``) is Segment
Anything through ``transformers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from semcom.data.images import check_image
from semcom.errors import SemcomError

MIN_AREA = 400  # pixels; the seed's min_mask_region_area
SINGLE_COLOUR_RANGE = 1 / 255  # an image whose every channel spans less than one 8-bit level is one colour
MAX_PIXELS = 2048 * 1024
"""The largest image a segmenter takes (2.1 megapixels; full HD fits), so LAM-SC's time and memory stay bounded:
they grow with the pixel count, mostly in segmentation (SLIC, and masks [n, H, W]): LAM-SC on a 2048x1536 photo spent
32 of its 48 s in SLIC (2.1 GB peak), on a 4000x3000 one over 5 min and 6 GB (``benchmarks/large_image.py``)."""


@dataclass(frozen=True, eq=False)
class Segments:
    """Disjoint regions of one image.

    ``masks``: bool [k, H, W], pairwise disjoint, non-empty, sorted by area, largest first (ties keep
    their order). ``areas``: int64 [k] pixel counts (derived). ``reason``: why there are no segments
    (required when k = 0, else ""). ``info``: facts about how they were found (JSON-serialisable).
    Compared by identity (tensors have no single truth value).
    """

    masks: torch.Tensor
    reason: str = ""
    info: dict = field(default_factory=dict)
    areas: torch.Tensor = field(init=False)

    def __post_init__(self):
        m = self.masks
        if not isinstance(m, torch.Tensor) or m.dtype != torch.bool or m.dim() != 3:
            got = f"{tuple(m.shape)} {m.dtype}" if isinstance(m, torch.Tensor) else type(m).__name__
            raise SemcomError(f"segment masks must be a bool tensor [k, H, W], got {got}")
        if m.shape[1] < 1 or m.shape[2] < 1:
            raise SemcomError(f"segment masks need H, W >= 1, got {tuple(m.shape)}")
        areas = m.flatten(1).sum(dim=1)
        if m.shape[0] and (m.sum(dim=0) > 1).any():
            raise SemcomError("segment masks overlap; every pixel may belong to at most one segment")
        if (areas == 0).any():
            raise SemcomError("a segment mask is empty")
        if (areas[1:] > areas[:-1]).any():
            raise SemcomError(f"segments must be sorted by area, largest first, got areas {areas.tolist()}")
        if m.shape[0] == 0 and not self.reason:
            raise SemcomError("an empty Segments needs a reason")
        object.__setattr__(self, "areas", areas)

    def __len__(self) -> int:
        return self.masks.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the image."""
        return self.masks.shape[1], self.masks.shape[2]

    @classmethod
    def empty(cls, height: int, width: int, reason: str, info: dict | None = None) -> Segments:
        return cls(torch.zeros(0, height, width, dtype=torch.bool), reason, dict(info or {}))

    @classmethod
    def from_masks(cls, masks: torch.Tensor, min_area: int = MIN_AREA, info: dict | None = None) -> Segments:
        """Disjoint, sorted segments from possibly overlapping masks (bool [n, H, W]).

        Overlaps go to the larger mask: masks are visited from largest to smallest area and each
        keeps only the pixels no larger mask has taken, so a part nested in an object stays in the
        object. Whatever is left of a mask below ``min_area`` pixels is dropped. Empty result:
        reason "no segment reaches min_area".
        """
        if masks.dtype != torch.bool or masks.dim() != 3:
            raise SemcomError(f"masks must be a bool tensor [n, H, W], got {tuple(masks.shape)} {masks.dtype}")
        areas = masks.flatten(1).sum(dim=1)
        order = sorted(range(masks.shape[0]), key=lambda i: -int(areas[i]))  # stable: ties keep input order
        taken = torch.zeros(masks.shape[1:], dtype=torch.bool)
        kept = []
        for i in order:
            piece = masks[i] & ~taken
            if int(piece.sum()) >= min_area:
                kept.append(piece)
                taken |= piece
        if not kept:
            h, w = masks.shape[1:]
            return cls.empty(h, w, f"no segment reaches min_area={min_area} px", info)
        stacked = torch.stack(kept)
        pieces = stacked.flatten(1).sum(dim=1)
        order = sorted(range(len(kept)), key=lambda i: -int(pieces[i]))  # removing overlaps can reorder areas
        return cls(stacked[order], "", dict(info or {}))

    def keep_largest(self, k: int) -> Segments:
        """The ``k`` largest segments; all of them when there are fewer than ``k`` (k >= 1)."""
        check_k(k)
        info = {**self.info, "found": self.info.get("found", len(self))}
        return Segments(self.masks[:k], self.reason, info)

    def label_map(self) -> torch.Tensor:
        """int64 [H, W]: the segment index of each pixel, -1 where no segment is."""
        labels = torch.full(self.size, -1, dtype=torch.int64)
        for i in range(len(self)):
            labels[self.masks[i]] = i
        return labels

    def union(self, selected: torch.Tensor | None = None) -> torch.Tensor:
        """bool [H, W]: pixels inside the selected segments (bool [k]; all when None)."""
        masks = self.masks if selected is None else self.masks[selected[: len(self)]]
        return masks.any(dim=0) if masks.shape[0] else torch.zeros(self.size, dtype=torch.bool)


def check_size(height: int, width: int) -> None:
    """SemcomError (one line: the limit and a size to resize to) for an image of more than ``MAX_PIXELS`` pixels."""
    if height * width <= MAX_PIXELS:
        return
    scale = (MAX_PIXELS / (height * width)) ** 0.5
    fit_h, fit_w = (max(16, int(side * scale) // 16 * 16) for side in (height, width))
    raise SemcomError(f"segment-based schemes (LAM-SC) take images of at most {MAX_PIXELS:,} pixels (2048x1024; full "
                      f"HD fits), this one is {width}x{height} ({height * width:,}): resize it to {fit_w}x{fit_h} or "
                      f"smaller first, e.g. with Pillow: Image.open(path).resize(({fit_w}, {fit_h})).save(new_path)")


def check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise SemcomError(f"the number of segments k must be a positive integer, got {k!r}")


def fallback_reason(segments: Segments, k: int) -> str | None:
    """Why LAM-SC must send the whole image instead of segments, or None when segments can be used.

    There is a fallback only when no segment was found. With fewer than ``k`` segments all of them
    are used (the scorer sees zero images in the empty slots); that is not a fallback.
    """
    check_k(k)
    if len(segments) == 0:
        return f"no usable segments ({segments.reason}): sending the whole image"
    return None


class Segmenter:
    """Splits an image into ``Segments``. Subclasses implement ``_masks``; ``segments`` handles bad input.

    ``min_area``: smallest segment kept, in pixels (default 400, the seed's).
    """

    name = "segmenter"

    def __init__(self, min_area: int = MIN_AREA):
        if isinstance(min_area, bool) or not isinstance(min_area, int) or min_area < 1:
            raise SemcomError(f"min_area must be a positive integer number of pixels, got {min_area!r}")
        self.min_area = min_area

    def segments(self, image: torch.Tensor) -> Segments:
        """``image`` [3, H, W] float in [0, 1] -> ``Segments`` (empty with a reason for unsegmentable images);
        SemcomError for an image over ``MAX_PIXELS`` (``check_size``)."""
        check_image(image)
        h, w = image.shape[1:]
        check_size(h, w)
        info = {"segmenter": self.name, "min_area": self.min_area}
        if h * w < self.min_area:
            return Segments.empty(h, w, f"the image has {h}x{w} = {h * w} px, fewer than min_area={self.min_area}", info)
        spread = (image.flatten(1).amax(dim=1) - image.flatten(1).amin(dim=1)).max().item()
        if spread < SINGLE_COLOUR_RANGE:
            return Segments.empty(h, w, "single-colour image: there is nothing to segment", info)
        masks, found = self._masks(image.detach().cpu().float())
        return Segments.from_masks(masks, self.min_area, {**info, **found})

    def _masks(self, image: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Candidate masks bool [n, H, W] (may overlap) and facts for ``Segments.info``."""
        raise NotImplementedError


class SlicSegmenter(Segmenter):
    """Offline segmenter: SLIC superpixels merged into object-sized regions by mean colour.

    1. SLIC (scikit-image, CIE Lab, ``n_segments`` superpixels, ``compactness``) over-segments the image.
    2. A region adjacency graph with the mean Lab colour of every superpixel is merged hierarchically:
       the two adjacent regions with the closest mean colours merge (their mean is recomputed) until
       no adjacent pair is closer than ``merge_threshold`` (Euclidean distance in Lab, i.e. CIE76
       Delta E; 15 looked object-sized on the demo photos).
    3. Regions below ``min_area`` pixels are dropped. Deterministic: no random state anywhere.

    The number of superpixels does not depend on the image size, so region sizes scale with it.
    """

    name = "slic"

    def __init__(self, min_area: int = MIN_AREA, n_segments: int = 200, compactness: float = 10.0,
                 merge_threshold: float = 15.0):
        super().__init__(min_area)
        if n_segments < 1 or compactness <= 0 or merge_threshold < 0:
            raise SemcomError(f"invalid SLIC settings: n_segments={n_segments}, compactness={compactness}, "
                              f"merge_threshold={merge_threshold}")
        self.n_segments, self.compactness, self.merge_threshold = n_segments, compactness, merge_threshold

    def _masks(self, image):
        from skimage import color, graph, segmentation

        rgb = image.permute(1, 2, 0).numpy().astype(np.float64)
        h, w = rgb.shape[:2]
        superpixels = segmentation.slic(rgb, n_segments=min(self.n_segments, h * w), compactness=self.compactness,
                                        start_label=1, channel_axis=-1)
        rag = _mean_color_rag(color.rgb2lab(rgb), superpixels)
        regions = graph.merge_hierarchical(superpixels, rag, thresh=self.merge_threshold, rag_copy=False,
                                           in_place_merge=True, merge_func=_merge_mean_color,
                                           weight_func=_mean_color_distance)
        ids = np.unique(regions)
        masks = torch.from_numpy(regions[None] == ids[:, None, None])
        return masks, {"superpixels": len(np.unique(superpixels)), "regions": len(ids)}


def _mean_color_rag(lab: np.ndarray, labels: np.ndarray):
    """Region adjacency graph of ``labels`` [H, W] (8-connected) with each region's mean colour over ``lab``
    [H, W, 3] and edge weights = distance between mean colours. Same graph as ``skimage.graph.rag_mean_color``
    (mode "distance"), built with bincounts instead of a per-pixel filter (2 s -> 0.1 s on a Kodak image)."""
    from skimage.graph import RAG

    flat = labels.ravel()
    n = int(flat.max()) + 1
    count = np.bincount(flat, minlength=n).astype(np.float64)
    total = np.stack([np.bincount(flat, weights=lab[..., c].ravel(), minlength=n) for c in range(3)], axis=1)
    shifts = [(labels[:, :-1], labels[:, 1:]), (labels[:-1], labels[1:]),
              (labels[:-1, :-1], labels[1:, 1:]), (labels[:-1, 1:], labels[1:, :-1])]
    pairs = np.concatenate([np.stack([a.ravel(), b.ravel()], axis=1) for a, b in shifts])
    pairs = np.unique(np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1), axis=0)
    rag = RAG()
    for i in np.flatnonzero(count):
        rag.add_node(int(i), labels=[int(i)], **{"pixel count": count[i], "total color": total[i].copy(),
                                                 "mean color": total[i] / count[i]})
    for a, b in pairs.tolist():
        weight = float(np.linalg.norm(rag.nodes[a]["mean color"] - rag.nodes[b]["mean color"]))
        rag.add_edge(a, b, weight=weight)
    return rag


def _mean_color_distance(rag, src, dst, n):
    """Edge weight after merging ``src`` into ``dst``: distance between the mean colours of ``dst`` and ``n``."""
    return {"weight": float(np.linalg.norm(rag.nodes[dst]["mean color"] - rag.nodes[n]["mean color"]))}


def _merge_mean_color(rag, src, dst):
    """Pool ``src``'s colour statistics into ``dst`` (the node that survives the merge)."""
    node = rag.nodes[dst]
    node["total color"] += rag.nodes[src]["total color"]
    node["pixel count"] += rag.nodes[src]["pixel count"]
    node["mean color"] = node["total color"] / node["pixel count"]


def check_segments(image: torch.Tensor, segments: Segments) -> None:
    """SemcomError unless ``segments`` are ``Segments`` of ``image``'s size."""
    if not isinstance(segments, Segments):
        raise SemcomError(f"expected Segments, got {type(segments).__name__}")
    if tuple(image.shape[1:]) != segments.size:
        raise SemcomError(f"segments are {segments.size[0]}x{segments.size[1]} but the image is "
                          f"{image.shape[1]}x{image.shape[2]}")
