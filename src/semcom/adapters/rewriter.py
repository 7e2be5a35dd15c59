"""Text rewriters for semantic knowledge distillation (SKD): the caption rewritten in the receiver's prompt style.

``Rewriter`` is the interface (``rewrite(text) -> str``). ``IdentityRewriter`` is the offline default (no language
model ships with semcom: the caption is sent as it is, so the SKD policy then equals SSC). ``CausalLMRewriter``
loads any causal language model directory with ``transformers`` ``from_pretrained`` and rewrites greedily.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from semcom.adapters.text import check_model_dir

PROMPT = "Rewrite this image caption as a short text-to-image prompt.\nCaption: {text}\nPrompt:"


@runtime_checkable
class Rewriter(Protocol):
    def rewrite(self, text: str) -> str:
        ...


class IdentityRewriter:
    """Returns the text unchanged (the offline default)."""

    def rewrite(self, text: str) -> str:
        return text

    def describe(self) -> dict:
        return {"rewriter": "identity"}


class CausalLMRewriter:
    """A causal LM from ``path`` (weights load on first use); ``max_new_tokens`` greedy tokens after ``PROMPT``.
    An empty generation falls back to the original text."""

    def __init__(self, path, device: str = "cpu", max_new_tokens: int = 32, template: str = PROMPT):
        self.path = check_model_dir(path)
        self.device, self.max_new_tokens, self.template = device, max_new_tokens, template
        self._model = self._tokenizer = None

    def describe(self) -> dict:
        return {"rewriter": str(self.path), "max_new_tokens": self.max_new_tokens}

    def _load(self):
        if self._model is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.path)
            self._model = AutoModelForCausalLM.from_pretrained(self.path).to(self.device).eval()
        return self._model, self._tokenizer

    @torch.no_grad()
    def rewrite(self, text: str) -> str:
        model, tok = self._load()
        enc = tok(self.template.format(text=text), return_tensors="pt").to(self.device)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        out = model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad)
        new = tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        new = " ".join(new.strip().splitlines()[0].split()) if new.strip() else ""
        return new or text
