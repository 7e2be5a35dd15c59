"""Image <-> text models behind narrow interfaces, each with real ``from_pretrained`` loading and lazy weights.

* ``Captioner.caption(x) -> str``: ``BlipCaptioner`` (BLIP, ``transformers``; the seed used
  Salesforce/blip-image-captioning-*).
* ``TextToImage.generate(prompt, seed) -> [3, H, W]``: ``StableDiffusion`` (``diffusers``; the seed's settings are
  the defaults: 50 steps, seed 100, guidance 7.5, 512x512).
* ``ClipScorer.score(x, text) -> float``: CLIP score, 100 * max(cos(image, text), 0) (``transformers``).

Images are [3, H, W] float tensors in [0, 1]. A path without a model (no ``config.json`` / ``model_index.json``)
is a one-line ``SemcomError``. Tokenizer and image processor load separately (``AutoTokenizer``,
``AutoImageProcessor``), so any compatible tokenizer saved beside the weights works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from semcom.adapters.text import check_model_dir
from semcom.errors import SemcomError


@runtime_checkable
class Captioner(Protocol):
    def caption(self, x: torch.Tensor) -> str:
        ...


@runtime_checkable
class TextToImage(Protocol):
    def generate(self, prompt: str, seed: int) -> torch.Tensor:
        ...


def check_image(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[0] != 3:
        raise SemcomError(f"expected an image [3, H, W] in [0, 1], got {getattr(x, 'shape', type(x).__name__)}")
    return x.clamp(0, 1)


def pixel_values(processor, x: torch.Tensor) -> torch.Tensor:
    return processor(images=check_image(x), return_tensors="pt", do_rescale=False)["pixel_values"]


class BlipCaptioner:
    """BLIP image captioning from ``path``; greedy decoding of at most ``max_new_tokens`` tokens."""

    def __init__(self, path, device: str = "cpu", max_new_tokens: int = 30):
        self.path = check_model_dir(path)
        self.device, self.max_new_tokens = device, max_new_tokens
        self._parts = None

    def _load(self):
        if self._parts is None:
            from transformers import AutoImageProcessor, AutoTokenizer, BlipForConditionalGeneration

            model = BlipForConditionalGeneration.from_pretrained(self.path).to(self.device).eval()
            self._parts = model, AutoImageProcessor.from_pretrained(self.path), AutoTokenizer.from_pretrained(self.path)
        return self._parts

    @torch.no_grad()
    def caption(self, x: torch.Tensor) -> str:
        model, processor, tok = self._load()
        out = model.generate(pixel_values=pixel_values(processor, x).to(self.device), max_new_tokens=self.max_new_tokens,
                             do_sample=False)
        return " ".join(tok.decode(out[0], skip_special_tokens=True).split())


class ClipScorer:
    """CLIP from ``path``: ``score(x, text)`` = 100 * max(cosine(image embedding, text embedding), 0)."""

    def __init__(self, path, device: str = "cpu"):
        self.path = check_model_dir(path)
        self.device = device
        self._parts = None

    def _load(self):
        if self._parts is None:
            from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

            model = CLIPModel.from_pretrained(self.path).to(self.device).eval()
            self._parts = model, AutoImageProcessor.from_pretrained(self.path), AutoTokenizer.from_pretrained(self.path)
        return self._parts

    @torch.no_grad()
    def score(self, x: torch.Tensor, text: str) -> float:
        model, processor, tok = self._load()
        image = model.get_image_features(pixel_values=pixel_values(processor, x).to(self.device))
        enc = tok([text], padding=True, truncation=True, max_length=model.config.text_config.max_position_embeddings,
                  return_tensors="pt").to(self.device)
        words = model.get_text_features(**enc)
        image, words = (getattr(t, "pooler_output", t) for t in (image, words))
        return 100.0 * max(float(torch.nn.functional.cosine_similarity(image, words).item()), 0.0)


class StableDiffusion:
    """A Stable Diffusion pipeline directory (``model_index.json``) through ``diffusers``; ``steps`` denoising steps,
    ``guidance`` classifier-free guidance scale, output ``height`` x ``width``; ``generate(prompt, seed)`` is
    deterministic for a seed. The safety checker is not loaded."""

    def __init__(self, path, device: str = "cpu", steps: int = 50, guidance: float = 7.5, height: int = 512,
                 width: int = 512):
        self.path = Path(path)
        if not (self.path / "model_index.json").is_file():
            raise SemcomError(f"no diffusers pipeline in {self.path} (model_index.json missing)")
        if steps < 1:
            raise SemcomError(f"steps must be >= 1, got {steps}")
        self.device, self.steps, self.guidance, self.height, self.width = device, steps, guidance, height, width
        self._pipe = None

    def _load(self):
        if self._pipe is None:
            try:
                from diffusers import StableDiffusionPipeline
            except ImportError:
                raise SemcomError("text-to-image needs diffusers: pip install diffusers") from None
            self._pipe = StableDiffusionPipeline.from_pretrained(self.path, safety_checker=None,
                                                                 requires_safety_checker=False).to(self.device)
            self._pipe.set_progress_bar_config(disable=True)
        return self._pipe

    @torch.no_grad()
    def generate(self, prompt: str, seed: int = 100) -> torch.Tensor:
        pipe = self._load()
        out = pipe(prompt, num_inference_steps=self.steps, guidance_scale=self.guidance, height=self.height,
                   width=self.width, generator=torch.Generator(self.device).manual_seed(seed), output_type="pt")
        return out.images[0].float().cpu().clamp(0, 1)
