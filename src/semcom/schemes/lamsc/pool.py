"""LAM-SC's training data: the segment pool and the batches drawn from it.

A **segment pool** holds random square crops of the training photos (random position and horizontal flip; the last
``val_count`` photos by name are held out), each segmented once by the knowledge base (``SlicSegmenter`` by default)
with its k largest segments kept. Crops without a usable segment are skipped. For the scorer the pool also holds
each crop's proxy importance target (``occlusion_importance``: EfficientNet-Lite0's confidence drop when a segment is
removed), or the human scores of a CSV when one is given (then the pool is the whole photos, one entry per photo).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.data.crops import split_train_val
from semcom.data.images import load_image
from semcom.errors import SemcomError
from semcom.schemes.lamsc.scheme import block_aligned
from semcom.schemes.lamsc.scorer import DEFAULT_K, segment_images
from semcom.seeding import make_generator
from semcom.segmentation.importance import load_human_scores, occlusion_importance
from semcom.segmentation.segmenter import Segmenter, Segments, SlicSegmenter
from semcom.training.checkpoint import atomic_save, load_file


@dataclass
class SegmentPool:
    """Crops with their segments: ``images`` uint8 [N, 3, S, S], ``labels`` int8 [N, S, S] (segment index in
    area order, -1 outside every kept segment), ``counts`` int64 [N] (segments per crop, 1..k), ``targets``
    float32 [N, k] (importance per slot, 0 in empty slots; None when not computed), ``names`` per crop."""

    images: torch.Tensor
    labels: torch.Tensor
    counts: torch.Tensor
    targets: torch.Tensor | None
    names: list[str]

    def __len__(self) -> int:
        return self.images.shape[0]

    def segments(self, i: int) -> Segments:
        masks = self.labels[i][None] == torch.arange(int(self.counts[i]))[:, None, None]
        return Segments(masks)

    def image(self, i: int) -> torch.Tensor:
        return self.images[i].float() / 255

    def save(self, path: str | Path) -> None:
        atomic_save(asdict(self), path)

    @classmethod
    def load(cls, path: str | Path) -> SegmentPool:
        data = load_file(path)
        try:
            return cls(**data)
        except TypeError:
            raise SemcomError(f"{path} is not a LAM-SC segment pool") from None


def build_pool(folder: str | Path, count: int, crop: int, k: int = DEFAULT_K, val_count: int = 4, seed: int = 0,
               segmenter: Segmenter | None = None, targets: bool = False, log=print) -> SegmentPool:
    """``count`` random ``crop`` x ``crop`` crops of the training photos in ``folder`` with their segments (and
    occlusion-importance targets when ``targets``); photos smaller than the crop are skipped."""
    paths, _ = split_train_val(folder, val_count)
    photos = [load_image(p) for p in paths]
    photos = [(p.name, im) for p, im in zip(paths, photos) if min(im.shape[1:]) >= crop]
    if not photos:
        raise SemcomError(f"no training photo in {folder} is at least {crop}x{crop} px")
    segmenter = segmenter or SlicSegmenter()
    gen = make_generator(seed)
    images, labels, counts, scores, names = [], [], [], [], []
    tries = 0
    while len(images) < count:
        tries += 1
        if tries > 4 * count:
            raise SemcomError(f"only {len(images)} of {count} crops had usable segments")
        name, photo = photos[int(torch.randint(len(photos), (1,), generator=gen))]
        top = int(torch.randint(photo.shape[1] - crop + 1, (1,), generator=gen))
        left = int(torch.randint(photo.shape[2] - crop + 1, (1,), generator=gen))
        x = photo[:, top:top + crop, left:left + crop]
        if torch.rand(1, generator=gen).item() < 0.5:
            x = x.flip(-1)
        segments = segmenter.segments(x).keep_largest(k)
        if len(segments) == 0:
            continue
        images.append((x * 255).round().to(torch.uint8))
        labels.append(segments.label_map().to(torch.int8))
        counts.append(len(segments))
        names.append(f"{name}@{top},{left}")
        if targets:
            t = torch.zeros(k)
            t[: len(segments)] = occlusion_importance(x, segments)
            scores.append(t)
        if len(images) % 50 == 0:
            log(f"pool: {len(images)}/{count} crops")
    return SegmentPool(torch.stack(images), torch.stack(labels), torch.tensor(counts),
                       torch.stack(scores) if targets else None, names)


def human_pool(folder: str | Path, csv_path: str | Path, k: int = DEFAULT_K, segmenter: Segmenter | None = None,
               max_side: int = 512) -> SegmentPool:
    """A pool of the whole photos scored in a human-score CSV (``load_human_scores``), each resized so its longer
    side is at most ``max_side`` and centre-cropped to a square; the CSV's segment indices refer to the segments
    the segmenter finds on that square."""
    from semcom.data.images import list_images

    paths = {p.name: p for p in list_images(folder)}
    scores = load_human_scores(csv_path, paths.keys())
    segmenter = segmenter or SlicSegmenter()
    images, labels, counts, targets, names = [], [], [], [], []
    for name, values in sorted(scores.items()):
        x = load_image(paths[name])
        side = min(x.shape[1:])
        top, left = (x.shape[1] - side) // 2, (x.shape[2] - side) // 2
        x = x[:, top:top + side, left:left + side]
        if side > max_side:
            x = F.interpolate(x[None], (max_side, max_side), mode="bilinear", antialias=True)[0].clamp(0, 1)
        segments = segmenter.segments(x).keep_largest(k)
        if len(values) > len(segments):
            raise SemcomError(f"{name}: the CSV scores {len(values)} segments but the segmenter found {len(segments)}")
        t = torch.zeros(k)
        t[: len(values)] = values
        images.append((x * 255).round().to(torch.uint8))
        labels.append(segments.label_map().to(torch.int8))
        counts.append(len(segments))
        targets.append(t)
        names.append(name)
    sizes = {tuple(im.shape) for im in images}
    if len(sizes) != 1:
        raise SemcomError(f"human-scored photos must give squares of one size, got {sorted(sizes)}")
    return SegmentPool(torch.stack(images), torch.stack(labels), torch.tensor(counts), torch.stack(targets), names)


def scorer_inputs(pool: SegmentPool, k: int) -> torch.Tensor:
    """Stacked segment images [N, 3k, 64, 64] of every pool entry."""
    return torch.stack([segment_images(pool.image(i), pool.segments(i), k) for i in range(len(pool))])


def semantic_batch(pool: SegmentPool, batch: int, crop: int, gen: torch.Generator,
                   aligned: bool = True, whole: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """([batch, 3, crop, crop], regions bool [batch, crop, crop]): pool crops with a random non-empty subset of
    their segments kept, a random ``crop`` window each; the rest black, per 16x16 block as ``LamSC`` sends it
    (``aligned``) or per pixel. ``whole``: the windows unmasked, regions everywhere (the same random draws)."""
    idx = torch.randint(len(pool), (batch,), generator=gen).tolist()
    size = pool.images.shape[-1]
    out = torch.empty(batch, 3, crop, crop)
    regions = torch.empty(batch, crop, crop, dtype=torch.bool)
    for b, i in enumerate(idx):
        n = int(pool.counts[i])
        pick = torch.rand(n, generator=gen) < 0.5
        pick[int(torch.randint(n, (1,), generator=gen))] = True
        labels = pool.labels[i].long()
        region = pick[labels.clamp(min=0)] & (labels >= 0)
        top, left = (int(torch.randint(size - crop + 1, (1,), generator=gen)) for _ in range(2))
        regions[b] = region[top:top + crop, left:left + crop]
        window = pool.image(i)[:, top:top + crop, left:left + crop]
        if whole:
            regions[b], out[b] = True, window
        else:
            out[b] = block_aligned(window, regions[b]) if aligned else window * regions[b][None]
    return out, regions
