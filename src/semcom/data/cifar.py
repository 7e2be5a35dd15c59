"""CIFAR-10 from the shared data folder, decoded once into memory, and shuffled training batches.

The shared copy is JPEG (quality 75, 4:2:0), not the original pixels: see ``../shared/data/README.md``.
Images come back as uint8 [N, 3, 32, 32] and labels as int64 [N].

Order: examples are interleaved by class (file 0000 of airplane, of automobile, ..., of truck, then file
0001 of each class, ...), so any prefix (``limit``) is balanced across the classes: ``limit=500`` gives
50 images of each class. The order is fixed; shuffle with ``CifarBatches``. ``cifar_demo_images``: the 20 test images bundled with the
package (offline).
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from semcom.data.sources import shared_data_dir
from semcom.errors import SemcomError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TEST_FOLDER = "cifar10_test_jpg"
TRAIN_ZIP = "cifar10_train_jpg.zip"
SIZE = 32
CIFAR_DEMO_FOLDER = Path(__file__).resolve().parents[1] / "assets" / "cifar10_demo"


def cifar_demo_images() -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """The 20 CIFAR-10 test JPEGs bundled with the package (two per class; see assets/cifar10_demo/README.md).

    Returns (names, images uint8 [20, 3, 32, 32], labels int64 [20]) in class order.
    """
    paths = sorted(CIFAR_DEMO_FOLDER.glob("*.jpg"))
    if not paths:
        raise SemcomError(f"bundled CIFAR-10 demo images missing from {CIFAR_DEMO_FOLDER}")
    names = [p.stem for p in paths]
    images = torch.stack([torch.from_numpy(np.asarray(Image.open(p).convert("RGB")).copy()).permute(2, 0, 1) for p in paths])
    labels = torch.tensor([CIFAR10_CLASSES.index(n.split("_")[0]) for n in names])
    return names, images, labels


def cifar10_test(
    root: str | Path | None = None, limit: int | None = None, per_class: int | None = None,
    cache: str | Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The CIFAR-10 test set from ``<root>/cifar10_test_jpg/<class>/NNNN.jpg`` (10,000 images).

    ``root``: the folder holding the CIFAR data (default: the shared data folder).
    ``per_class``: keep the first files of each class; ``limit``: then keep the first ``limit`` examples.
    ``cache``: optional .npz file (outside the shared folder) that keeps the decoded result for the next call.
    Returns (images uint8 [N, 3, 32, 32], labels int64 [N]), interleaved by class (see the module docstring).
    """
    folder = _root(root) / TEST_FOLDER
    if not folder.is_dir():
        raise SemcomError(f"CIFAR-10 test folder not found: {folder}")
    members = []
    for label, name in enumerate(CIFAR10_CLASSES):
        if not (folder / name).is_dir():
            raise SemcomError(f"CIFAR-10 class folder not found: {folder / name}")
        members += [(p.stem, label, p) for p in (folder / name).iterdir() if p.suffix.lower() == ".jpg"]
    picked = _select(members, limit, per_class)
    key = _cache_key("test", folder, limit, per_class)
    return _cached(cache, key, folder, lambda: _decode(picked, lambda p: p.read_bytes()))


def cifar10_train(
    root: str | Path | None = None, limit: int | None = None, per_class: int | None = None,
    cache: str | Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The CIFAR-10 training set, read from ``<root>/cifar10_train_jpg.zip`` without unpacking (50,000 images).

    Arguments and return value as in ``cifar10_test``. Decoding all 50,000 JPEGs takes some seconds; pass
    ``cache`` to keep the decoded arrays (about 150 MB, uncompressed .npz) for later runs.
    """
    path = _root(root) / TRAIN_ZIP
    if not path.is_file():
        raise SemcomError(f"CIFAR-10 training zip not found: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            members = []
            for name in zf.namelist():
                parts = PurePosixPath(name).parts
                if len(parts) == 3 and parts[1] in CIFAR10_CLASSES and parts[2].lower().endswith(".jpg"):
                    members.append((PurePosixPath(name).stem, CIFAR10_CLASSES.index(parts[1]), name))
            missing = sorted(set(CIFAR10_CLASSES) - {CIFAR10_CLASSES[label] for _, label, _ in members})
            if missing:
                raise SemcomError(f"{path} holds no images of class {', '.join(missing)}")
            picked = _select(members, limit, per_class)
            key = _cache_key("train", path, limit, per_class)
            return _cached(cache, key, path, lambda: _decode(picked, zf.read))
    except zipfile.BadZipFile as exc:
        raise SemcomError(f"cannot read {path}: {exc}") from None


def _root(root: str | Path | None) -> Path:
    if root is not None:
        return Path(root)
    found = shared_data_dir()
    if found is None:
        raise SemcomError("CIFAR-10 not found: set SEMCOM_DATA to the shared data folder or pass root")
    return found


def _select(members: list[tuple[str, int, object]], limit: int | None, per_class: int | None) -> list:
    """(label, source) pairs: ``per_class`` first files of each class, interleaved by class, first ``limit``."""
    for name, value in (("limit", limit), ("per_class", per_class)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise SemcomError(f"{name} must be a non-negative integer or None, got {value!r}")
    members = sorted(members, key=lambda m: (m[1], m[0]))
    rank, previous, ordered = 0, None, []
    for _stem, label, source in members:
        rank = rank + 1 if label == previous else 0
        previous = label
        if per_class is None or rank < per_class:
            ordered.append((rank, label, source))
    ordered.sort(key=lambda m: (m[0], m[1]))
    return [(label, source) for _, label, source in ordered[:limit]]


def _decode(picked: list, read: Callable[[object], bytes]) -> tuple[np.ndarray, np.ndarray]:
    """One pass over the files: [N, 32, 32, 3] uint8 and [N] int64."""
    images = np.empty((len(picked), SIZE, SIZE, 3), np.uint8)
    labels = np.empty(len(picked), np.int64)
    for i, (label, source) in enumerate(picked):
        try:
            with Image.open(io.BytesIO(read(source))) as img:
                array = np.asarray(img.convert("RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise SemcomError(f"cannot read CIFAR image {source}: {exc}") from None
        if array.shape != (SIZE, SIZE, 3):
            raise SemcomError(f"CIFAR image {source} is {array.shape[1]}x{array.shape[0]}, expected 32x32")
        images[i] = array
        labels[i] = label
    return images, labels


def _cache_key(split: str, source: Path, limit: int | None, per_class: int | None) -> str:
    stat = source.stat()
    return f"cifar10-{split} limit={limit} per_class={per_class} source={source.resolve()} mtime={stat.st_mtime_ns}"


def _cached(
    cache: str | Path | None, key: str, source: Path, decode: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode, or load from / save to the .npz ``cache`` when its key matches; tensors in CHW layout."""
    if cache is None:
        images, labels = decode()
    else:
        cache = Path(cache)
        if cache.suffix != ".npz":
            raise SemcomError(f"cache must be a .npz file path, got {cache}")
        for folder in (shared_data_dir(), source):
            if folder is not None and cache.resolve().is_relative_to(folder.resolve()):
                raise SemcomError(f"cache {cache} must not be inside the data folder {folder}")
        images = labels = None
        if cache.is_file():
            try:
                with np.load(cache) as saved:
                    if str(saved["key"]) == key:
                        images, labels = saved["images"], saved["labels"]
            except (OSError, ValueError, KeyError, zipfile.BadZipFile):
                pass  # unreadable or foreign cache: decode again and overwrite it
        if images is None:
            images, labels = decode()
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(cache.name + ".partial")
            with open(partial, "wb") as f:
                np.savez(f, images=images, labels=labels, key=np.array(key))
            os.replace(partial, cache)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


def random_crop_flip(x: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard CIFAR augmentation: zero-pad by ``padding``, take a random crop of the original size, flip half.

    ``x``: [B, C, H, W] (any dtype) -> same shape and dtype; one independent crop and flip per example.
    """
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    top = torch.randint(2 * padding + 1, (b,), generator=generator)
    left = torch.randint(2 * padding + 1, (b,), generator=generator)
    flip = torch.rand(b, generator=generator) < 0.5
    rows = top[:, None] + torch.arange(h)
    cols = left[:, None] + torch.where(flip[:, None], torch.arange(w - 1, -1, -1), torch.arange(w))
    batch = torch.arange(b)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


class CifarBatches:
    """Mini-batches of (x float32 [B, 3, H, W] in [0, 1], labels int64 [B]) from uint8 images in memory.

    Each iteration is one epoch. With ``shuffle`` the order is drawn from ``generator`` (so a seeded
    generator gives the same epochs every run, and successive epochs differ); ``augment`` applies
    ``random_crop_flip`` with 4-pixel padding. ``drop_last`` drops a final short batch.
    """

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool = True,
        augment: bool = False, drop_last: bool = False, generator: torch.Generator | None = None,
    ):
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
            raise SemcomError(f"images must be a uint8 tensor [N, C, H, W], got {_describe(images)}")
        if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
            raise SemcomError(f"labels must be a tensor [{images.shape[0]}], got {_describe(labels)}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise SemcomError(f"batch_size must be a positive integer, got {batch_size!r}")
        if drop_last and batch_size > len(images):
            raise SemcomError(f"batch_size {batch_size} exceeds the {len(images)} images with drop_last")
        self.images, self.labels = images, labels.long()
        self.batch_size, self.shuffle, self.augment, self.drop_last = batch_size, shuffle, augment, drop_last
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.images)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start : start + self.batch_size]
            x = self.images[idx]
            if self.augment:
                x = random_crop_flip(x, 4, self.generator)
            yield x.float().div_(255.0), self.labels[idx]


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} {list(value.shape)}"
    return type(value).__name__
