"""SemanticNN split inference as a ``semcom.types.Scheme`` (task ``classify``): one image in, class scores out.

The device runs the frozen head and the codec's encoder; the features cross the channel as the variant says
(digital: Gray-coded bits over the codec's bit channel; analog: power-normalised symbols; link-adaptive: one
5G LDPC + QAM transport block at the cheapest reliable MCS, uncoded when none is, see ``link``); the server decodes
and runs the frozen tail. The same steps as ``evaluate.variant_row`` and ``link.adaptive_accuracy``, for one image.

A digital variant's ``transmit`` is its edge<->server split run in one process: ``device_part`` (image -> payload
bytes), ``channel_part`` (the link), ``server_part`` (a batch of payloads -> logits), ``result``; ``semcom serve`` runs
the device and server parts on two machines.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from semcom.channels import build_channel
from semcom.digital.mcs import TARGET_SUCCESS, get_mcs
from semcom.digital.transport import mcs_for_payload, send_bytes
from semcom.errors import SemcomError
from semcom.schemes.splitnn.checkpoint import load_semanticnn
from semcom.schemes.splitnn.model import SemanticNN
from semcom.schemes.splitnn.variants import Variant
from semcom.types import Payload, Transmission


class SplitInference:
    """``model``: a trained ``SemanticNN`` (its bit or complex channel is the one it is sent over); ``variant``: its
    configuration (name, link). ``decode``: adaptive link only, really LDPC-decode the block (else its outcome is
    drawn from the BLER table)."""

    task = "classify"

    def __init__(self, model: SemanticNN, variant: Variant, decode: bool = False,
                 target_success: float = TARGET_SUCCESS):
        self.model, self.variant = model.eval(), variant
        self.name = variant.name
        self.decode, self.target_success = bool(decode), target_success
        self.input_shape = tuple(model.split.input_shape)
        with torch.no_grad():
            self.classes = model.split(torch.zeros(1, *self.input_shape)).shape[-1]
        self.link_channel = build_channel(model.medium) if variant.link == "adaptive" else None

    @classmethod
    def from_checkpoint(cls, path: str | Path, channel: str = "awgn", weights: str | None = None,
                        decode: bool = False) -> SplitInference:
        model, meta = load_semanticnn(path, medium=channel, weights=weights)
        return cls(model, Variant(**meta["variant"]), decode)

    def describe(self) -> dict:
        return {"scheme": self.name, "channel": self.model.medium, "link": self.variant.link,
                "bits": self.model.bits if self.model.codec.cfg.bits else None, "split_at": self.variant.split_at,
                "model": self.variant.model}

    def check_input(self, x: torch.Tensor) -> None:
        if tuple(x.shape) != self.input_shape:
            raise SemcomError(f"{self.name} classifies {'x'.join(map(str, self.input_shape))} images, got "
                              f"{'x'.join(map(str, x.shape))}")

    # --- the edge<->server split (``semcom.types.Payload``); ``transmit`` is exactly these calls ----------------
    @property
    def payload_bytes(self) -> int:
        """Bytes of one device payload (the packed quantiser indices)."""
        return math.ceil(self.model.bits / 8)

    @torch.no_grad()
    def device_part(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Payload:
        """Device: ``x`` [3, H, W] in [0, 1] -> the packed, Gray-coded quantiser indices (``model.device_payload``).

        Adaptive link: the MCS is chosen here (from the payload size and ``snr_db``); when one is reliable, the encoder
        and the server's decoder are told ``clean_snr_db`` (a decoded block is exact), otherwise the true SNR. Digital
        codecs only (an analog codec has no payload bytes)."""
        self.check_input(x)
        if not self.model.codec.cfg.bits:
            raise SemcomError(f"{self.name} is an analog codec: its symbols are not a byte payload (serve a digital "
                              "variant)")
        mcs = None
        if self.variant.link == "adaptive":
            mcs = mcs_for_payload(8 * self.payload_bytes, snr_db, self.model.medium, self.target_success)
        told = float(self.variant.clean_snr_db) if mcs is not None else float(snr_db)
        data = self.model.device_payload(x[None].float(), torch.tensor([told]))[0]
        return Payload(data=data, dtype="uint8", shape=tuple(x.shape), snr_db=told,
                       details={"mcs": None if mcs is None else mcs.name, "bits": self.model.bits})

    @torch.no_grad()
    def channel_part(self, payload: Payload, snr_db: float, generator: torch.Generator | None = None) -> Payload:
        """The link at ``snr_db``: the coded transport block (adaptive link with a reliable MCS; lost blocks arrive as
        ``ok`` False) or the bits uncoded over the codec's bit channel (Gray-mapped QAM, hard decisions)."""
        if payload.details.get("mcs"):
            sent = send_bytes(payload.data, get_mcs(payload.details["mcs"]), self.link_channel, self.model.medium,
                              snr_db, self.decode, generator)
            details = payload.details if sent.ok else {**payload.details, "reason": sent.reason}
            return replace(payload, data=sent.received, channel_uses=sent.channel_uses, ok=sent.ok, details=details)
        count = self.model.bits
        bits = torch.from_numpy(np.unpackbits(np.frombuffer(payload.data, dtype=np.uint8))[:count].copy())[None]
        received = self.model.bit_channel(bits, snr_db, generator)
        data = np.packbits(received[0].to(torch.uint8).numpy()).tobytes()
        return replace(payload, data=data, channel_uses=int(self.model.bit_channel.uses(bits)))

    @torch.no_grad()
    def server_part(self, payloads: list[Payload]) -> torch.Tensor:
        """Server: arrived payloads (each decoded at its own ``snr_db``) -> logits [B, classes]
        (``model.server_logits``); SemcomError for a payload of another shape, type or length."""
        for i, p in enumerate(payloads):
            if p.data is None or not p.ok:
                raise SemcomError(f"payload {i}: nothing arrived to classify")
            if p.dtype != "uint8" or tuple(p.shape) != self.input_shape or len(p.data) != self.payload_bytes:
                raise SemcomError(f"payload {i}: expected {self.payload_bytes} uint8 bytes for a "
                                  f"{'x'.join(map(str, self.input_shape))} image, got {len(p.data)} {p.dtype} bytes "
                                  f"for {'x'.join(map(str, p.shape))}")
        return self.model.server_logits([p.data for p in payloads], torch.tensor([p.snr_db for p in payloads]))

    def result(self, payload: Payload, logits: torch.Tensor | None) -> Transmission:
        """The Transmission of one item from its arrived payload and the server's logits (None when it was lost: all-zero
        scores, ``ok`` False)."""
        if not payload.ok:
            return Transmission(logits=torch.zeros(self.classes), channel_uses=payload.channel_uses, ok=False,
                                details=dict(payload.details))
        return Transmission(logits=logits, channel_uses=payload.channel_uses, details=dict(payload.details))

    @torch.no_grad()
    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        """``x`` [3, H, W] float in [0, 1] of the classifier's input size; ``logits`` [classes]. A lost transport block
        (adaptive link) leaves the server without an answer: ``ok`` False and all-zero scores. Digital codecs run
        ``device_part`` -> ``channel_part`` -> ``server_part``; analog codecs send their symbols over the complex
        channel (``model.forward``)."""
        self.check_input(x)
        if not self.model.codec.cfg.bits:
            out = self.model(x[None].float(), snr_db, generator)
            return Transmission(logits=out["logits"][0], channel_uses=int(self.model.channel_uses),
                                details={"mcs": None, "bits": None})
        payload = self.channel_part(self.device_part(x, snr_db, generator), snr_db, generator)
        return self.result(payload, self.server_part([payload])[0] if payload.ok else None)
