"""Flickr8k captions (``Flickr8k.token.txt`` + ``Flickr_8k.{train,dev,test}Images.txt``): the first caption of
each image of a split, in the split file's order."""

from __future__ import annotations

from pathlib import Path

from semcom.errors import SemcomError

SPLITS = {"train": "Flickr_8k.trainImages.txt", "dev": "Flickr_8k.devImages.txt", "test": "Flickr_8k.testImages.txt"}


def flickr8k_captions(root, split: str = "test", limit: int | None = None) -> list[tuple[str, str]]:
    """[(image name, first caption)] of ``split``, at most ``limit``."""
    root = Path(root)
    if split not in SPLITS:
        raise SemcomError(f"unknown Flickr8k split {split!r}; choose one of {', '.join(SPLITS)}")
    tokens, names = root / "Flickr8k.token.txt", root / SPLITS[split]
    for f in (tokens, names):
        if not f.is_file():
            raise SemcomError(f"Flickr8k caption file missing: {f}")
    first: dict[str, str] = {}
    for line in tokens.read_text(encoding="utf-8").splitlines():
        key, _, caption = line.partition("\t")
        name, _, index = key.partition("#")
        if index == "0" and caption.strip():
            first[name] = caption.strip()
    images = [n.strip() for n in names.read_text().splitlines() if n.strip() in first]
    return [(n, first[n]) for n in images[:limit]]
