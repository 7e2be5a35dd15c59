"""ASC's side payload (the keep decisions and the two float16 scale factors) as bytes.

``LamSC`` sends these bytes over a core side link (``semcom.digital.side``): by default ``SideLink``, one 5G LDPC + QAM
transport block at the cheapest MCS predicted to decode with probability >= ``semcom.digital.TARGET_SUCCESS`` (the
most robust MCS when none is); the receiver places the received values with the mask and scale factors it decodes
from those bytes, and when the block fails it has nothing to place them with. ``IdealSideLink`` (labelled "ideal")
counts them at 1 bit per channel use and always delivers them.
"""

from __future__ import annotations

import struct

import torch

from semcom.coding.masks import decode_mask, encode_mask
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
