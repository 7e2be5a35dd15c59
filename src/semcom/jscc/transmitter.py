"""Learned JSCC as an image scheme (``semcom.types.Scheme``): encode -> channel -> decode, one image at a time."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from semcom.channels import ComplexChannel
from semcom.data.images import check_image
from semcom.jscc.checkpoint import load_jscc
from semcom.jscc.models import JSCC
from semcom.training.checkpoint import PACKAGE_CHECKPOINTS
from semcom.types import Transmission

DEFAULT_CHECKPOINT = PACKAGE_CHECKPOINTS / "adjscc.pt"
DEFAULT_CBR = 1 / 16
"""The operating point every image scheme uses unless told otherwise (the CLI's default too)."""


@lru_cache(maxsize=8)
def _shared_model(path: str, mtime_ns: int):
    return load_jscc(path)


def shared_jscc(path: str | Path | None = None):
    """(model, metadata) of a JSCC checkpoint, loaded once per file and process (a CBR grid builds one transmitter
    per CBR over the same weights). The model is shared: use it for inference only (``load_jscc`` for a fresh copy)."""
    resolved = Path(path or DEFAULT_CHECKPOINT)
    stamp = resolved.stat().st_mtime_ns if resolved.is_file() else 0  # a rewritten file is loaded again
    return _shared_model(str(resolved.resolve() if resolved.exists() else resolved), stamp)


class JSCCTransmitter:
    """Sends an image with a learned JSCC model over ``channel`` at ``cbr`` (the deployment path).

    Serves ADJSCC-family and hybrid checkpoints (``model.transmit_batch``); ``cbr`` is checked against the model when
    the scheme is built."""

    name = "jscc"
    task = "image"

    def __init__(self, model: JSCC, channel: ComplexChannel, cbr: float = DEFAULT_CBR, meta: dict | None = None,
                 checkpoint: str | None = None):
        self.model = model.eval()
        self.channel = channel
        self.channels = model.channels_for_cbr(cbr)  # SemcomError for a CBR the model does not serve
        self.cbr = float(cbr)
        self.meta = meta or {}
        self.checkpoint = checkpoint

    @classmethod
    def from_checkpoint(cls, channel: ComplexChannel, path: str | Path | None = None,
                        cbr: float = DEFAULT_CBR) -> JSCCTransmitter:
        model, meta = shared_jscc(path)
        return cls(model, channel, cbr, meta, str(path or DEFAULT_CHECKPOINT))

    def describe(self) -> dict:
        return {"scheme": self.name, "model": self.model.cfg.name, "cbr": self.cbr,
                "channel": type(self.channel).__name__, "checkpoint": self.checkpoint}

    @torch.no_grad()
    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        """``x`` [3, H, W] float in [0, 1] at ``snr_db``; channel uses: the latent's complex symbols."""
        check_image(x)
        if hasattr(self.model, "transmit_batch"):  # the hybrid JSCC: its receiver needs the side scale and CSI
            out = self.model.transmit_batch(x[None], snr_db, self.channel, self.cbr, generator)
            return Transmission(x_hat=out["x_hat"][0], channel_uses=int(out["channel_uses"][0]),
                                details={"model": self.model.cfg.name})
        z = self.model.encode(x[None], snr_db, self.cbr)
        z_hat = self.channel(z, snr_db, generator)
        x_hat = self.model.decode(z_hat, snr_db, self.cbr, tuple(x.shape[-2:]))[0]
        return Transmission(x_hat=x_hat, channel_uses=z.shape[1], details={"model": self.model.cfg.name})
