"""Language-oriented semantic communication (seed 002) on the scheme contract: text in, text out.

``LanguageScheme.transmit(x, snr_db, generator)``: ``x`` is the caption (a str), or an image [3, H, W] when a
``Captioner`` is given (it describes the image first). With ``mode="word"`` the caption goes one word per round in
the policy's order (``rounds`` caps the rounds; None sends every word); with ``mode="caption"`` it goes as one
payload in one round. The SKD policy first rewrites the caption with the ``Rewriter`` (identity by default) and
then orders like SSC. The returned ``Transmission`` has ``text`` (the receiver's final prompt), the exact channel
uses of all rounds, ``ok`` (no word lost or corrupted) and, in ``details``, every round.
"""

from __future__ import annotations

import torch

from semcom.adapters.rewriter import IdentityRewriter, Rewriter
from semcom.errors import SemcomError
from semcom.schemes.language.link import TextLink, split_words
from semcom.schemes.language.policies import Orderer, check_policy
from semcom.schemes.language.progressive import Round, check_rounds, run_rounds, word_payloads
from semcom.types import Transmission

MODES = ("word", "caption")


class LanguageScheme:
    name = "language"
    task = "text"

    def __init__(self, policy: str = "ssc", link: str = "ldpc", channel: str = "awgn", rounds: int | None = None,
                 mode: str = "word", decode: bool = True, orderer: Orderer | None = None,
                 rewriter: Rewriter | None = None, captioner=None):
        self.policy = check_policy(policy)
        if mode not in MODES:
            raise SemcomError(f"unknown mode {mode!r}; choose word or caption")
        if rounds is not None:
            check_rounds(rounds, 1)
        self.mode, self.rounds = mode, rounds
        self.link = TextLink(link, channel, decode)
        self.orderer = orderer or Orderer()
        self.rewriter = rewriter or IdentityRewriter()
        self.captioner = captioner

    def describe(self) -> dict:
        rw = getattr(self.rewriter, "describe", lambda: {"rewriter": type(self.rewriter).__name__})()
        return {"scheme": self.name, "policy": self.policy, "mode": self.mode, "rounds": self.rounds,
                **self.link.describe(), **rw, **self.orderer.describe()}

    def caption_of(self, x) -> str:
        if isinstance(x, str):
            return x
        if self.captioner is None:
            raise SemcomError("the language scheme sends text: give a caption (or build it with a captioner)")
        return self.captioner.caption(x)

    def words_to_send(self, caption: str) -> list[str]:
        words = split_words(caption)
        return split_words(self.rewriter.rewrite(" ".join(words))) if self.policy == "skd" else words

    def transmit(self, x, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        caption = self.caption_of(x)
        words = self.words_to_send(caption)
        if self.mode == "caption":
            text = " ".join(words)
            (a,) = self.link.send([text.encode("utf-8")], snr_db, generator)
            got = None if a.data is None else a.data.decode("utf-8", errors="replace")
            rounds = [Round(text, 0, got, got or "", a.channel_uses, None if got is None else 0)]
        else:
            order = self.orderer.order(self.policy, words, generator)
            arrivals = self.link.send(word_payloads(words), snr_db, generator)
            rounds = run_rounds(words, order, arrivals, self.rounds)
        uses = sum(r.channel_uses for r in rounds)
        ok = not any(r.lost or r.corrupted for r in rounds)
        return Transmission(text=rounds[-1].prompt, channel_uses=uses, ok=ok,
                            details={"caption": caption, "sent_words": words, "rounds": [r.to_dict() for r in rounds],
                                     "lost": sum(r.lost for r in rounds),
                                     "corrupted": sum(r.corrupted for r in rounds)})
