"""The digital separation baseline end to end, and the codec-at-capacity bound.

DigitalChain: image -> codec bytes at the largest quality that fits the transport block of the
chosen MCS -> bytes + 24-bit CRC (modelled, see ``semcom.digital.mcs``) + zero padding -> LDPC
codewords -> QAM -> channel -> demapper -> LDPC decoder -> bytes -> codec decode. If any codeword
fails, the image is lost (the CRC fails) and the receiver shows a mid-grey image: the cliff is
part of the result. The bytes travel with ``semcom.digital.transport.send_bytes``.

Two modes:

- ``decode=True`` (benchmark): every codeword is really encoded, sent through the channel and
  decoded; the image is rebuilt from the decoded bits. About 15-30 ms per codeword on one CPU core.
- ``decode=False`` (fast demo): nothing is sent; each codeword fails independently with the
  measured BLER of the MCS at that SNR (shipped table, conservative lookup), drawn with
  ``generator``; on success the image is the codec's own reconstruction. This reproduces the
  table's statistics, not a particular noise realisation.

CapacityBound: the same codec given floor(n * C) bits for n channel uses (C: AWGN capacity or
Rayleigh ergodic capacity) and delivered without error: no code of any length does better with
that codec.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from semcom.channels import build_channel
from semcom.data.images import check_image, tensor_to_uint8, uint8_to_tensor
from semcom.digital.capacity import capacity_bits_per_use, capacity_bound_bits, check_channel, check_scalar_snr_db
from semcom.digital.codecs import Codec, get_codec
from semcom.digital.mcs import TARGET_SUCCESS, capacity_bits, check_target_success, get_mcs, select_mcs
from semcom.digital.transport import send_bytes
from semcom.errors import SemcomError
from semcom.types import Transmission

FAILURE_FILL = 0.5
"""Pixel value of the image shown when nothing usable arrived."""

GRID = 16
"""The channel-use budget counts an image's sides rounded up to multiples of GRID pixels: the learned JSCC (total
downsampling 16) and SoftCast (16x16 blocks) pad every image to that grid and spend symbols on the padding too, so
the digital chain and the bound at the same CBR get exactly the channel uses those schemes really send (issue 20,
item 7: a 375x500 image at CBR 1/16 is 36 864 uses for every scheme, not 36 864 for the JSCC and 35 156 for the
digital chain). For sides that are multiples of 16 (Kodak) nothing changes."""


def channel_use_budget(image_shape: tuple[int, ...], cbr: float) -> int:
    """Complex channel uses at ``cbr`` for an image of ``image_shape`` ([3, H, W]): round(cbr * 3 * H' * W'), with
    H', W' the sides rounded up to multiples of ``GRID`` (what the JSCC and SoftCast send at that CBR)."""
    h, w = image_shape[-2:]
    return round(check_cbr(cbr) * 3 * math.ceil(h / GRID) * GRID * math.ceil(w / GRID) * GRID)


def check_cbr(cbr: float) -> float:
    if isinstance(cbr, bool) or not isinstance(cbr, (int, float)) or not math.isfinite(cbr) or cbr <= 0:
        raise SemcomError(f"cbr must be a finite number > 0, got {cbr!r}")
    return float(cbr)


def from_uint8(array: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """[H, W, 3] uint8 -> [3, H, W] in [0, 1] with ``like``'s dtype and device."""
    return uint8_to_tensor(array).to(like.device, like.dtype)


def prepare(image: torch.Tensor, snr_db: float, cbr: float) -> tuple[np.ndarray, float, int]:
    """Validate a transmit call; return (image as uint8, snr_db, channel-use budget ``channel_use_budget``)."""
    check_image(image)
    snr = check_scalar_snr_db(snr_db)
    channel_uses = channel_use_budget(tuple(image.shape), cbr)
    return tensor_to_uint8(image), snr, channel_uses


def result(x_hat: torch.Tensor, reason: str | None = None, channel_uses_used: int = 0, **fields) -> Transmission:
    """A Transmission whose ``details`` hold every digital field (see ``DETAIL_FIELDS``)."""
    details = {"mcs": None, "payload_bytes": 0, "info_bits_capacity": 0, "channel_use_budget": 0, "codewords": 0,
               "codewords_failed": 0, "reason": reason, **fields}
    return Transmission(x_hat=x_hat, channel_uses=channel_uses_used, ok=reason is None, details=details)


def lost(image: torch.Tensor, reason: str, **fields) -> Transmission:
    """A failed transmission: the mid-grey image, ``ok`` False, ``details['reason']`` says why."""
    return result(torch.full_like(image, FAILURE_FILL), reason, **fields)


class DigitalChain:
    """Separate source and channel coding: ``codec`` bytes over LDPC-coded QAM on ``channel``.

    ``codec``: one of codecs.CODEC_NAMES (available here); ``channel``: "awgn" or "rayleigh" (fast
    fading, perfect-CSI ZF); ``mcs``: a fixed MCS name, or None to pick per call with
    ``select_mcs`` (``target_success``); ``decode``: really simulate every codeword (True) or draw
    codeword failures from the BLER table (False) - see the module docstring.
    """

    task = "image"

    def __init__(self, codec: str = "jpeg", channel: str = "awgn", cbr: float = 1 / 16, *, mcs: str | None = None,
                 decode: bool = True, target_success: float = TARGET_SUCCESS):
        self.codec: Codec = get_codec(codec)
        self.cbr = check_cbr(cbr)
        self.name = f"digital-{codec}"
        self.channel_name = check_channel(channel)
        self.channel = build_channel(channel)
        self.fixed_mcs = None if mcs is None else get_mcs(mcs)
        self.decode = bool(decode)
        self.target_success = check_target_success(target_success)

    def __repr__(self) -> str:
        mcs = self.fixed_mcs.name if self.fixed_mcs else "adaptive"
        return (f"DigitalChain(codec={self.codec.name!r}, channel={self.channel_name!r}, cbr={self.cbr!r}, mcs={mcs!r}, "
                f"decode={self.decode})")

    def describe(self) -> dict:
        return {"scheme": self.name, "codec": self.codec.name, "channel": self.channel_name, "cbr": self.cbr,
                "mcs": self.fixed_mcs.name if self.fixed_mcs else "adaptive", "decode": self.decode,
                "target_success": self.target_success}

    def transmit(self, image: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        """Send one image. ``image``: [3, H, W] float in [0, 1]; ``snr_db``: Es/N0 in dB (scalar); the budget is
        ``channel_use_budget`` (round(cbr * 3 * H' * W'), sides padded to multiples of ``GRID``) complex channel uses;
        ``channel_uses`` of the result is what was really sent (whole codewords, at most the budget)."""
        pixels, snr, channel_uses = prepare(image, snr_db, self.cbr)
        mcs = self.fixed_mcs or select_mcs(snr, self.channel_name, channel_uses, self.target_success)
        if mcs is None or capacity_bits(mcs, channel_uses) == 0:
            return lost(image, "no MCS fits", channel_use_budget=channel_uses)
        info_bits = capacity_bits(mcs, channel_uses)
        data = self.codec.encode_to_budget(pixels, info_bits // 8)
        counts = {"mcs": mcs.name, "info_bits_capacity": info_bits, "channel_use_budget": channel_uses}
        if data is None:
            return lost(image, "codec cannot fit budget", **counts)
        delivery = send_bytes(data, mcs, self.channel, self.channel_name, snr, self.decode, generator)
        counts |= {"payload_bytes": len(data), "codewords": delivery.codewords,
                   "channel_uses_used": delivery.channel_uses}
        if not delivery.ok:
            return lost(image, delivery.reason, codewords_failed=delivery.codewords_failed, **counts)
        return result(from_uint8(self.codec.decode(delivery.received), image), **counts)


class CapacityBound:
    """The codec with floor(n * C) bits for n = ``channel_use_budget`` channel uses, error-free (an upper bound for
    ``codec``). Same ``transmit`` signature as DigitalChain; ``generator`` is accepted and unused (nothing random).
    """

    task = "image"

    def __init__(self, codec: str = "jpeg", channel: str = "awgn", cbr: float = 1 / 16):
        self.codec: Codec = get_codec(codec)
        self.channel_name = check_channel(channel)
        self.cbr = check_cbr(cbr)
        self.name = f"bound-{codec}"

    def __repr__(self) -> str:
        return f"CapacityBound(codec={self.codec.name!r}, channel={self.channel_name!r}, cbr={self.cbr!r})"

    def describe(self) -> dict:
        return {"scheme": self.name, "codec": self.codec.name, "channel": self.channel_name, "cbr": self.cbr}

    def transmit(self, image: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        pixels, snr, channel_uses = prepare(image, snr_db, self.cbr)
        info_bits = capacity_bound_bits(snr, self.channel_name, channel_uses)
        data = self.codec.encode_to_budget(pixels, info_bits // 8)
        if data is None:
            return lost(image, "codec cannot fit budget", info_bits_capacity=info_bits, channel_use_budget=channel_uses)
        uses_used = math.ceil(8 * len(data) / capacity_bits_per_use(snr, self.channel_name))
        return result(from_uint8(self.codec.decode(data), image), channel_uses_used=uses_used, payload_bytes=len(data),
                      info_bits_capacity=info_bits, channel_use_budget=channel_uses)
