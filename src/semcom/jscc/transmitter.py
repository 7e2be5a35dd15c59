"""Learned JSCC as an image transmitter: encode -> channel -> decode, one image at a time."""

from __future__ import annotations

from pathlib import Path

import torch

from semcom.channels import ComplexChannel
from semcom.data.images import check_image
from semcom.jscc.checkpoint import load_jscc
from semcom.jscc.models import JSCC
from semcom.training.checkpoint import PACKAGE_CHECKPOINTS
from semcom.types import Transmission

DEFAULT_CHECKPOINT = PACKAGE_CHECKPOINTS / "adjscc.pt"


class JSCCTransmitter:
    """Sends an image with a learned JSCC model over ``channel`` (the deployment path)."""

    name = "jscc"

    def __init__(self, model: JSCC, channel: ComplexChannel, meta: dict | None = None):
        self.model = model.eval()
        self.channel = channel
        self.meta = meta or {}

    @classmethod
    def from_checkpoint(cls, channel: ComplexChannel, path: str | Path | None = None) -> "JSCCTransmitter":
        model, meta = load_jscc(path or DEFAULT_CHECKPOINT)
        return cls(model, channel, meta)

    @torch.no_grad()
    def transmit(self, x: torch.Tensor, snr_db: float, cbr: float, generator: torch.Generator | None = None) -> Transmission:
        check_image(x)
        if hasattr(self.model, "transmit_batch"):  # the hybrid JSCC: its receiver needs the side scale and CSI
            out = self.model.transmit_batch(x[None], snr_db, self.channel, cbr, generator)
            return Transmission(x_hat=out["x_hat"][0], channel_uses=int(out["channel_uses"][0]),
                                details={"model": self.model.cfg.name})
        z = self.model.encode(x[None], snr_db, cbr)
        z_hat = self.channel(z, snr_db, generator)
        x_hat = self.model.decode(z_hat, snr_db, cbr, tuple(x.shape[-2:]))[0]
        return Transmission(x_hat=x_hat, channel_uses=z.shape[1], details={"model": self.model.cfg.name})
