"""Text over the channel: words (or a whole caption) -> UTF-8 bytes -> a real link at a real SNR -> words.

Three links, one interface (``TextLink.send(payloads, snr_db, generator) -> list[Arrival]``):

* ``ldpc``: each payload is one transport block through the core's ``send_bytes`` (5G LDPC + QAM, the MCS the
  core picks for that payload size at ``snr_db``; below every reliable MCS the most robust one, QPSK 1/4, is used
  anyway). A failed block arrives as nothing: a missing word, counted, never a wrong one.
* ``qam16``: uncoded Gray 16-QAM through the core ``BitChannel`` with hard decisions: bit errors arrive as
  corrupted words (invalid UTF-8 becomes U+FFFD).
* ``ideal``: error-free; channel uses are counted as for uncoded 16-QAM (4 bits per use), the nominal cost.

Word payloads carry a one-byte position header (the word's index in the caption, so the receiver can put the
words received so far in their original order); its bits are sent and counted like the rest. A corrupted header
(uncoded link) moves the word, or drops it when the index is out of range. Payload lengths are known to the
receiver (signalled out of band, as in ``send_bytes``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from semcom.channels import BitChannel, build_channel
from semcom.digital.capacity import DIGITAL_CHANNELS
from semcom.digital.mcs import CODEWORD_BITS, MCS_TABLE, SHORT_CODEWORD_BITS
from semcom.digital.transport import mcs_for_payload, send_bytes
from semcom.errors import SemcomError

LINKS = ("ldpc", "ldpc-short", "qam16", "ideal")
MAX_WORDS = 255
"""A caption has at most this many words (the position header is one byte)."""


def split_words(text: str) -> list[str]:
    """The caption's words (whitespace-separated). Empty or blank text is a ``SemcomError``."""
    if not isinstance(text, str):
        raise SemcomError(f"the caption must be a str, got {type(text).__name__}")
    words = text.split()
    if not words:
        raise SemcomError("empty caption: nothing to send")
    if len(words) > MAX_WORDS:
        raise SemcomError(f"the caption has {len(words)} words; at most {MAX_WORDS} can be sent")
    return words


def word_payload(index: int, word: str) -> bytes:
    """One byte of position, then the word's UTF-8 bytes."""
    return bytes([index]) + word.encode("utf-8")


@dataclass(frozen=True)
class Arrival:
    """What one payload became: ``data`` (None when lost), the complex ``channel_uses`` spent, the ``mcs`` used
    (ldpc only) and ``lost`` (the block failed)."""

    data: bytes | None
    channel_uses: int
    mcs: str | None = None

    @property
    def lost(self) -> bool:
        return self.data is None


class TextLink:
    """Sends byte payloads over ``link`` (``ldpc``, ``ldpc-short``, ``qam16`` or ``ideal``) on ``channel`` (``awgn``
    or ``rayleigh``). ``ldpc``: one transport block per payload on 1,920-bit codewords; ``ldpc-short``: the cheaper of
    those and the core's 240-bit family (``semcom.digital.mcs.SHORT_MCS_TABLE``) at the same reliability target, what
    a word of a few bytes needs. ``decode``: for the LDPC links, really encode and decode every codeword (default) or
    draw block failures from the core's BLER tables (fast, statistics only)."""

    def __init__(self, link: str = "ldpc", channel: str = "awgn", decode: bool = True):
        if link not in LINKS:
            raise SemcomError(f"unknown text link {link!r}; choose one of {', '.join(LINKS)}")
        if channel not in DIGITAL_CHANNELS:
            raise SemcomError(f"unknown channel {channel!r} for text; choose one of {', '.join(DIGITAL_CHANNELS)}")
        self.link, self.channel_name, self.decode = link, channel, decode
        self.channel = build_channel(channel) if link.startswith("ldpc") else None
        self.lengths = (CODEWORD_BITS, SHORT_CODEWORD_BITS) if link == "ldpc-short" else (CODEWORD_BITS,)
        self.bits = BitChannel("16qam", channel) if link == "qam16" else None

    def describe(self) -> dict:
        return {"link": self.link, "channel": self.channel_name, "decode": self.decode}

    def send(self, payloads: list[bytes], snr_db: float, generator: torch.Generator | None = None) -> list[Arrival]:
        """Each payload through the link, in order (one transport block or one bit burst each)."""
        if self.link == "ideal":
            return [Arrival(p, math.ceil(8 * len(p) / 4)) for p in payloads]
        if not isinstance(snr_db, (int, float)) or not math.isfinite(snr_db):
            raise SemcomError(f"snr_db must be a finite number for the {self.link} link, got {snr_db!r}")
        if self.link == "qam16":
            return [self._uncoded(p, float(snr_db), generator) for p in payloads]
        out = []
        for p in payloads:
            mcs = mcs_for_payload(8 * len(p), float(snr_db), self.channel_name, lengths=self.lengths) or MCS_TABLE[0]
            d = send_bytes(p, mcs, self.channel, self.channel_name, float(snr_db), self.decode, generator)
            out.append(Arrival(d.received, d.channel_uses, d.mcs))
        return out

    def _uncoded(self, payload: bytes, snr_db: float, generator) -> Arrival:
        bits = torch.from_numpy(np.unpackbits(np.frombuffer(payload, dtype=np.uint8)).astype(np.float32))[None]
        hard = self.bits(bits, snr_db, generator)
        data = np.packbits(hard[0].numpy().astype(np.uint8)).tobytes()
        return Arrival(data, self.bits.uses(bits))


def decode_word(data: bytes | None, n_words: int) -> tuple[int, str] | None:
    """(position, word) of a received word payload, or None when lost or its position is out of range."""
    if data is None or len(data) < 1 or data[0] >= n_words:
        return None
    return data[0], data[1:].decode("utf-8", errors="replace")
