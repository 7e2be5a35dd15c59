"""Any payload bytes over the coded digital link, as one transport block of LDPC-coded QAM codewords.

bytes + 24-bit CRC (modelled, see ``semcom.digital.mcs``) + zero padding -> ``codewords_needed``
codewords of k bits -> LDPC -> QAM -> channel -> demapper -> LDPC decoder -> bytes. The receiver
knows the payload length (signalled out of band). If any codeword fails, the whole payload is lost.

``send_bytes`` has the two modes of DigitalChain: ``decode=True`` really encodes, sends and decodes
every codeword (about 15-30 ms per codeword on one CPU core); ``decode=False`` sends nothing and
draws each codeword's failure from the shipped BLER table with ``generator``, delivering the bytes
unchanged when all succeed. ``mcs_for_payload`` picks the cheapest MCS that carries a payload reliably.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from semcom.channels import ComplexChannel
from semcom.digital.capacity import check_channel, check_scalar_snr_db
from semcom.digital.link import check_repeats
from semcom.digital.mcs import (
    CODEWORD_BITS,
    MCS,
    MCS_BY_LENGTH,
    TARGET_SUCCESS,
    BlerTable,
    check_lengths,
    check_target_success,
    codewords_needed,
    load_bler_table,
)
from semcom.errors import SemcomError


def bytes_to_block(data: bytes, mcs: MCS, codewords: int) -> torch.Tensor:
    """Payload bytes -> [codewords, k] float bits: payload, then CRC placeholder and padding (zeros)."""
    bits = np.zeros(codewords * mcs.k, dtype=np.float32)
    bits[: 8 * len(data)] = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    return torch.from_numpy(bits).reshape(codewords, mcs.k)


def block_to_bytes(bits: torch.Tensor, num_bytes: int) -> bytes:
    """Inverse of ``bytes_to_block`` for the first ``num_bytes`` payload bytes."""
    return np.packbits(bits.reshape(-1)[: 8 * num_bytes].numpy().astype(np.uint8)).tobytes()


def check_payload_bits(payload_bits: int) -> int:
    if isinstance(payload_bits, bool) or not isinstance(payload_bits, int) or payload_bits < 0:
        raise SemcomError(f"payload_bits must be an integer >= 0, got {payload_bits!r}")
    return payload_bits


def channel_uses_needed(mcs: MCS, payload_bits: int) -> int:
    """Complex channel uses of the transport block carrying ``payload_bits``: codewords * n / bits_per_symbol."""
    return codewords_needed(mcs, payload_bits) * mcs.symbols_per_codeword


def mcs_for_payload(
    payload_bits: int, snr_db: float, channel: str, target_success: float = TARGET_SUCCESS,
    table: BlerTable | None = None, lengths: tuple[int, ...] = (CODEWORD_BITS,),
) -> MCS | None:
    """The MCS needing the fewest channel uses for ``payload_bits`` whose predicted probability that
    every codeword decodes, (1 - BLER) ** codewords_needed, is at least ``target_success``.

    ``lengths``: the codeword lengths to choose from (``MCS_BY_LENGTH``: 1920 bits, and 240 for the short family,
    whose BLER is read from its own table). ``table`` replaces the shipped BLER table of the 1920-bit family. Ties
    go to the lower spectral efficiency, then the longer codeword. Returns None when no MCS is reliable enough.
    """
    check_payload_bits(payload_bits)
    snr = check_scalar_snr_db(snr_db)
    check_channel(channel)
    check_target_success(target_success)
    reliable = [
        mcs for n in check_lengths(lengths) for mcs in MCS_BY_LENGTH[n]
        if table_for(mcs, table).success_probability(channel, mcs, snr, codewords_needed(mcs, payload_bits))
        >= target_success
    ]
    return min(reliable, key=lambda m: (channel_uses_needed(m, payload_bits), m.spectral_efficiency, -m.n),
               default=None)


def table_for(mcs: MCS, table: BlerTable | None = None) -> BlerTable:
    """``table`` when it was measured on ``mcs``'s codeword length, else the shipped table for that length."""
    if table is not None and table.config.get("n", CODEWORD_BITS) == mcs.n:
        return table
    return load_bler_table(mcs.n)


@dataclass(frozen=True)
class Delivery:
    """What one ``send_bytes`` call delivered.

    ``received``: the payload bytes, or None when the block was lost; ``mcs``: the MCS name (None if
    nothing was sent); ``codewords`` sent, ``codewords_failed`` among them; ``channel_uses``: complex
    channel uses spent (codewords * symbols per codeword); ``reason``: None, or why nothing arrived.
    """

    received: bytes | None
    mcs: str | None
    codewords: int
    codewords_failed: int
    channel_uses: int
    reason: str | None
    repeats: int = 1

    @property
    def mcs_label(self) -> str | None:
        """The MCS name, with " xR" when every codeword was sent R > 1 times (Chase-combined)."""
        return self.mcs if self.mcs is None or self.repeats == 1 else f"{self.mcs} x{self.repeats}"

    @property
    def ok(self) -> bool:
        return self.reason is None


def send_bytes(
    data: bytes, mcs: MCS, channel: ComplexChannel, channel_name: str, snr_db: float, decode: bool = True,
    generator: torch.Generator | None = None, repeats: int = 1,
) -> Delivery:
    """Send ``data`` as one transport block with ``mcs`` at ``snr_db`` (Es/N0 in dB, scalar).

    ``channel``: the semcom channel simulated when ``decode`` is True; ``channel_name``: its name in
    the BLER table ("awgn" or "rayleigh"), used when ``decode`` is False (the two must agree).
    ``received`` is None with reason "decode failed" when any codeword fails. ``repeats``: every
    codeword sent that many times and Chase-combined (``DigitalLink.send``), ``repeats`` times the
    channel uses; without decoding, its outcome is drawn from the table at ``snr_db + 10·log10(repeats)``
    (exact on AWGN for QPSK, conservative on fast fading, which also gains diversity).
    """
    if not isinstance(data, bytes):
        raise SemcomError(f"data must be bytes, got {type(data).__name__}")
    if not isinstance(mcs, MCS):
        raise SemcomError(f"mcs must be an MCS (see get_mcs), got {type(mcs).__name__}")
    check_channel(channel_name)
    snr = check_scalar_snr_db(snr_db)
    check_repeats(repeats)
    codewords = codewords_needed(mcs, 8 * len(data))
    if decode:
        bits_hat, ok = mcs.link().send(bytes_to_block(data, mcs, codewords), channel, snr, generator, repeats)
        received = block_to_bytes(bits_hat, len(data))
    else:
        bler = load_bler_table(mcs.n).bler(channel_name, mcs, snr + 10 * math.log10(repeats))
        ok = torch.rand(codewords, generator=generator) >= bler
        received = data
    failed = int((~ok).sum())
    return Delivery(received=None if failed else received, mcs=mcs.name, codewords=codewords, codewords_failed=failed,
                    channel_uses=codewords * mcs.symbols_per_codeword * repeats,
                    reason="decode failed" if failed else None, repeats=repeats)
