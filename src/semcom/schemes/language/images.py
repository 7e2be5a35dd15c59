"""The image side of seed 002: the receiver generates an image from its prompt after every round.

``image_rounds(transmission, t2i, x, seed, lpips, clip)`` runs a ``TextToImage`` (e.g. Stable Diffusion with the
seed's 50 steps and seed 100) on each round's prompt, with the same seed every round, and scores each image against
the original image ``x`` with LPIPS (the core ``semcom.metrics.LPIPS``, AlexNet, both resized to 256x256 as in the
seed) and against the full caption with a CLIP score. An empty prompt (nothing received yet) generates nothing.

``load_model_dir(DIR)`` builds these from a user's model folder (``MODEL_LAYOUT``); ``round_means`` averages the
per-image rounds into one row per round. The models need a user's weights; everything is tested with tiny random
models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.adapters.vision_language import BlipCaptioner, ClipScorer, StableDiffusion
from semcom.errors import SemcomError
from semcom.metrics.lpips import LPIPS
from semcom.types import Transmission

LPIPS_SIDE = 256
SEED = 100
"""The seed paper's fixed Stable Diffusion seed (the same noise every round)."""
MODEL_LAYOUT = {
    "stable-diffusion": "a diffusers Stable Diffusion pipeline folder (model_index.json), e.g. "
                        "StableDiffusionPipeline.from_pretrained(...).save_pretrained(DIR/stable-diffusion)",
    "clip": "a CLIP model folder (config.json, weights, tokenizer, image processor), for the CLIP score and the "
            "attention policies",
    "lpips": "alexnet.pth: torchvision's AlexNet state dict (alex.pth, the LPIPS heads, is optional: torchmetrics' "
             "copy is the default)",
    "blip": "optional: a BLIP captioning model folder; without it the captions are the Flickr8k ones of the images",
}
"""The folders ``--model-dir DIR`` holds; all but ``blip`` are required."""
REQUIRED = ("stable-diffusion", "clip", "lpips")


def resize(x: torch.Tensor, side: int = LPIPS_SIDE) -> torch.Tensor:
    return F.interpolate(x[None], size=(side, side), mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


@dataclass
class ImageModels:
    """The receiver's generator (``t2i``), the scorers (``clip``, ``lpips``) and the sender's ``captioner`` (None:
    the captions come with the images)."""

    t2i: object
    clip: object | None = None
    lpips: object | None = None
    captioner: object | None = None

    def describe(self) -> dict:
        return {"t2i": where(self.t2i), "steps": getattr(self.t2i, "steps", None), "clip": where(self.clip),
                "lpips": None if self.lpips is None else "AlexNet", "captioner": where(self.captioner)}


def where(model) -> str | None:
    return None if model is None else str(getattr(model, "path", type(model).__name__))


def check_device(device: str) -> str:
    if device == "cpu" or (device.startswith("cuda") and torch.cuda.is_available()):
        return device
    if device.startswith("cuda"):
        raise SemcomError(f"--device {device}: CUDA is not available on this machine (use cpu)")
    raise SemcomError(f"unknown device {device!r}; choose cpu or cuda")


def load_model_dir(model_dir, device: str = "cpu", steps: int = 50) -> ImageModels:
    """The models in ``model_dir`` (``MODEL_LAYOUT``): every folder is checked before any weight loads; missing
    required folders are one ``SemcomError`` line naming them. Weights then load lazily, LPIPS at once (small)."""
    root = Path(model_dir)
    if not root.is_dir():
        raise SemcomError(f"--model-dir {model_dir} is not a folder (it should hold {', '.join(REQUIRED)}/ and "
                          "optionally blip/)")
    missing = [name for name in REQUIRED if not (root / name).is_dir()]
    if missing:
        raise SemcomError(f"--model-dir {model_dir} lacks {', '.join(m + '/' for m in missing)} ("
                          + "; ".join(f"{m}/: {MODEL_LAYOUT[m]}" for m in missing) + ")")
    check_device(device)
    t2i = StableDiffusion(root / "stable-diffusion", device=device, steps=steps)
    clip = ClipScorer(root / "clip", device=device)
    heads = root / "lpips" / "alex.pth"
    lpips = LPIPS(root / "lpips" / "alexnet.pth", heads if heads.is_file() else None)
    captioner = BlipCaptioner(root / "blip", device=device) if (root / "blip").is_dir() else None
    return ImageModels(t2i, clip, lpips, captioner)


@torch.no_grad()
def image_rounds(tx: Transmission, t2i, x: torch.Tensor | None = None, seed: int = SEED, lpips=None,
                 clip=None, cache: dict | None = None) -> list[dict]:
    """Per round of ``tx``: {round, prompt, image ([3, H, W] or None), lpips (vs ``x``), clip_score (vs the
    caption)}; metrics are None when their model (or ``x``) is not given or nothing was received yet. ``cache``
    (prompt -> image) can be shared by transmissions of the same image, so a prompt is generated once."""
    caption = tx.details["caption"]
    out, cache = [], {} if cache is None else cache
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


def round_means(per_image: list[list[dict]], keys=("lpips", "clip_score"), rounds: int | None = None) -> list[dict]:
    """One row per round: for each of ``keys``, the mean over the images that have a value in that round (None if
    none), and ``images``, how many images count. An image whose caption has fewer rounds than the longest keeps
    its last round's values (the receiver keeps its last image), as the similarity curves do."""
    if not per_image or any(not rows for rows in per_image):
        raise SemcomError("round means need at least one image with at least one round")
    rounds = rounds or max(len(rows) for rows in per_image)
    out = []
    for r in range(rounds):
        row = {"round": r + 1}
        for key in keys:
            values = [rows[min(r, len(rows) - 1)][key] for rows in per_image]
            values = [v for v in values if v is not None]
            row[key] = sum(values) / len(values) if values else None
            row[f"{key}_images"] = len(values)
        out.append(row)
    return out


def evaluate_images(items: list[tuple[str, torch.Tensor, str]], schemes: dict, snrs: list[float], models: ImageModels,
                    similarity=None, seed: int = 0, save_dir: Path | None = None, advance=None) -> tuple[list, list]:
    """The image loop over ``items`` [(name, image [3, H, W], caption)]: for each image, every scheme of ``schemes``
    ({policy: LanguageScheme}) at every SNR of ``snrs``, then ``image_rounds`` (one Stable Diffusion image per
    distinct prompt of that image, seed ``SEED``). ``similarity(prompts, caption) -> [N]`` adds the text similarity
    per round. The channel draw of image ``i`` is seeded with ``seed * 100003 + i`` for every policy and SNR (as in
    ``semcom eval language``'s text path). ``save_dir``: write each generated image there as
    ``<name>/<k>.png`` (k counts the image's distinct prompts). ``advance()`` is called after each transmission.

    Returns (rows, per_image): one row per (policy, SNR, round) with the means of ``round_means`` (``lpips``,
    ``clip_score``, ``similarity``) and the mean channel uses so far; and, per image, policy and SNR, its rounds
    (prompt, lpips, clip_score, similarity, image file)."""
    from semcom.data import save_image

    per_image, curves = [], {(p, s): [] for p in schemes for s in snrs}
    for i, (name, x, caption) in enumerate(items):
        cache: dict[str, torch.Tensor] = {}
        files: dict[str, str] = {}
        for p, scheme in schemes.items():
            for s in snrs:
                tx = scheme.transmit(caption, s, torch.Generator().manual_seed(seed * 100003 + i))
                rows = image_rounds(tx, models.t2i, x, SEED, models.lpips, models.clip, cache)
                sims = similarity([r["prompt"] for r in rows], caption).tolist() if similarity else [None] * len(rows)
                uses = 0
                for row, r, sim in zip(rows, tx.details["rounds"], sims):
                    uses += r["channel_uses"]
                    image = row.pop("image")
                    if save_dir is not None and image is not None and row["prompt"] not in files:
                        files[row["prompt"]] = f"{Path(name).stem}/{len(files):03d}.png"
                        (save_dir / files[row["prompt"]]).parent.mkdir(parents=True, exist_ok=True)
                        save_image(image, save_dir / files[row["prompt"]])
                    row.update(similarity=sim, channel_uses=uses, file=files.get(row["prompt"]))
                curves[(p, s)].append(rows)
                per_image.append({"image": name, "caption": caption, "policy": p, "snr_db": s, "rounds": rows})
                if advance is not None:
                    advance()
    table = []
    for (p, s), runs in curves.items():
        for m in round_means(runs, ("similarity", "lpips", "clip_score", "channel_uses")):
            table.append({"policy": p, "snr_db": s, "round": m["round"], "similarity": m["similarity"],
                          "lpips": m["lpips"], "clip_score": m["clip_score"], "channel_uses": m["channel_uses"],
                          "images": m["lpips_images"]})
    return table, per_image
