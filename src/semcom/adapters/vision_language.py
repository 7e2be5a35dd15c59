"""Image <-> text models behind narrow interfaces, each with real ``from_pretrained`` loading and lazy weights.

* ``Captioner.caption(x) -> str``: ``BlipCaptioner`` (BLIP, ``transformers``; the seed used
  Salesforce/blip-image-captioning-*).
* ``TextToImage.generate(prompt, seed) -> [3, H, W]``: ``StableDiffusion`` (``diffusers``; the seed's settings are
  the defaults: 50 steps, seed 100, guidance 7.5, the pipeline's 512x512).
* ``ClipScorer.score(x, text) -> float``: CLIP score, 100 * max(cos(image, text), 0) (``transformers``); the same
  model is a word-attention source (``word_attention_batch``) for the language scheme's attention policies.

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
    """CLIP from ``path``: ``score(x, text)`` = 100 * max(cosine(image embedding, text embedding), 0), and
    ``word_attention(words) -> [len(words)]``, how much CLIP's text encoder attends to each word.

    Word attention: in text-encoder layer ``layer`` (default the last), the attention the end-of-text token pays to
    each token, averaged over heads, summed over a word's sub-tokens (start/end tokens excluded). The end-of-text
    token is the one whose state becomes CLIP's text embedding, and it sees every word: CLIP's text encoder is
    causal, so the total attention a token *receives* from all queries grows with the number of tokens after it
    and would mostly rank words by position. Words past CLIP's token limit (77 for the released models) get 0,
    as they never reach the model. Weights load on first use (eager attention, so attentions are returned)."""

    def __init__(self, path, device: str = "cpu", layer: int = -1):
        self.path = check_model_dir(path)
        self.device, self.layer = device, layer
        self._parts = None

    def describe(self) -> dict:
        return {"attention": f"CLIP text encoder {self.path} (layer {self.layer}, end-of-text token's attention)"}

    def _load(self):
        if self._parts is None:
            from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

            model = CLIPModel.from_pretrained(self.path, attn_implementation="eager").to(self.device).eval()
            tok = AutoTokenizer.from_pretrained(self.path)
            tok.padding_side = "right"
            self._parts = model, AutoImageProcessor.from_pretrained(self.path), tok
        return self._parts

    def word_attention(self, words: list[str]) -> torch.Tensor:
        return self.word_attention_batch([words])[0]

    @torch.no_grad()
    def word_attention_batch(self, texts: list[list[str]]) -> list[torch.Tensor]:
        """``word_attention`` of several word lists in one padded forward pass of the text encoder."""
        model, _, tok = self._load()
        enc = tok(texts, is_split_into_words=True, truncation=True, padding=True, return_tensors="pt",
                  max_length=model.config.text_config.max_position_embeddings)
        out = model.text_model(**enc.to(self.device), output_attentions=True)
        att = out.attentions[self.layer].mean(dim=1).cpu()  # [B, query, key], heads averaged
        last = enc["attention_mask"].sum(1).cpu() - 1  # the end-of-text token (right padding)
        result = []
        for b, words in enumerate(texts):
            scores = torch.zeros(len(words))
            for t, w in enumerate(enc.word_ids(b)):
                if w is not None:
                    scores[w] += att[b, last[b], t]
            result.append(scores)
        return result

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
    ``guidance`` classifier-free guidance scale, output ``height`` x ``width`` (None: the pipeline's own size,
    512 x 512 for v1.5); ``generate(prompt, seed)`` is deterministic for a seed. The safety checker is not loaded."""

    def __init__(self, path, device: str = "cpu", steps: int = 50, guidance: float = 7.5, height: int | None = None,
                 width: int | None = None):
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
