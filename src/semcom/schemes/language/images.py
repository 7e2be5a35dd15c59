"""The image side of seed 002: the receiver generates an image from its prompt after every round.

``image_rounds(transmission, t2i, x, seed, lpips, clip)`` runs a ``TextToImage`` (e.g. Stable Diffusion with the
seed's 50 steps and seed 100) on each round's prompt, with the same seed every round, and scores each image against
the original image ``x`` with LPIPS (the core ``semcom.metrics.LPIPS``, AlexNet, both resized to 256x256 as in the
seed) and against the full caption with a CLIP score. An empty prompt (nothing received yet) generates nothing.
These need a user's model weights; the functions are tested with tiny random models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semcom.types import Transmission

LPIPS_SIDE = 256


def resize(x: torch.Tensor, side: int = LPIPS_SIDE) -> torch.Tensor:
    return F.interpolate(x[None], size=(side, side), mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


@torch.no_grad()
def image_rounds(tx: Transmission, t2i, x: torch.Tensor | None = None, seed: int = 100, lpips=None,
                 clip=None) -> list[dict]:
    """Per round of ``tx``: {round, prompt, image ([3, H, W] or None), lpips (vs ``x``), clip_score (vs the
    caption)}; metrics are None when their model (or ``x``) is not given or nothing was received yet."""
    caption = tx.details["caption"]
    out, cache = [], {}
    for i, r in enumerate(tx.details["rounds"], 1):
        prompt = r["prompt"]
        if prompt.strip() and prompt not in cache:
            cache[prompt] = t2i.generate(prompt, seed)
        image = cache.get(prompt)
        row = {"round": i, "prompt": prompt, "image": image, "lpips": None, "clip_score": None}
        if image is not None and lpips is not None and x is not None:
            row["lpips"] = float(lpips(resize(x), resize(image)).reshape(-1)[0])
        if image is not None and clip is not None:
            row["clip_score"] = clip.score(image, caption)
        out.append(row)
    return out
