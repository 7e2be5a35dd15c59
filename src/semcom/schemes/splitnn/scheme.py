"""SemanticNN split inference as a ``semcom.types.Scheme`` (task ``classify``): one image in, class scores out.

The device runs the frozen head and the codec's encoder; the features cross the channel as the variant says
(digital: Gray-coded bits over the codec's bit channel; analog: power-normalised symbols; link-adaptive: one
5G LDPC + QAM transport block at the cheapest reliable MCS, uncoded when none is, see ``link``); the server decodes
and runs the frozen tail. The same steps as ``evaluate.variant_row`` and ``link.adaptive_accuracy``, for one image.
"""

from __future__ import annotations

from pathlib import Path

import torch

from semcom.channels import build_channel
from semcom.digital.mcs import TARGET_SUCCESS
from semcom.digital.transport import mcs_for_payload, send_bytes
from semcom.errors import SemcomError
from semcom.schemes.splitnn.checkpoint import load_semanticnn
from semcom.schemes.splitnn.model import SemanticNN
from semcom.schemes.splitnn.variants import Variant
from semcom.types import Transmission


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

    @torch.no_grad()
    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        """``x`` [3, H, W] float in [0, 1] of the classifier's input size; ``logits`` [classes]. A lost transport block
        (adaptive link) leaves the server without an answer: ``ok`` False and all-zero scores."""
        if tuple(x.shape) != self.input_shape:
            raise SemcomError(f"{self.name} classifies {'x'.join(map(str, self.input_shape))} images, got "
                              f"{'x'.join(map(str, x.shape))}")
        xb = x[None].float()
        if self.variant.link == "adaptive":
            clean = torch.tensor([float(self.variant.clean_snr_db)])
            payload = self.model.device_payload(xb, clean)[0]
            mcs = mcs_for_payload(8 * len(payload), snr_db, self.model.medium, self.target_success)
            if mcs is not None:
                sent = send_bytes(payload, mcs, self.link_channel, self.model.medium, snr_db, self.decode, generator)
                details = {"mcs": mcs.name, "bits": 8 * len(payload)}
                if not sent.ok:
                    return Transmission(logits=torch.zeros(self.classes), channel_uses=sent.channel_uses, ok=False,
                                        details={**details, "reason": sent.reason})
                logits = self.model.server_logits([sent.received], clean)[0]
                return Transmission(logits=logits, channel_uses=sent.channel_uses, details=details)
        out = self.model(xb, snr_db, generator)
        return Transmission(logits=out["logits"][0], channel_uses=int(self.model.channel_uses),
                            details={"mcs": None, "bits": self.model.bits if self.model.codec.cfg.bits else None})
