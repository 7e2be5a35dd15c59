"""Reading, writing and listing images as float tensors [3, H, W] in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from semcom.errors import SemcomError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm")


def load_image(path: str | Path) -> torch.Tensor:
    """Read an image file as RGB float32 [3, H, W] in [0, 1]; SemcomError if missing, corrupt or empty."""
    path = Path(path)
    if not path.is_file():
        raise SemcomError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            array = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SemcomError(f"cannot read image {path}: {exc}") from None
    if array.size == 0:
        raise SemcomError(f"image {path} is empty")
    return uint8_to_tensor(array)


def uint8_to_tensor(array: np.ndarray) -> torch.Tensor:
    """[H, W, 3] uint8 -> [3, H, W] float32 in [0, 1]."""
    return torch.from_numpy(np.array(array, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div_(255.0)


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """[3, H, W] float in [0, 1] -> [H, W, 3] uint8 (rounded, clamped)."""
    check_image(x)
    return x.detach().clamp(0, 1).mul(255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def save_image(x: torch.Tensor, path: str | Path) -> None:
    """Write [3, H, W] float in [0, 1] as an image file (format from the suffix)."""
    Image.fromarray(tensor_to_uint8(x)).save(path)


def check_image(x: torch.Tensor, name: str = "image") -> None:
    """Require a finite float tensor [3, H, W] with values in [0, 1] and H, W >= 1."""
    if not isinstance(x, torch.Tensor):
        raise SemcomError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 3 or x.shape[0] != 3:
        raise SemcomError(f"{name} must have shape [3, H, W], got {tuple(x.shape)}")
    check_pixels(x, name)


def check_batch(x: torch.Tensor, name: str = "x") -> None:
    """Require a finite float tensor [B, 3, H, W] with values in [0, 1]."""
    if not isinstance(x, torch.Tensor):
        raise SemcomError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise SemcomError(f"{name} must have shape [B, 3, H, W], got {tuple(x.shape)}")
    check_pixels(x, name)


def check_pixels(x: torch.Tensor, name: str) -> None:
    if x.numel() == 0:
        raise SemcomError(f"{name} is empty (shape {tuple(x.shape)})")
    if not x.is_floating_point():
        raise SemcomError(f"{name} must be a float tensor with values in [0, 1], got {x.dtype}")
    if not torch.isfinite(x).all():
        raise SemcomError(f"{name} contains NaN or inf")
    if x.min() < 0 or x.max() > 1:
        raise SemcomError(f"{name} values must lie in [0, 1], got {x.min().item():.3g}..{x.max().item():.3g}")


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name; SemcomError if none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SemcomError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise SemcomError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def load_folder(folder: str | Path, limit: int | None = None) -> list[tuple[str, torch.Tensor]]:
    """(name, image) pairs for the images in ``folder`` (first ``limit`` by name)."""
    return [(p.stem, load_image(p)) for p in list_images(folder)[:limit]]
