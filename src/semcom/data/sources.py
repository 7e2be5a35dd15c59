"""Where images come from: the offline demo set bundled in scikit-image, and the shared data folder
(the bundled CIFAR-10 demo images are in ``semcom.data.cifar``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from semcom.data.images import uint8_to_tensor
from semcom.errors import SemcomError

DEMO_IMAGES = ("astronaut", "chelsea", "coffee", "rocket")


def demo_images(size: int = 256) -> list[tuple[str, torch.Tensor]]:
    """Photos that ship inside scikit-image's wheel, centre-cropped to a square and resized to ``size``.

    Returns (name, [3, size, size] float in [0, 1]) pairs; needs no network and no shared data.
    """
    from PIL import Image
    from skimage import data

    out = []
    for name in DEMO_IMAGES:
        array = np.asarray(getattr(data, name)())[..., :3]
        h, w = array.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        img = Image.fromarray(array[top : top + side, left : left + side]).resize((size, size), Image.LANCZOS)
        out.append((name, uint8_to_tensor(np.asarray(img))))
    return out


def shared_data_dir() -> Path | None:
    """The shared data folder: $SEMCOM_DATA, else ../shared/data from the repository root or the cwd."""
    candidates = []
    if os.environ.get("SEMCOM_DATA"):
        candidates.append(Path(os.environ["SEMCOM_DATA"]))
    candidates.append(Path(__file__).resolve().parents[3] / ".." / "shared" / "data")
    candidates.append(Path.cwd() / ".." / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def shared_subdir(name: str) -> Path:
    """A folder inside the shared data folder; SemcomError naming where it was looked for."""
    root = shared_data_dir()
    if root is None or not (root / name).is_dir():
        raise SemcomError(
            f"data folder '{name}' not found: set SEMCOM_DATA to the folder holding it or pass --data explicitly"
        )
    return root / name
