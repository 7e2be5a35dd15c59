"""Small shared result types and the scheme contract every transmission scheme implements.

The contract (``Scheme``) in one paragraph: a scheme is built once for a channel and its operating point
(CBR, codec, checkpoints, ...) with everything it needs; ``transmit(x, snr_db, generator)`` sends one source
item ``x`` at ``snr_db`` and returns a ``Transmission`` with the exact complex channel uses it spent (data and side
information), whether the receiver could decode, and what arrived: a reconstructed image (``x_hat``) for image
schemes, class scores (``logits``) for split or collaborative inference. The SNR is a call-time input (as for
channels); the operating point is not, so no scheme needs arguments that mean nothing to it. ``describe()`` gives
the JSON-ready configuration that every result row carries. The CLI keeps the one registry of scheme names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch


@dataclass(kw_only=True)
class Transmission:
    """What one transmission produced.

    ``x_hat``: [3, H, W] float in [0, 1] for image schemes (for a failed digital decode, the documented fallback
    image), None for inference schemes; ``logits``: [classes] float for inference schemes (split / collaborative
    inference), None for image schemes; ``channel_uses``: complex channel uses actually spent, side information
    included; ``ok``: False when the receiver could not decode (digital cliff, lost side payload);
    ``details``: scheme-specific facts (MCS, bytes, ...), JSON-serialisable.
    """

    x_hat: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    text: str | None = None
    channel_uses: int
    ok: bool = True
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if sum(v is not None for v in (self.x_hat, self.logits, self.text)) != 1:
            raise ValueError("a Transmission carries exactly one of a received image (x_hat), class scores (logits) "
                             "or received text (text)")
        if self.channel_uses < 0:
            raise ValueError(f"channel_uses must be >= 0, got {self.channel_uses}")

    @property
    def prediction(self) -> int | None:
        """The predicted class (inference schemes), else None."""
        return None if self.logits is None else int(self.logits.argmax())


PAYLOAD_DTYPES = ("uint8", "float32", "complex64")


@dataclass(kw_only=True)
class Payload:
    """One item's payload between a scheme's device part and its server part (the edge<->server split).

    Schemes that run split across a device and a server (``splitnn``, ``attention-ci``) offer
    ``device_part(x, snr_db, generator) -> Payload`` (what leaves the device), ``channel_part(payload, snr_db,
    generator) -> Payload`` (what arrives over their link), ``server_part(payloads) -> outputs`` (a batch of arrived
    payloads to class scores or images) and ``result(payload, output) -> Transmission``; their ``transmit`` is exactly
    these four calls, and ``semcom.serve`` runs the same calls on two machines.

    ``data``: the scheme's own payload bytes (None: nothing is sent, the device answers itself from ``fallback``);
    ``dtype``: the element type of ``data`` (one of ``PAYLOAD_DTYPES``, little-endian); ``shape``: the source item's
    shape; ``snr_db``: the SNR the server's decoder is told; ``channel_uses``: complex channel uses spent (set by
    ``channel_part``); ``ok``: False when the link lost the payload; ``fallback``: the device's own answer, where it
    has one; ``details``: scheme-specific facts, JSON-ready.
    """

    data: bytes | None
    dtype: str = "uint8"
    shape: tuple[int, ...]
    snr_db: float
    channel_uses: int = 0
    ok: bool = True
    fallback: torch.Tensor | None = None
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.dtype not in PAYLOAD_DTYPES:
            raise ValueError(f"payload dtype must be one of {', '.join(PAYLOAD_DTYPES)}, got {self.dtype!r}")
        if self.data is not None and not isinstance(self.data, bytes):
            raise ValueError(f"payload data must be bytes or None, got {type(self.data).__name__}")


@runtime_checkable
class Scheme(Protocol):
    """What every scheme offers (see the module docstring).

    ``name``: the registry key (``jscc``, ``softcast-pca``, ``digital-jpeg``, ``lamsc``, ...); ``task``: ``image``
    (the receiver reconstructs ``x``), ``classify`` (the receiver predicts a class of ``x``) or ``text`` (``x`` is a
    caption, or an image a captioner describes, and the receiver gets text).
    """

    name: str
    task: str

    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        """Send one item: ``x`` [3, H, W] float in [0, 1] at ``snr_db`` (per complex symbol, unit average power)."""
        ...

    def describe(self) -> dict:
        """JSON-ready configuration: scheme name, channel, CBR or codec, checkpoints, ..."""
        ...


TASKS = ("image", "classify", "text")
