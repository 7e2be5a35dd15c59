"""The digital baseline for split inference: 8-bit features, zlib, 5G LDPC + QAM at the best MCS.

Device: split features [C, H, W] -> uniform 8-bit quantisation between their min and max -> zlib
(level 9) behind a small header (``encode_features``). The bytes cross the core's digital transport
(``semcom.digital.transport.send_bytes``): LDPC-coded QAM, really decoded (``decode=True``) or with
codeword failures drawn from the shipped BLER table (``decode=False``). Server: ``decode_features``.
A lost payload gives all-zero features for that example, and ``ok`` False: the cliff is visible.
To compare with an analog scheme at the same channel uses, pass its uses per example as the budget
(MCS from ``select_mcs`` for that budget); without a budget the link picks the cheapest reliable MCS
for each payload (``mcs_for_payload``) and reports the channel uses it needed.

Payload layout: magic b"SF1", C, H, W as little-endian uint16, min and max as float32 (17 bytes),
then zlib of the C*H*W uint8 levels in C, H, W order; level q stands for min + q * (max - min) / 255,
so the reconstruction error is at most (max - min) / 510 (half a step).
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from semcom.channels import build_channel
from semcom.digital.capacity import check_channel, check_channel_uses
from semcom.digital.mcs import TARGET_SUCCESS, capacity_bits, check_target_success, select_mcs
from semcom.digital.transport import mcs_for_payload, send_bytes
from semcom.errors import SemcomError
from semcom.units import check_snr_db

MAGIC = b"SF1"
HEADER = struct.Struct("<3s3H2f")
"""magic, C, H, W, min, max: 17 bytes."""
LEVELS = 255
"""Largest 8-bit level; the step is (max - min) / LEVELS."""
MAX_SIDE = 2**16 - 1


def check_features(features: torch.Tensor, dims: int, name: str = "features") -> None:
    """Require a finite, non-empty float tensor with ``dims`` dimensions, the last three at most MAX_SIDE."""
    if not isinstance(features, torch.Tensor):
        raise SemcomError(f"{name} must be a torch.Tensor, got {type(features).__name__}")
    layout = "[C, H, W]" if dims == 3 else "[B, C, H, W]"
    if features.dim() != dims or features.numel() == 0:
        raise SemcomError(f"{name} must be a non-empty {layout} tensor, got shape {tuple(features.shape)}")
    if max(features.shape[-3:]) > MAX_SIDE:
        raise SemcomError(f"{name} sides must be at most {MAX_SIDE} (uint16 header), got {tuple(features.shape)}")
    if not features.is_floating_point():
        raise SemcomError(f"{name} must be a float tensor, got {features.dtype}")
    if not torch.isfinite(features).all():
        raise SemcomError(f"{name} contains NaN or inf")


def encode_features(features: torch.Tensor) -> bytes:
    """[C, H, W] float features -> header + zlib of their 8-bit levels between min and max (see module doc)."""
    check_features(features, 3)
    x = features.detach().cpu().to(torch.float32).numpy().astype(np.float64)
    if not np.isfinite(x).all():
        raise SemcomError("features exceed the float32 range")
    low, high = np.float32(x.min()), np.float32(x.max())
    step = (float(high) - float(low)) / LEVELS
    levels = np.clip(np.rint((x - float(low)) / step), 0, LEVELS) if step > 0 else np.zeros_like(x)
    return HEADER.pack(MAGIC, *x.shape, low, high) + zlib.compress(levels.astype(np.uint8).tobytes(), 9)


def check_shape(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    if (not isinstance(shape, (tuple, list)) or len(shape) != 3
            or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_SIDE for s in shape)):
        raise SemcomError(f"expected_shape must be (C, H, W) with sides in 1..{MAX_SIDE}, got {shape!r}")
    return tuple(shape)


def decode_features(data: bytes, expected_shape: tuple[int, int, int]) -> torch.Tensor:
    """Payload from ``encode_features`` -> [C, H, W] float32; SemcomError if it is corrupt or of another shape."""
    shape = check_shape(expected_shape)
    if not isinstance(data, (bytes, bytearray)):
        raise SemcomError(f"feature payload must be bytes, got {type(data).__name__}")
    if len(data) < HEADER.size:
        raise SemcomError(f"feature payload truncated: {len(data)} bytes, the header alone has {HEADER.size}")
    magic, c, h, w, low, high = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SemcomError(f"not a feature payload: magic {magic!r}, expected {MAGIC!r}")
    if (c, h, w) != shape:
        raise SemcomError(f"feature payload has shape {(c, h, w)}, expected {shape}")
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise SemcomError(f"feature payload header is corrupt: min {low!r}, max {high!r}")
    size = c * h * w
    inflater = zlib.decompressobj()
    try:
        levels = inflater.decompress(bytes(data[HEADER.size :]), size + 1)
    except zlib.error as exc:
        raise SemcomError(f"feature payload is corrupt: zlib error ({exc})") from None
    if len(levels) != size or not inflater.eof or inflater.unused_data:
        raise SemcomError(f"feature payload is corrupt: zlib data does not hold exactly {size} levels for {shape}")
    step = (float(high) - float(low)) / LEVELS
    x = float(low) + np.frombuffer(levels, np.uint8).astype(np.float64) * step
    return torch.from_numpy(x.astype(np.float32).reshape(shape))


@dataclass
class FeatureDelivery:
    """What ``DigitalFeatureLink.send`` delivered for a batch of B examples.

    ``features_hat``: [B, C, H, W] float32 (all zeros where the payload was lost); ``ok``: [B] bool;
    ``payload_bits``: [B] int64, bits of each encoded payload; ``channel_uses``: [B] int64 complex
    channel uses spent (0 when nothing was sent); ``mcs``: MCS name per example (None if none was
    chosen); ``reasons``: None per delivered example, else "no MCS fits", "payload does not fit
    budget" or "decode failed".
    """

    features_hat: torch.Tensor
    ok: torch.Tensor
    payload_bits: torch.Tensor
    channel_uses: torch.Tensor
    mcs: list[str | None]
    reasons: list[str | None]


class DigitalFeatureLink:
    """Split features as 8-bit zlib payloads over LDPC-coded QAM on ``channel`` ("awgn" or "rayleigh").

    ``decode``: really simulate every codeword (True) or draw codeword failures from the BLER table
    (False); ``target_success``: required predicted probability that a payload's codewords all decode.
    """

    def __init__(self, channel: str = "awgn", decode: bool = True, target_success: float = TARGET_SUCCESS):
        self.channel_name = check_channel(channel)
        self.channel = build_channel(channel)
        self.decode = bool(decode)
        self.target_success = check_target_success(target_success)

    def __repr__(self) -> str:
        return (f"DigitalFeatureLink(channel={self.channel_name!r}, decode={self.decode}, "
                f"target_success={self.target_success})")

    def send(
        self, features: torch.Tensor, snr_db: torch.Tensor | float, channel_uses: int | None,
        generator: torch.Generator | None = None,
    ) -> FeatureDelivery:
        """Send each example of ``features`` [B, C, H, W] (float) as its own payload.

        ``snr_db``: Es/N0 in dB, scalar or [B]; ``channel_uses``: budget per example, the MCS then
        being ``select_mcs`` for that budget (fails with "payload does not fit budget" if the payload
        is larger than the block), or None for the cheapest reliable MCS for the payload
        (``mcs_for_payload``). Either way fails with "no MCS fits" when no MCS is reliable enough.
        """
        check_features(features, 4)
        batch = features.shape[0]
        snrs = check_snr_db(snr_db, batch).reshape(-1).expand(batch).tolist()
        if channel_uses is not None:
            check_channel_uses(channel_uses)
        features_hat = torch.zeros(features.shape, dtype=torch.float32)
        ok = torch.zeros(batch, dtype=torch.bool)
        payload_bits = torch.zeros(batch, dtype=torch.int64)
        uses = torch.zeros(batch, dtype=torch.int64)
        mcs_names: list[str | None] = [None] * batch
        reasons: list[str | None] = [None] * batch
        for i, snr in enumerate(snrs):
            data = encode_features(features[i])
            bits = 8 * len(data)
            payload_bits[i] = bits
            if channel_uses is None:
                mcs = mcs_for_payload(bits, snr, self.channel_name, self.target_success)
            else:
                mcs = select_mcs(snr, self.channel_name, channel_uses, self.target_success)
            if mcs is None:
                reasons[i] = "no MCS fits"
                continue
            mcs_names[i] = mcs.name
            if channel_uses is not None and capacity_bits(mcs, channel_uses) < bits:
                reasons[i] = "payload does not fit budget"
                continue
            delivery = send_bytes(data, mcs, self.channel, self.channel_name, snr, self.decode, generator)
            uses[i], reasons[i] = delivery.channel_uses, delivery.reason
            if delivery.ok:
                features_hat[i] = decode_features(delivery.received, tuple(features.shape[1:]))
                ok[i] = True
        return FeatureDelivery(features_hat.to(features.device), ok, payload_bits, uses, mcs_names, reasons)
