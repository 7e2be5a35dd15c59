"""ASC's side payload (the keep decisions and the two float16 scale factors) as bytes, and a real digital link for it.

By default ``LamSC`` counts the side payload at ``side_bits_per_use`` bits per channel use and lets the receiver use
the transmitter's mask (an ideal, error-free side channel). With ``side_link=LdpcSideLink(...)`` the payload is really
sent: ``side_payload`` bytes as one 5G LDPC + QAM transport block (``semcom.digital.transport``) at the cheapest MCS
whose predicted probability of decoding is at least ``target_success`` (the most robust MCS when none is), and the
receiver places the received values with the mask and scale factors it decodes from those bytes; when the block
fails it has nothing to place them with.
"""

from __future__ import annotations

import struct

import torch

from semcom.channels import ComplexChannel
from semcom.coding.masks import decode_mask, encode_mask
from semcom.digital.capacity import check_channel
from semcom.digital.mcs import MCS, MCS_TABLE, check_target_success
from semcom.digital.transport import Delivery, channel_uses_needed, mcs_for_payload, send_bytes
from semcom.errors import SemcomError

SCALES = struct.Struct(">ee")  # gain and scale, big-endian float16: the SCALE_BITS of the side payload


def side_payload(decisions: torch.Tensor, gain: float, scale: float) -> bytes:
    """One transmission's side payload: ``encode_mask(decisions)`` (bool, one entry per decision group) then the two
    scale factors as float16."""
    return encode_mask(decisions) + SCALES.pack(gain, scale)


def parse_side_payload(data: bytes, shape: tuple[int, ...]) -> tuple[torch.Tensor, float, float]:
    """Inverse of ``side_payload`` for decisions of ``shape``: (decisions, gain, scale); SemcomError when it does not fit."""
    if not isinstance(data, bytes) or len(data) <= SCALES.size:
        raise SemcomError(f"side payload too short: {len(data) if isinstance(data, bytes) else type(data).__name__} bytes")
    gain, scale = SCALES.unpack(data[-SCALES.size:])
    if not (gain > 0 and scale > 0):  # NaN fails too
        raise SemcomError(f"side payload carries invalid scale factors {gain!r}, {scale!r}")
    return decode_mask(data[: -SCALES.size], shape), gain, scale


class LdpcSideLink:
    """The side payload over 5G LDPC + QAM on the scheme's own channel. ``channel``: the BLER table's name for that
    channel ("awgn" or "rayleigh", used to pick the MCS); ``decode``: really decode (else draw the outcome from the
    BLER table)."""

    def __init__(self, channel: str = "awgn", target_success: float = 0.99, decode: bool = True):
        self.channel_name = check_channel(channel)
        self.target_success = check_target_success(target_success)
        self.decode = decode

    def __repr__(self) -> str:
        return f"LdpcSideLink(channel={self.channel_name!r}, target_success={self.target_success}, decode={self.decode})"

    def mcs(self, payload_bits: int, snr_db: float) -> MCS:
        """The MCS a payload of ``payload_bits`` goes with at ``snr_db``: the cheapest reliable one, else the most robust."""
        return (mcs_for_payload(payload_bits, snr_db, self.channel_name, self.target_success)
                or min(MCS_TABLE, key=lambda m: m.spectral_efficiency))

    def channel_uses(self, payload_bits: int, snr_db: float) -> int:
        """Channel uses of a side payload of ``payload_bits`` (0 for an empty one)."""
        return channel_uses_needed(self.mcs(payload_bits, snr_db), payload_bits) if payload_bits else 0

    def send(self, data: bytes, channel: ComplexChannel, snr_db: float, generator: torch.Generator | None = None) -> Delivery:
        mcs = self.mcs(8 * len(data), snr_db)
        return send_bytes(data, mcs, channel, self.channel_name, snr_db, self.decode, generator)
