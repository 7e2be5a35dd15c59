"""Reading, writing and listing images as float tensors [3, H, W] in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from semcom.errors import SemcomError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm")


def load_image(path: str | Path) -> torch.Tensor:
    """Read an image file as RGB float32 [3, H, W] in [0, 1]; SemcomError if missing, corrupt, empty or of a pixel
    mode semcom cannot read faithfully.

    EXIF orientation is applied (the image comes out as a viewer shows it). Modes: 8-bit RGB, grey (L), 1-bit,
    palette (P), CMYK (Pillow's conversion, no ICC colour management) and YCbCr are converted to RGB; 16-bit grey
    (I;16, I;16B, ...) and 32-bit integer images holding 16-bit values (I) keep their full precision (value / 65535);
    float images (F) must hold values in [0, 1]. Transparency (LA, RGBA, PA, palette or grey with a transparent
    colour) is composited over white, as a viewer shows it on a white page. Grey images are repeated on all three
    channels.
    """
    path = Path(path)
    if not path.is_file():
        raise SemcomError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            x = image_to_tensor(ImageOps.exif_transpose(img), path)
    except SemcomError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SemcomError(f"cannot read image {path}: {exc}") from None
    if x.numel() == 0:
        raise SemcomError(f"image {path} is empty")
    return x


SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")
RGB_MODES = ("1", "L", "P", "RGB", "CMYK", "YCbCr")


def image_to_tensor(img: Image.Image, path: str | Path = "image") -> torch.Tensor:
    """A decoded PIL image -> RGB float32 [3, H, W] in [0, 1], following the rules of ``load_image``."""
    mode = img.mode
    if mode in SIXTEEN_BIT_MODES or mode == "I":
        values = np.asarray(img)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise SemcomError(f"image {path} is a 32-bit integer image with values {values.min()}..{values.max()}; "
                              "semcom reads 8- and 16-bit images: save it with 16 bits per channel")
        return grey_to_rgb(torch.from_numpy(values.astype(np.float32) / np.float32(65535)))
    if mode == "F":
        values = np.asarray(img, dtype=np.float32)
        if values.size and not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1):
            raise SemcomError(f"image {path} is a float image with values outside 0..1 ({np.nanmin(values):.3g}.."
                              f"{np.nanmax(values):.3g}); scale it to 0..1 or save it as 16-bit")
        return grey_to_rgb(torch.from_numpy(values.copy()))
    if mode in ALPHA_MODES or (mode in ("L", "P", "RGB") and "transparency" in img.info) or (
            mode == "P" and img.palette is not None and img.palette.mode == "RGBA"):
        rgba = torch.from_numpy(np.array(img.convert("RGBA"), dtype=np.float32)).permute(2, 0, 1).div_(255.0)
        alpha = rgba[3:]
        return (rgba[:3] * alpha + (1 - alpha)).clamp_(0, 1)
    if mode in RGB_MODES:
        return uint8_to_tensor(np.asarray(img.convert("RGB")))
    raise SemcomError(f"image {path} has pixel mode {mode}, which semcom cannot read; save it as 8- or 16-bit RGB or "
                      "grey")


def grey_to_rgb(grey: torch.Tensor) -> torch.Tensor:
    """[H, W] -> [3, H, W] (a contiguous copy)."""
    return grey.unsqueeze(0).repeat(3, 1, 1)


def uint8_to_tensor(array: np.ndarray) -> torch.Tensor:
    """[H, W, 3] uint8 -> [3, H, W] float32 in [0, 1]."""
    return torch.from_numpy(np.array(array, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div_(255.0)


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """[3, H, W] float in [0, 1] -> [H, W, 3] uint8 (rounded, clamped)."""
    check_image(x)
    return x.detach().clamp(0, 1).mul(255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def save_image(x: torch.Tensor, path: str | Path) -> None:
    """Write [3, H, W] float in [0, 1] as an 8-bit RGB image file (format from the suffix)."""
    Image.fromarray(tensor_to_uint8(x)).save(path)


def resize_images(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[N, C, H, W] in [0, 1] -> [N, C, *size], bilinear with anti-aliasing when shrinking, clamped to [0, 1]."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return torch.nn.functional.interpolate(x, size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


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
