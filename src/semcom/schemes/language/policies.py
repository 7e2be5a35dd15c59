"""Word-ordering policies of progressive transmission: which word of the caption goes in which round.

Every policy returns a permutation of the word indices, decided at the sender from the caption alone (the
channel's outcome is not known when the order is fixed). "Context order" means the caption's own order.

* ``random``: a uniformly random order (from ``generator``).
* ``nouns``: nouns (NOUN, PROPN) first, then the rest, each group in context order.
* ``nouns-verbs``: nouns and verbs first, then the rest.
* ``ssc``: semantic source coding, dependency heads (words with at least one dependent) first, then the rest.
* ``sender-attention``: the words the sender's text model attends to most (attention received in the full
  caption), most first.
* ``receiver-attention``: greedy, simulating the receiver's text model: each round, the word that would receive the
  most attention in the prompt the receiver would hold after it (the words sent so far plus it, in context order).
* ``both-attention``: greedy on the sum of the two, each normalised over the words not yet sent.
* ``oracle``: greedy, the word whose addition makes the receiver's prompt most similar to the full caption.
* ``skd``: the order of ``ssc``, applied to the caption after the SKD rewrite (see ``scheme.py``).

The similarity source (oracle) is a sentence encoder, offline all-MiniLM-L6-v2 (``semcom.adapters``). The attention
source of the three attention policies is, by default, the same encoder; ``Orderer(attention=ClipScorer(path))``
takes it from a CLIP text encoder instead (the attention CLIP's end-of-text token pays to each word, see
``semcom.adapters.vision_language.ClipScorer``), the kind of text model Stable Diffusion conditions on. Any object
with ``word_attention_batch(list of word lists) -> list of [n_words] tensors`` is an attention source.
"""

from __future__ import annotations

import torch

from semcom.adapters.text import SentenceEncoder
from semcom.errors import SemcomError
from semcom.schemes.language.parse import DEFAULT_PIPELINE, parse_words

POLICIES = ("random", "nouns", "nouns-verbs", "ssc", "sender-attention", "receiver-attention", "both-attention",
            "oracle", "skd")
NOUNS = {"NOUN", "PROPN"}
VERBS = {"VERB"}


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise SemcomError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    return policy


def first_then_rest(flags: list[bool]) -> list[int]:
    return [i for i, f in enumerate(flags) if f] + [i for i, f in enumerate(flags) if not f]


def prompt(words: list[str], indices) -> str:
    """The words at ``indices`` in context order, joined by spaces."""
    return " ".join(words[i] for i in sorted(indices))


class Orderer:
    """Orders words by policy. ``sender``/``receiver``: the sender's and the receiver's text models (the receiver's
    defaults to the sender's; the sender's also gives the oracle's similarity); ``attention``: one word-attention
    source for both sides of the attention policies instead of the two text models (e.g. a ``ClipScorer``);
    ``pipeline``: the spaCy pipeline."""

    def __init__(self, sender: SentenceEncoder | None = None, receiver: SentenceEncoder | None = None,
                 pipeline: str = DEFAULT_PIPELINE, attention=None):
        self.sender = sender or SentenceEncoder()
        self.receiver = receiver or self.sender
        self.pipeline = pipeline
        self.attention = attention
        self.sender_attention = self.sender if attention is None else attention
        self.receiver_attention = self.receiver if attention is None else attention

    def describe(self) -> dict:
        att = self.attention
        source = ("sentence encoder" if att is None else
                  getattr(att, "describe", lambda: {"attention": type(att).__name__})()["attention"])
        return {**self.sender.describe(), "attention": source}

    def order(self, policy: str, words: list[str], generator: torch.Generator | None = None) -> list[int]:
        check_policy(policy)
        n = len(words)
        if policy == "random":
            return torch.randperm(n, generator=generator).tolist()
        if policy in ("nouns", "nouns-verbs", "ssc", "skd"):
            p = parse_words(words, self.pipeline)
            if policy == "nouns":
                return first_then_rest([t in NOUNS for t in p.pos])
            if policy == "nouns-verbs":
                return first_then_rest([t in NOUNS | VERBS for t in p.pos])
            return first_then_rest([c > 0 for c in p.children])
        if policy == "sender-attention":
            att = self.sender_attention.word_attention_batch([words])[0]
            return sorted(range(n), key=lambda i: (-float(att[i]), i))
        return self._greedy(policy, words)

    def _greedy(self, policy: str, words: list[str]) -> list[int]:
        full = " ".join(words)
        sender_att = self.sender_attention.word_attention_batch([words])[0] if policy == "both-attention" else None
        sent: list[int] = []
        left = list(range(len(words)))
        while left:
            if policy == "oracle":
                score = self.sender.similarity([prompt(words, sent + [c]) for c in left], full)
            else:
                score = self._received_attention(words, sent, left)
                if sender_att is not None:
                    s = sender_att[left]
                    score = score / score.sum().clamp_min(1e-12) + s / s.sum().clamp_min(1e-12)
            best = left[int(torch.argmax(score))]  # ties: the earliest word
            sent.append(best)
            left.remove(best)
        return sent

    def _received_attention(self, words: list[str], sent: list[int], candidates: list[int]) -> torch.Tensor:
        """[len(candidates)]: attention each candidate would receive in the receiver's prompt (sent + it)."""
        held = [sorted(sent + [c]) for c in candidates]
        att = self.receiver_attention.word_attention_batch([[words[i] for i in h] for h in held])
        return torch.stack([a[h.index(c)] for a, h, c in zip(att, held, candidates)])
