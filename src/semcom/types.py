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
