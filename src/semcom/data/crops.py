"""Random training crops from images held in memory (uint8), sampled in the training process.

Decoding PNGs once and cropping in memory costs microseconds per crop, so the training loop never
waits for data and needs no worker processes competing for the CPU.
"""

from __future__ import annotations

from pathlib import Path

import torch

from semcom.data.images import list_images, load_image
from semcom.errors import SemcomError


class RandomCrops:
    """Uniform random crops of ``size`` x ``size`` with random horizontal flips.

    ``images``: list of [3, H, W] uint8 tensors (at least ``size`` on both sides).
    """

    def __init__(self, images: list[torch.Tensor], size: int):
        usable = [im for im in images if im.shape[1] >= size and im.shape[2] >= size]
        if not usable:
            raise SemcomError(f"no image is at least {size}x{size} pixels for cropping")
        self.images = usable
        self.size = size

    @classmethod
    def from_paths(cls, paths: list[Path], size: int) -> "RandomCrops":
        return cls([load_image(p).mul(255).round().to(torch.uint8) for p in paths], size)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """[batch, 3, size, size] float32 in [0, 1]."""
        s = self.size
        which = torch.randint(len(self.images), (batch,), generator=generator).tolist()
        out = torch.empty(batch, 3, s, s, dtype=torch.uint8)
        for i, k in enumerate(which):
            im = self.images[k]
            top = int(torch.randint(im.shape[1] - s + 1, (1,), generator=generator))
            left = int(torch.randint(im.shape[2] - s + 1, (1,), generator=generator))
            crop = im[:, top : top + s, left : left + s]
            if torch.rand(1, generator=generator).item() < 0.5:
                crop = crop.flip(-1)
            out[i] = crop
        return out.float().div_(255.0)


def center_crops(paths: list[Path], size: int) -> torch.Tensor:
    """Deterministic validation batch: the central ``size`` x ``size`` crop of each image."""
    crops = []
    for p in paths:
        im = load_image(p)
        if im.shape[1] < size or im.shape[2] < size:
            continue
        top, left = (im.shape[1] - size) // 2, (im.shape[2] - size) // 2
        crops.append(im[:, top : top + size, left : left + size])
    if not crops:
        raise SemcomError(f"no validation image is at least {size}x{size} pixels")
    return torch.stack(crops)


def split_train_val(folder: str | Path, val_count: int) -> tuple[list[Path], list[Path]]:
    """Sorted image paths; the last ``val_count`` are held out for validation."""
    paths = list_images(folder)
    if val_count < 0 or val_count >= len(paths):
        raise SemcomError(f"cannot hold out {val_count} of {len(paths)} images in {folder} for validation")
    return (paths[: len(paths) - val_count], paths[len(paths) - val_count :]) if val_count else (paths, [])


def scaled_crops(paths: list[Path] | torch.Tensor, count: int, size: int, generator: torch.Generator | None = None,
                 scale: tuple[float, float] = (1.0, 1.4)) -> torch.Tensor:
    """``count`` crops uint8 [count, 3, size, size] of the photos at ``paths`` (or of the uint8 images
    [N, 3, H, W] given instead): a random photo, resized so its shorter side is ``size`` x U(``scale``) (so a
    crop shows most of the photo, as classifiers expect; small images are upsampled), a random
    ``size`` x ``size`` window, a random horizontal flip."""
    import torch.nn.functional as F

    if len(paths) == 0 or count < 1:
        raise SemcomError(f"need at least one photo and one crop, got {len(paths)} photos and count={count}")
    if isinstance(paths, torch.Tensor):
        photos = paths.float().div(255) if paths.dtype == torch.uint8 else paths
    else:
        photos = [load_image(p) for p in paths]
    out = torch.empty(count, 3, size, size, dtype=torch.uint8)
    for i in range(count):
        im = photos[int(torch.randint(len(photos), (1,), generator=generator))]
        factor = scale[0] + (scale[1] - scale[0]) * torch.rand(1, generator=generator).item()
        h, w = im.shape[1:]
        short = max(size, round(size * factor))
        nh, nw = max(short, round(h * short / min(h, w))), max(short, round(w * short / min(h, w)))
        resized = F.interpolate(im[None], (nh, nw), mode="bilinear", antialias=True, align_corners=False)[0]
        top = int(torch.randint(nh - size + 1, (1,), generator=generator))
        left = int(torch.randint(nw - size + 1, (1,), generator=generator))
        crop = resized[:, top:top + size, left:left + size]
        if torch.rand(1, generator=generator).item() < 0.5:
            crop = crop.flip(-1)
        out[i] = crop.clamp(0, 1).mul(255).round().to(torch.uint8)
    return out
