"""ASC (adaptive semantic compression): a learned mask over the JSCC latent, so only informative elements are sent.

Granularity: one keep decision per group of ``group`` consecutive latent channels at each position
(row, column); ``group=1`` is the seed's per-element mask, ``group=None`` (the default) one decision per
position covering all channels. Why the default is coarse: with honest accounting the receiver must be
told the mask, up to 1 bit per decision, while a kept real value costs only half a channel use; a
per-element bitmap sent at 1 bit per channel use therefore costs up to twice the data it saves (a toy
latent of 128 elements: 64 channel uses unmasked, 136 for the raw bitmap alone). Per position the mask
costs 1 bit per ``C`` values.

``MaskNet`` maps the latent [B, C, h, w] to keep probabilities p [B, C / group, h, w]; a decision is
"keep" when p > 0.5. Training uses the straight-through estimator: the forward pass applies the hard
0/1 mask, the backward pass differentiates as if the mask were p (d mask / d p = 1), so the distortion
reaches MaskNet. The rate term is the mean keep probability per example (the expected fraction of
latent elements sent); a loss ``distortion + lambda * rate`` trades quality for channel uses.

Deployment (``ASC.apply``) counts channel uses exactly:

- data: the kept real values are paired into complex symbols, ceil(kept / 2) channel uses. The
  transmitter's next step is ``normalize_power(masked, mask)`` (unit power over the sent elements only);
  the receiver puts the received values back at the mask's positions and zeros elsewhere.
- side information: the receiver must know the decisions. They are sent as a separate digital payload:
  the bytes of ``encode_mask`` (a 1-bit mode flag, then either the raw bitmap or Elias-gamma run lengths,
  whichever is shorter, padded to whole bytes), over a robust MCS carrying ``side_bits_per_use`` bits per
  channel use (default 1: QPSK with a rate-1/2 code), i.e. ceil(8 * bytes / side_bits_per_use) uses.
  This count assumes the side payload arrives intact (an ideal side link); ``LamSC`` by default instead really sends
  it as a 5G LDPC + QAM block (``semcom.digital.side.SideLink``) and counts its codewords.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from semcom.coding.masks import encode_mask
from semcom.errors import SemcomError

KEEP_THRESHOLD = 0.5  # keep a decision group when its probability exceeds this


class MaskNet(nn.Module):
    """Keep probabilities for a latent: [B, C, h, w] -> [B, C / group, h, w] in (0, 1).

    ``group``: consecutive channels sharing one decision (C must be a multiple; None = all C). The latent
    is first scaled to unit RMS per example (MaskNet then sees the same input whatever the encoder's
    output scale); two 3x3 convolutions with a ReLU between give one logit per decision. The last bias
    starts at logit(``init_keep``) so training starts from sending (almost) everything.
    ``side_channels``: extra maps [B, side_channels, h, w] the transmitter knows besides the latent (LAM-SC
    passes the fraction of each latent position's image block covered by the selected segments), concatenated
    to the scaled latent; 0 = the latent alone.
    """

    def __init__(self, channels: int, group: int | None = None, hidden: int = 64, init_keep: float = 0.9,
                 side_channels: int = 0):
        super().__init__()
        group = channels if group is None else group
        if channels < 1 or hidden < 1 or not 0 < init_keep < 1 or group < 1 or channels % group or side_channels < 0:
            raise SemcomError(f"invalid MaskNet: channels={channels}, group={group} (must divide channels), "
                              f"hidden={hidden}, init_keep={init_keep}, side_channels={side_channels}")
        self.channels, self.group, self.side_channels = channels, group, side_channels
        self.net = nn.Sequential(nn.Conv2d(channels + side_channels, hidden, 3, padding=1), nn.ReLU(inplace=True),
                                 nn.Conv2d(hidden, channels // group, 3, padding=1))
        nn.init.constant_(self.net[2].bias, math.log(init_keep / (1 - init_keep)))

    def forward(self, latent: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        check_latent(latent, self.channels)
        rms = latent.pow(2).mean(dim=(1, 2, 3), keepdim=True).add(1e-12).sqrt()
        x = latent / rms
        if self.side_channels:
            expected = (latent.shape[0], self.side_channels, *latent.shape[2:])
            if side is None or tuple(side.shape) != expected:
                got = None if side is None else tuple(side.shape)
                raise SemcomError(f"this mask needs side maps {expected} beside the latent, got {got}")
            x = torch.cat([x, side.to(x.dtype)], dim=1)
        elif side is not None:
            raise SemcomError("this mask takes no side maps (side_channels=0)")
        return torch.sigmoid(self.net(x))

    def expand(self, decisions: torch.Tensor) -> torch.Tensor:
        """Per-group values [B, C / group, h, w] -> per-element [B, C, h, w]."""
        return decisions.repeat_interleave(self.group, dim=1)


def straight_through(keep_prob: torch.Tensor, threshold: float = KEEP_THRESHOLD) -> torch.Tensor:
    """Hard 0/1 mask (keep_prob > threshold) in the forward pass, gradient of the identity in the backward pass."""
    hard = (keep_prob > threshold).to(keep_prob.dtype)
    return hard + (keep_prob - keep_prob.detach())  # exactly 0 or 1 forward: (p - p) is exactly 0


@dataclass(frozen=True)
class ChannelUses:
    """Channel uses per example, [B] int64 each: ``data`` (ceil(kept real values / 2)), ``side`` (the mask
    payload), and ``side_bits`` (8 x the mask payload's bytes). ``total`` = data + side."""

    data: torch.Tensor
    side: torch.Tensor
    side_bits: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        return self.data + self.side


class ASC(nn.Module):
    """Adaptive semantic compression of a latent [B, C, h, w] (see the module docstring).

    ``forward(latent, side=None)`` (training path) returns a dict: ``latent`` [B, C, h, w] (masked, straight-through),
    ``mask`` [B, C, h, w] float (hard values, straight-through gradient), ``keep_prob`` [B, C / group, h, w],
    and ``rate`` [B] (mean keep probability, the rate term).
    ``apply(latent, side=None)`` (deployment) returns (masked latent, mask bool [B, C, h, w], ``ChannelUses``).
    """

    def __init__(self, channels: int, group: int | None = None, hidden: int = 64, init_keep: float = 0.9,
                 side_bits_per_use: float = 1.0, side_channels: int = 0):
        super().__init__()
        if not side_bits_per_use > 0:
            raise SemcomError(f"side_bits_per_use must be positive, got {side_bits_per_use!r}")
        self.masknet = MaskNet(channels, group, hidden, init_keep, side_channels)
        self.side_bits_per_use = side_bits_per_use

    def forward(self, latent: torch.Tensor, side: torch.Tensor | None = None) -> dict:
        keep_prob = self.masknet(latent, side)
        mask = self.masknet.expand(straight_through(keep_prob))
        return {"latent": latent * mask, "mask": mask, "keep_prob": keep_prob, "rate": keep_prob.flatten(1).mean(dim=1)}

    @torch.no_grad()
    def apply(self, latent: torch.Tensor, side: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, ChannelUses]:
        decisions = self.masknet(latent, side) > KEEP_THRESHOLD
        mask = self.masknet.expand(decisions)
        return latent * mask, mask, channel_uses(decisions, self.masknet.group, self.side_bits_per_use)


def channel_uses(decisions: torch.Tensor, group: int = 1, side_bits_per_use: float = 1.0) -> ChannelUses:
    """Exact channel uses for sending the latent elements selected by ``decisions`` (bool [B, ...], one entry
    per group of ``group`` elements) plus the decisions themselves (``encode_mask`` bytes as side information)."""
    if not isinstance(decisions, torch.Tensor) or decisions.dtype != torch.bool or decisions.dim() < 2:
        raise SemcomError("decisions must be a bool tensor [B, ...]")
    if group < 1 or not side_bits_per_use > 0:
        raise SemcomError(f"need group >= 1 and side_bits_per_use > 0, got {group}, {side_bits_per_use}")
    kept = decisions.flatten(1).sum(dim=1) * group
    side_bits = torch.tensor([8 * len(encode_mask(d)) for d in decisions], dtype=torch.int64)
    side = torch.tensor([math.ceil(b / side_bits_per_use) for b in side_bits.tolist()], dtype=torch.int64)
    return ChannelUses(data=(kept + 1) // 2, side=side, side_bits=side_bits)


def check_latent(latent: torch.Tensor, channels: int) -> None:
    if not isinstance(latent, torch.Tensor) or latent.dim() != 4 or latent.shape[1] != channels:
        got = tuple(latent.shape) if isinstance(latent, torch.Tensor) else type(latent).__name__
        raise SemcomError(f"latent must be [B, {channels}, h, w], got {got}")
    if not latent.is_floating_point() or not torch.isfinite(latent).all():
        raise SemcomError("latent must be a finite floating-point tensor")
