"""Flickr8k captions (``Flickr8k.token.txt`` + ``Flickr_8k.{train,dev,test}Images.txt``): the first caption of
each image of a split, in the split file's order; and where the images are, when they are there."""

from __future__ import annotations

from pathlib import Path

from semcom.errors import SemcomError

SPLITS = {"train": "Flickr_8k.trainImages.txt", "dev": "Flickr_8k.devImages.txt", "test": "Flickr_8k.testImages.txt"}


IMAGE_FOLDERS = ("Flicker8k_Dataset", "Flickr8k_Dataset", "Images")
"""Where the Flickr8k images may sit inside the captions folder (the official archive unpacks to the misspelt
``Flicker8k_Dataset``)."""


def first_captions(root) -> dict[str, str]:
    """{image file name: its first caption} of every image in ``Flickr8k.token.txt``."""
    tokens = Path(root) / "Flickr8k.token.txt"
    if not tokens.is_file():
        raise SemcomError(f"Flickr8k caption file missing: {tokens}")
    first: dict[str, str] = {}
    for line in tokens.read_text(encoding="utf-8").splitlines():
        key, _, caption = line.partition("\t")
        name, _, index = key.partition("#")
        if index == "0" and caption.strip():
            first[name] = caption.strip()
    return first


def flickr8k_captions(root, split: str = "test", limit: int | None = None) -> list[tuple[str, str]]:
    """[(image name, first caption)] of ``split``, at most ``limit``."""
    root = Path(root)
    if split not in SPLITS:
        raise SemcomError(f"unknown Flickr8k split {split!r}; choose one of {', '.join(SPLITS)}")
    names = root / SPLITS[split]
    first = first_captions(root)
    if not names.is_file():
        raise SemcomError(f"Flickr8k caption file missing: {names}")
    images = [n.strip() for n in names.read_text().splitlines() if n.strip() in first]
    return [(n, first[n]) for n in images[:limit]]


def flickr8k_image_folder(root) -> Path | None:
    """The folder of Flickr8k images inside the captions folder ``root`` (``IMAGE_FOLDERS``), if there is one."""
    return next((Path(root) / f for f in IMAGE_FOLDERS if (Path(root) / f).is_dir()), None)
