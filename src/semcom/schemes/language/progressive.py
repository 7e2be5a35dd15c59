"""Progressive transmission: one word per round in policy order, or the whole caption in one round.

Each word's channel realisation is drawn once per caption and SNR (all word payloads sent through the link in
caption order), then revealed in the policy's order: policies compared on one caption see the same channel
(common random numbers), and a word's fate does not depend on the round it is sent in (a memoryless channel).
The receiver's prompt after a round is the words received so far in their original order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from semcom.errors import SemcomError
from semcom.schemes.language.link import Arrival, decode_word, word_payload


@dataclass(frozen=True)
class Round:
    """One round: the word ``sent`` (its caption ``position``), what ``arrived`` (None: the block was lost), where
    the receiver ``placed`` it (None: lost, or its received position header is out of range), the receiver's
    ``prompt`` after it, and the complex ``channel_uses`` of the round."""

    sent: str
    position: int
    arrived: str | None
    prompt: str
    channel_uses: int
    placed: int | None = None

    @property
    def lost(self) -> bool:
        return self.arrived is None

    @property
    def corrupted(self) -> bool:
        return self.arrived is not None and (self.arrived != self.sent or self.placed != self.position)

    def to_dict(self) -> dict:
        return {**asdict(self), "lost": self.lost, "corrupted": self.corrupted}


def word_payloads(words: list[str]) -> list[bytes]:
    return [word_payload(i, w) for i, w in enumerate(words)]


def check_rounds(rounds: int | None, n_words: int) -> int:
    """The number of rounds to run: ``rounds`` (None: one per word). More rounds than words stop at the last word;
    fewer send only the first ``rounds`` words of the order (the rest never leave the sender)."""
    if rounds is None:
        return n_words
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise SemcomError(f"rounds must be an integer >= 1, got {rounds!r}")
    return min(rounds, n_words)


def run_rounds(words: list[str], order: list[int], arrivals: list[Arrival], rounds: int | None = None) -> list[Round]:
    """The rounds of sending ``words`` in ``order``, given each word's ``arrivals`` (in caption order)."""
    if sorted(order) != list(range(len(words))) or len(arrivals) != len(words):
        raise SemcomError("order must be a permutation of the word indices, with one arrival per word")
    received: dict[int, str] = {}
    out = []
    for index in order[: check_rounds(rounds, len(words))]:
        a = arrivals[index]
        decoded = decode_word(a.data, len(words))
        if decoded is not None:
            received[decoded[0]] = decoded[1]
        arrived = None if a.data is None else a.data[1:].decode("utf-8", errors="replace")
        out.append(Round(words[index], index, arrived, " ".join(received[k] for k in sorted(received)), a.channel_uses,
                         None if decoded is None else decoded[0]))
    return out


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """Word-level Levenshtein distance / len(reference)."""
    if not reference:
        raise SemcomError("word error rate needs a non-empty reference")
    prev = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        cur = [i]
        for j, h in enumerate(hypothesis, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1] / len(reference)


THRESHOLD = 0.9
"""Similarity to the full caption (1.0 for the caption itself) that counts as "reached": 90 % of it."""


def rounds_to_reach(similarities, threshold: float = THRESHOLD) -> int | None:
    """The first round (1-based) whose prompt's similarity to the full caption is >= ``threshold``; None if no
    round of ``similarities`` (one per round sent) reaches it."""
    return next((r for r, v in enumerate(similarities, 1) if v >= threshold), None)


def reach_summary(hits: list[int | None]) -> tuple[float | None, float]:
    """(mean of ``rounds_to_reach`` over the captions that reach the threshold (None if none does), share of the
    captions that reach it). Captions that never reach it are left out of the mean, not counted as a round more."""
    if not hits:
        raise SemcomError("rounds to reach the threshold need at least one caption")
    reached = [h for h in hits if h is not None]
    return (sum(reached) / len(reached) if reached else None), len(reached) / len(hits)
