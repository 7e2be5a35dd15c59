"""Side payloads (masks, indices, scale factors) beside a scheme's analog symbols: priced and sent on a real MCS.

A scheme that sends a small digital payload next to its analog symbols (LAM-SC's ASC mask and scale factors,
attention-CI's patch mask) gives it to a side link, which says what it costs and what arrives:

- ``SideLink`` (the default everywhere): the payload bytes as one 5G LDPC + QAM transport block
  (``semcom.digital.transport.send_bytes``) at the cheapest MCS whose predicted probability of decoding is at least
  ``target_success`` (the core's ``TARGET_SUCCESS``), the most robust MCS (QPSK 1/4) when none is that reliable.
  A block that fails is lost (``Delivery.ok`` False) and the scheme must show it: a receiver without its mask cannot
  place the symbols it received. Even a 64-bit mask costs one whole codeword (960 channel uses at QPSK 1/4). Where
  no MCS is reliable at all (below about -2 dB on AWGN), the QPSK codeword is repeated and Chase-combined
  (``SideLink.plan``, up to ``MAX_REPEATS`` times) instead of being sent once and lost.
- ``IdealSideLink`` (a labelled option, ``side_link="ideal"``): ``bits_per_use`` bits per channel use, always
  delivered. At 1 bit per use this is AWGN capacity at 0 dB with no errors: no real code achieves it for a short
  payload, so results with it are an optimistic bound on the side cost.

Both take the payload's bits and the SNR for ``channel_uses`` and the bytes for ``send``.

For a transmitter whose receiver needs the side payload to decode at all (SoftCast's and the hybrid JSCC's power
scale): ``side_link_for`` picks its link from the channel object (the default, a name, or a link object), and
``send_side`` sends the payload after the symbols and returns the ``Transmission`` (``side_outcome``: a lost block
loses the image, as the digital chain does).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from semcom.channels import AWGN, ComplexChannel, Rayleigh
from semcom.digital.capacity import DIGITAL_CHANNELS, check_channel
from semcom.digital.chain import lost
from semcom.digital.link import check_repeats
from semcom.digital.mcs import (
    CODEWORD_BITS,
    MCS,
    MCS_BY_LENGTH,
    MCS_TABLE,
    SHORT_CODEWORD_BITS,
    TARGET_SUCCESS,
    check_lengths,
    check_target_success,
    codewords_needed,
)
from semcom.digital.transport import (
    Delivery,
    channel_uses_needed,
    check_payload_bits,
    mcs_for_payload,
    send_bytes,
    table_for,
)
from semcom.errors import SemcomError
from semcom.types import Transmission

SIDE_LINKS = ("ldpc", "ldpc-short", "ideal")
"""Side-link names at the CLI/config boundary: ``ldpc`` (``SideLink`` on 1,920-bit codewords, the default),
``ldpc-short`` (``SideLink`` that may also use the 240-bit family, whichever costs fewer channel uses at the
reliability target) and ``ideal`` (``IdealSideLink``)."""

LENGTHS = {"ldpc": (CODEWORD_BITS,), "ldpc-short": (CODEWORD_BITS, SHORT_CODEWORD_BITS)}

MAX_REPEATS = 16
"""Most times a side codeword is repeated (Chase-combined) where no MCS is reliable once: +12 dB, so a side payload
still arrives down to about -14 dB on AWGN."""


class SideLink:
    """Side payloads over 5G LDPC + QAM on the scheme's own channel.

    ``channel``: the BLER table's name for that channel ("awgn" or "rayleigh"; picks the MCS); ``target_success``:
    required predicted probability that the block decodes; ``decode``: really encode, send and decode (else draw the
    outcome from the BLER table); ``lengths``: the codeword lengths it may use (``(1920,)``: ``kind`` "ldpc";
    with 240: "ldpc-short", a 16-bit scale then costs 60-120 channel uses instead of 480-960).
    """

    def __init__(self, channel: str = "awgn", target_success: float = TARGET_SUCCESS, decode: bool = True,
                 lengths: tuple[int, ...] = (CODEWORD_BITS,), max_repeats: int = MAX_REPEATS):
        self.channel_name = check_channel(channel)
        self.target_success = check_target_success(target_success)
        self.decode = bool(decode)
        self.lengths = check_lengths(lengths)
        self.max_repeats = check_repeats(max_repeats)
        self.kind = "ldpc" if self.lengths == (CODEWORD_BITS,) else "ldpc-short"

    def __repr__(self) -> str:
        return (f"SideLink(channel={self.channel_name!r}, target_success={self.target_success}, decode={self.decode}, "
                f"lengths={self.lengths}, max_repeats={self.max_repeats})")

    def plan(self, payload_bits: int, snr_db: float) -> tuple[MCS, int]:
        """(MCS, repeats) for a payload of ``payload_bits`` at ``snr_db``: the fewest channel uses among the reliable
        MCSs sent once and the QPSK codewords sent ``repeats`` times (a power of 2 up to ``max_repeats``) and
        Chase-combined, whose reliability is read from the BLER table at ``snr_db + 10·log10(repeats)`` (exact on
        AWGN, conservative on fast fading); ties go to fewer repeats. Repeats matter where no MCS is reliable once
        (below about -2 dB on AWGN, 0 dB on fast Rayleigh) and where a repeated short codeword costs less than one
        long one. With nothing reliable: the most robust MCS once (a block that will probably be lost, at the least
        cost)."""
        check_payload_bits(payload_bits)
        candidates = []
        single = mcs_for_payload(payload_bits, snr_db, self.channel_name, self.target_success, lengths=self.lengths)
        if single is not None:
            candidates.append((channel_uses_needed(single, payload_bits), 1, single))
        repeats = 2
        while repeats <= self.max_repeats:
            gain = 10 * math.log10(repeats)
            candidates += [(channel_uses_needed(m, payload_bits) * repeats, repeats, m)
                           for n in self.lengths for m in MCS_BY_LENGTH[n] if m.modulation == "qpsk"
                           and table_for(m).success_probability(self.channel_name, m, snr_db + gain,
                                                                codewords_needed(m, payload_bits))
                           >= self.target_success]
            repeats *= 2
        if not candidates:
            return min(MCS_TABLE, key=lambda m: m.spectral_efficiency), 1
        _, repeats, mcs = min(candidates, key=lambda c: (c[0], c[1], c[2].spectral_efficiency, -c[2].n))
        return mcs, repeats

    def mcs(self, payload_bits: int, snr_db: float) -> MCS:
        """The MCS of ``plan``: the cheapest reliable one, else the one repeated, else the most robust (QPSK 1/4 on
        1,920-bit codewords)."""
        return self.plan(payload_bits, snr_db)[0]

    def channel_uses(self, payload_bits: int, snr_db: float) -> int:
        """Complex channel uses of a side payload of ``payload_bits`` (0 for an empty one): whole codewords, times
        the repeats of ``plan``."""
        check_payload_bits(payload_bits)
        if not payload_bits:
            return 0
        mcs, repeats = self.plan(payload_bits, snr_db)
        return channel_uses_needed(mcs, payload_bits) * repeats

    def send(self, data: bytes, channel: ComplexChannel, snr_db: float, generator: torch.Generator | None = None) -> Delivery:
        """``data`` as one transport block over ``channel`` (the channel named ``channel_name``) at ``snr_db``, with
        the MCS and repeats of ``plan``."""
        mcs, repeats = self.plan(8 * len(data), snr_db)
        return send_bytes(data, mcs, channel, self.channel_name, snr_db, self.decode, generator, repeats)


class IdealSideLink:
    """An error-free side channel carrying ``bits_per_use`` bits per complex channel use (an optimistic bound, see
    the module docstring). ``send`` touches neither the channel nor the generator."""

    kind = "ideal"
    decode = True

    def __init__(self, bits_per_use: float = 1.0):
        if isinstance(bits_per_use, bool) or not isinstance(bits_per_use, (int, float)) or not bits_per_use > 0:
            raise SemcomError(f"bits_per_use must be a positive number, got {bits_per_use!r}")
        self.bits_per_use = float(bits_per_use)

    def __repr__(self) -> str:
        return f"IdealSideLink(bits_per_use={self.bits_per_use:g})"

    def channel_uses(self, payload_bits: int, snr_db: float | None = None) -> int:
        """ceil(payload_bits / bits_per_use), whatever the SNR."""
        return math.ceil(check_payload_bits(payload_bits) / self.bits_per_use)

    def send(self, data: bytes, channel: ComplexChannel | None = None, snr_db: float | None = None,
             generator: torch.Generator | None = None) -> Delivery:
        if not isinstance(data, bytes):
            raise SemcomError(f"data must be bytes, got {type(data).__name__}")
        return Delivery(received=data, mcs=None, codewords=0, codewords_failed=0,
                        channel_uses=self.channel_uses(8 * len(data)), reason=None)


def build_side_link(kind: str = "ldpc", channel: str = "awgn", decode: bool = True) -> SideLink | IdealSideLink:
    """A side link by name (``SIDE_LINKS``) for the channel named ``channel``; "ldpc" needs a channel with a BLER
    table (``DIGITAL_CHANNELS``), otherwise say "ideal" explicitly."""
    if kind not in SIDE_LINKS:
        raise SemcomError(f"unknown side link {kind!r}; choose one of {', '.join(SIDE_LINKS)}")
    if kind == "ideal":
        return IdealSideLink()
    if channel not in DIGITAL_CHANNELS:
        raise SemcomError(f"the LDPC side link has BLER tables for {' and '.join(DIGITAL_CHANNELS)} only, not "
                          f"{channel!r}: use the ideal side link (side_link='ideal', an optimistic count) there")
    return SideLink(channel, decode=decode, lengths=LENGTHS[kind])


def digital_channel_name(channel: ComplexChannel) -> str:
    """The BLER table's name for a semcom channel object: "awgn" for ``AWGN``, "rayleigh" for fast ``Rayleigh`` fading
    with zero-forcing (what ``build_channel("rayleigh")`` builds); SemcomError for any other channel."""
    if type(channel) is AWGN:
        return "awgn"
    if type(channel) is Rayleigh and channel.coherence == "fast" and channel.equalizer == "zf":
        return "rayleigh"
    raise SemcomError(f"no BLER table for a {type(channel).__name__} channel, so no real MCS for its side payload: "
                      "pass side_link=IdealSideLink() (an optimistic count) explicitly")


def side_uses(side_link, payload_bits: int, snr_db: float) -> int:
    """Channel uses ``side_link`` will spend on a side payload of ``payload_bits`` at ``snr_db`` (known before sending:
    the MCS is picked from the SNR), for a transmitter that fits its symbols and side block into one budget."""
    count = getattr(side_link, "channel_uses", None)
    if not callable(count):
        raise SemcomError(f"fit_budget needs a side link that states its cost before sending (channel_uses), "
                          f"{type(side_link).__name__} does not")
    return int(count(payload_bits, float(snr_db)))


def fit_to_budget(budget: int, most: int, uses_for: Callable[[int], int], what: str) -> int:
    """The largest count ``k`` in 1..``most`` (maps, coefficients) whose channel uses with the side block,
    ``uses_for(k)``, fit in ``budget``; SemcomError (one line) when even ``k = 1`` does not."""
    for k in range(int(most), 0, -1):
        if uses_for(k) <= budget:
            return k
    raise SemcomError(f"{what}: its side block needs {uses_for(0)} channel uses, which leaves less than one map "
                      f"({uses_for(1) - uses_for(0)} uses) of the budget of {budget}; use a larger image or CBR, or "
                      "fit_budget=False (the side block is then counted on top of the budget)")


SIDE_FALLBACK = "ideal (no BLER table for this channel)"
"""``details["side_link"]`` of a transmitter left to its default side link on a channel without a BLER table."""


def side_link_for(channel: ComplexChannel, side_link=None) -> tuple[SideLink | IdealSideLink, str]:
    """(the side link a transmitter over ``channel`` sends its side payload on, its label for ``details``).

    ``side_link``: None (the default): a ``SideLink`` ("ldpc") on the channel's BLER table where it has one (AWGN,
    fast Rayleigh with ZF: ``digital_channel_name``), else ``IdealSideLink()`` labelled ``SIDE_FALLBACK``; a name of
    ``SIDE_LINKS`` ("ldpc" on a channel without a BLER table is a SemcomError); or a side-link object (``kind`` and
    ``send(data, channel, snr_db, generator) -> Delivery``, see ``semcom.digital.side``)."""
    if side_link is None:
        try:
            link = SideLink(digital_channel_name(channel))
            return link, link.kind
        except SemcomError:
            return IdealSideLink(), SIDE_FALLBACK
    if isinstance(side_link, str):
        if side_link not in SIDE_LINKS:
            raise SemcomError(f"unknown side link {side_link!r}; choose one of {', '.join(SIDE_LINKS)}")
        link = (IdealSideLink() if side_link == "ideal"
                else SideLink(digital_channel_name(channel), lengths=LENGTHS[side_link]))
        return link, link.kind
    if not callable(getattr(side_link, "send", None)):
        raise SemcomError(f"side_link must be None, one of {', '.join(SIDE_LINKS)} or a side link (with send), "
                          f"got {type(side_link).__name__}")
    return side_link, str(getattr(side_link, "kind", type(side_link).__name__))


def side_bytes(side: torch.Tensor) -> bytes:
    """A side payload [n] float16 as its 2n little-endian bytes."""
    return side.detach().cpu().half().numpy().astype("<f2").tobytes()


def side_details(label: str, side_bits: int, side_uses: int, side_mcs: str | None) -> dict:
    """The side fields of a transmission's ``details``: the side link, the payload's bits, the channel uses its block
    spent and its MCS (None on the ideal link)."""
    return {"side_link": label, "side_bits": side_bits, "side_uses": side_uses, "side_mcs": side_mcs}


def side_outcome(x_hat: torch.Tensor, channel_uses: int, details: dict, reason: str | None = None) -> Transmission:
    """``x_hat`` (the model's decode) when the side payload arrived (``reason`` None); else the failed-transmission
    convention of the digital chain (``semcom.digital.chain.lost``: the mid-grey image, ``ok`` False,
    ``details["reason"]``): without its scale the receiver cannot de-normalise the symbols it received."""
    if reason is not None:
        return lost(x_hat, f"side payload lost ({reason})", channel_uses_used=channel_uses, **details)
    return Transmission(x_hat=x_hat, channel_uses=channel_uses, details=details)


def send_side(x_hat: torch.Tensor, data_uses: int, side: torch.Tensor, side_link, label: str, channel: ComplexChannel,
              snr_db: float, generator: torch.Generator | None, details: dict) -> Transmission:
    """Send the side payload ``side`` ([n] float16) on ``side_link`` over ``channel`` after the ``data_uses`` channel
    uses of symbols that gave ``x_hat`` (so their noise draws are those of the ideal count) and return the
    transmission: ``data_uses`` + the side block's channel uses, ``details`` + ``side_details``, ``side_outcome``."""
    payload = side_bytes(side)
    delivery: Delivery = side_link.send(payload, channel, float(snr_db), generator)
    fields = {**details, **side_details(label, 8 * len(payload), delivery.channel_uses, delivery.mcs_label)}
    return side_outcome(x_hat, data_uses + delivery.channel_uses, fields, None if delivery.ok else delivery.reason)
