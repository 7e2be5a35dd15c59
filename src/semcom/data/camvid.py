"""CamVid road scenes with 12-class semantic label maps, and what any label map needs: a class set with names and a
display palette, validation, colouring, loading image/label pairs, random crops.

The shared copy (``../shared/data/camvid/{train,val,test}/{images,labels}/``, see its README) holds 367 / 101 / 233
pairs of an RGB PNG and an 8-bit PNG of class indices with the same file name, 240 wide x 180 high (downscaled from
480x360: images Lanczos, labels nearest neighbour). Classes in SegNet order, 11 = void (unlabelled; ignored by the
usual mIoU, but part of the map a transmitter sends). CC BY-NC 4.0: research use, never shipped in the package.

Shapes: a split loads as ``images`` float32 [N, 3, H, W] in [0, 1] (or None when only maps are asked for) and
``labels`` int64 [N, H, W]; ``colorize`` turns [..., H, W] class indices into [..., 3, H, W] colours in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from semcom.data.images import load_image, resize_images
from semcom.data.sources import shared_subdir
from semcom.errors import SemcomError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class LabelSet:
    """A semantic class set: ``classes`` (names, index = class value), ``palette`` (one RGB triple 0..255 per class),
    ``ignore_index`` (the void/unlabelled class metrics skip, or None) and ``prior_class`` (the most frequent class of
    the training maps: a receiver's best constant guess when no map arrives)."""

    name: str
    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    ignore_index: int | None
    prior_class: int

    def __post_init__(self):
        if len(self.palette) != len(self.classes) or len(self.classes) < 2:
            raise SemcomError(f"label set {self.name!r}: need >= 2 classes and one palette colour per class")
        for index in (self.ignore_index, self.prior_class):
            if index is not None and not 0 <= index < len(self.classes):
                raise SemcomError(f"label set {self.name!r}: class index {index} outside 0..{len(self.classes) - 1}")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def colorize(self, labels: torch.Tensor) -> torch.Tensor:
        """Class indices [..., H, W] (integer) -> colours float32 [..., 3, H, W] in [0, 1] from ``palette``."""
        return colorize(labels, self.palette)


CAMVID = LabelSet(
    name="camvid",
    classes=("sky", "building", "pole", "road", "pavement", "tree", "sign-symbol", "fence", "car", "pedestrian",
             "bicyclist", "void"),
    palette=((128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
             (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 0)),
    ignore_index=11,
    prior_class=3,  # road: 31.8 % of the train split's pixels (building 23.2 %, sky 16.8 %)
)
"""CamVid's 12 classes (SegNet order) and display palette, from ``../shared/data/README.md``; 11 is void."""


def check_labels(labels: torch.Tensor, num_classes: int, name: str = "labels", dims: int | None = 3) -> torch.Tensor:
    """Require an integer tensor of class indices in ``0..num_classes-1`` with ``dims`` dimensions ([B, H, W] by
    default; None: any of at least 2), every side >= 1; returns it as int64. One-line SemcomError otherwise."""
    if not isinstance(labels, torch.Tensor):
        raise SemcomError(f"{name} must be a torch.Tensor of class indices, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise SemcomError(f"{name} must hold integer class indices, got {labels.dtype}")
    if (dims is not None and labels.dim() != dims) or labels.dim() < 2:
        want = {3: "[B, H, W]", 2: "[H, W]"}.get(dims, f"{dims} dimensions") if dims else "[..., H, W]"
        raise SemcomError(f"{name} must have shape {want}, got {tuple(labels.shape)}")
    if labels.numel() == 0:
        raise SemcomError(f"{name} is empty (shape {tuple(labels.shape)})")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise SemcomError(f"{name} values must be class indices 0..{num_classes - 1}, got {low}..{high}")
    return labels.long()


def colorize(labels: torch.Tensor, palette: tuple[tuple[int, int, int], ...] = CAMVID.palette) -> torch.Tensor:
    """Class indices [..., H, W] -> float32 [..., 3, H, W] in [0, 1], colour ``palette[class]`` per pixel."""
    labels = check_labels(labels, len(palette), dims=None)
    table = torch.tensor(palette, dtype=torch.float32, device=labels.device) / 255.0
    return table[labels].movedim(-1, -3).contiguous()


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """[B, H, W] class indices -> float32 [B, num_classes, H, W] one-hot (no checks: call ``check_labels`` first)."""
    return F.one_hot(labels, num_classes).permute(0, 3, 1, 2).float()


def resize_labels(labels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[N, H, W] class indices -> [N, *size], nearest neighbour (pixel centres; every value stays a valid class)."""
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    return F.interpolate(labels[:, None].float(), size, mode="nearest-exact")[:, 0].round().long()


def camvid_root(root: str | Path | None = None) -> Path:
    """The CamVid folder: ``root`` if given (it must exist), else ``camvid`` in the shared data folder."""
    if root is None:
        return shared_subdir("camvid")
    path = Path(root)
    if not path.is_dir():
        raise SemcomError(f"CamVid folder not found: {path}")
    return path


def camvid_pairs(split: str, root: str | Path | None = None) -> list[tuple[Path, Path]]:
    """(image, label map) file pairs of ``split``, sorted by name; SemcomError for a missing folder or an image
    without its label map (or the other way round)."""
    if split not in SPLITS:
        raise SemcomError(f"unknown CamVid split {split!r}; choose one of {', '.join(SPLITS)}")
    base = camvid_root(root) / split
    folders = {kind: base / kind for kind in ("images", "labels")}
    for kind, folder in folders.items():
        if not folder.is_dir():
            raise SemcomError(f"CamVid {split} {kind} folder not found: {folder}")
    names = {kind: {p.name for p in folder.glob("*.png")} for kind, folder in folders.items()}
    if not names["labels"]:
        raise SemcomError(f"no label maps (*.png) in {folders['labels']}")
    unpaired = sorted(names["images"] ^ names["labels"])
    if unpaired:
        raise SemcomError(f"CamVid {split}: {len(unpaired)} file(s) without a partner in images/ and labels/, e.g. "
                          f"{unpaired[0]}")
    return [(folders["images"] / n, folders["labels"] / n) for n in sorted(names["labels"])]


def load_label_map(path: str | Path, num_classes: int = CAMVID.num_classes) -> torch.Tensor:
    """An 8-bit label PNG (grey ``L`` or palette ``P``, pixel value = class index) as int64 [H, W]; SemcomError if
    missing, unreadable, of another pixel mode, or holding a value outside ``0..num_classes-1``."""
    path = Path(path)
    if not path.is_file():
        raise SemcomError(f"label map not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode not in ("L", "P"):
                raise SemcomError(f"label map {path} has pixel mode {img.mode}; expected 8-bit class indices (L or P)")
            array = np.array(img, dtype=np.uint8)
    except SemcomError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SemcomError(f"cannot read label map {path}: {exc}") from None
    return check_labels(torch.from_numpy(array), num_classes, f"label map {path}", dims=2)


@dataclass(frozen=True)
class LabeledImages:
    """A loaded split: ``images`` float32 [N, 3, H, W] in [0, 1] (None if loaded without images), ``labels`` int64
    [N, H, W], ``names`` (file stems), ``label_set``."""

    images: torch.Tensor | None
    labels: torch.Tensor
    names: tuple[str, ...]
    label_set: LabelSet

    def __len__(self) -> int:
        return len(self.names)


def load_camvid(split: str, root: str | Path | None = None, size: tuple[int, int] | None = None,
                limit: int | None = None, images: bool = True) -> LabeledImages:
    """The pairs of ``split`` (first ``limit`` by name) in memory.

    ``size``: (H, W) to resize to (label maps nearest neighbour, images bilinear with anti-aliasing); ``images``:
    False loads the label maps only. SemcomError for a missing folder, an image whose size differs from its map's,
    maps of different sizes (without ``size``) or label values outside the 12 classes.
    """
    pairs = camvid_pairs(split, root)[:limit]
    if not pairs:
        raise SemcomError(f"limit={limit} leaves no CamVid {split} pairs")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise SemcomError(f"size must be (H, W) with both >= 1, got {size}")
    label_maps, pictures = [], []
    for image_path, label_path in pairs:
        labels = load_label_map(label_path, CAMVID.num_classes)
        if images:
            x = load_image(image_path)
            if x.shape[1:] != labels.shape:
                raise SemcomError(f"CamVid {split}: image {image_path.name} is {x.shape[2]}x{x.shape[1]} but its label "
                                  f"map is {labels.shape[1]}x{labels.shape[0]}")
            pictures.append(x if size is None else resize_images(x[None], size)[0])
        label_maps.append(labels if size is None else resize_labels(labels[None], size)[0])
    shapes = {tuple(m.shape) for m in label_maps}
    if len(shapes) > 1:
        raise SemcomError(f"CamVid {split} maps have different sizes {sorted(shapes)}: pass size=(H, W)")
    return LabeledImages(torch.stack(pictures) if images else None, torch.stack(label_maps),
                         tuple(p.stem for _, p in pairs), CAMVID)


class LabelCrops:
    """Random crops with random horizontal flips of label maps (and their images, when given), held in memory.

    ``labels``: int64 [N, H, W]; ``images``: float [N, 3, H, W] or None; ``size``: (h, w) of a crop, at most (H, W).
    ``sample(batch, generator)`` -> (images [batch, 3, h, w] or None, labels [batch, h, w]), each crop drawn
    independently (example, position, flip) from ``generator``; image and map get the same crop and flip.
    """

    def __init__(self, labels: torch.Tensor, images: torch.Tensor | None = None, size: tuple[int, int] | int = 128):
        if labels.dim() != 3:
            raise SemcomError(f"labels must have shape [N, H, W], got {tuple(labels.shape)}")
        h, w = (size, size) if isinstance(size, int) else tuple(size)
        if h < 1 or w < 1 or h > labels.shape[1] or w > labels.shape[2]:
            raise SemcomError(f"crop {h}x{w} (HxW) does not fit maps of {labels.shape[1]}x{labels.shape[2]}")
        if images is not None and (images.dim() != 4 or images.shape[0] != labels.shape[0]
                                   or images.shape[2:] != labels.shape[1:]):
            raise SemcomError(f"images {tuple(images.shape)} do not match labels {tuple(labels.shape)}")
        self.labels, self.images, self.size = labels, images, (h, w)

    def sample(self, batch: int, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor | None, torch.Tensor]:
        h, w = self.size
        n, height, width = self.labels.shape
        which = torch.randint(n, (batch,), generator=generator)
        top = torch.randint(height - h + 1, (batch,), generator=generator)
        left = torch.randint(width - w + 1, (batch,), generator=generator)
        flip = torch.rand(batch, generator=generator) < 0.5
        rows = top[:, None] + torch.arange(h)
        cols = left[:, None] + torch.where(flip[:, None], torch.arange(w - 1, -1, -1), torch.arange(w))
        index = (which[:, None, None], rows[:, :, None], cols[:, None, :])
        labels = self.labels[index]
        images = None if self.images is None else self.images.permute(0, 2, 3, 1)[index].permute(0, 3, 1, 2)
        return (None if images is None else images.contiguous()), labels.contiguous()
