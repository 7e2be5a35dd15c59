"""Small shared result types."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Transmission:
    """What one image transmission produced.

    ``x_hat``: [3, H, W] float in [0, 1] (for a failed digital decode, the documented fallback image);
    ``channel_uses``: complex channel uses actually spent; ``ok``: False when the receiver could not
    decode (digital cliff); ``details``: scheme-specific facts (MCS, bytes, ...), JSON-serialisable.
    """

    x_hat: torch.Tensor
    channel_uses: int
    ok: bool = True
    details: dict = field(default_factory=dict)
