"""SemanticNN's feature codec: a light device encoder and an SNR-adaptive server decoder.

Device: Conv(k = s = ``stride``) -> GDN -> PReLU -> Conv1x1 to ``channels`` symbol maps ->
power normalisation (analog) or the learned scalar quantiser (digital, ``bits`` per symbol).
Server: ConvTranspose(k = s = ``stride``) -> IGDN -> PReLU -> AF(SNR) -> Conv3x3 -> PReLU -> AF(SNR)
-> Conv3x3 back to the split features, which feed the classifier's frozen tail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from semcom.channels import normalize_power
from semcom.coding import LearnedScalarQuantizer
from semcom.errors import SemcomError
from semcom.jscc.gdn import GDN
from semcom.jscc.models import SNR_SCALE, AttentionFeature


@dataclass(frozen=True)
class SplitCodecConfig:
    feature_channels: int
    channels: int = 8
    stride: int = 4
    bits: int = 3  # 0: analog symbols, no quantiser
    width: int = 64

    def __post_init__(self):
        if self.feature_channels < 1 or self.channels < 1 or self.stride < 1 or self.width < 1:
            raise SemcomError(f"invalid split codec config {self}")
        if not 0 <= self.bits <= 8:
            raise SemcomError(f"bits per symbol must be 0 (analog) or 1..8, got {self.bits}")

    def to_dict(self) -> dict:
        return asdict(self)


class DeviceEncoder(nn.Module):
    """[B, C, H, W] split features -> [B, channels, H/stride, W/stride] unquantised symbols."""

    def __init__(self, cfg: SplitCodecConfig):
        super().__init__()
        hidden = max(cfg.channels, cfg.feature_channels)
        self.body = nn.Sequential(
            nn.Conv2d(cfg.feature_channels, hidden, cfg.stride, stride=cfg.stride), GDN(hidden), nn.PReLU(hidden),
            nn.Conv2d(hidden, cfg.channels, 1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.body(features)


class ServerDecoder(nn.Module):
    """[B, channels, h, w] received symbols + SNR -> [B, C, h*stride, w*stride] features."""

    def __init__(self, cfg: SplitCodecConfig):
        super().__init__()
        w = cfg.width
        self.up = nn.Sequential(nn.ConvTranspose2d(cfg.channels, w, cfg.stride, stride=cfg.stride), GDN(w, inverse=True),
                                nn.PReLU(w))
        self.af1 = AttentionFeature(w, side=1)
        self.mid = nn.Sequential(nn.Conv2d(w, w, 3, padding=1), nn.PReLU(w))
        self.af2 = AttentionFeature(w, side=1)
        self.out = nn.Conv2d(w, cfg.feature_channels, 3, padding=1)

    def forward(self, z_hat: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        side = (snr_db.reshape(-1, 1) / SNR_SCALE).expand(z_hat.shape[0], 1)
        h = self.af1(self.up(z_hat), side)
        h = h + self.af2(self.mid(h), side)
        return self.out(h)


class SplitCodec(nn.Module):
    """Encoder, optional quantiser and decoder; the channel sits between ``encode`` and ``decode``."""

    def __init__(self, cfg: SplitCodecConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = DeviceEncoder(cfg)
        self.quantizer = LearnedScalarQuantizer(cfg.bits) if cfg.bits else None
        self.decoder = ServerDecoder(cfg)

    def encode(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Symbols with unit average power per complex symbol (real pairs), and quantiser indices (digital)."""
        z = normalize_power(self.encoder(features))
        if self.quantizer is None:
            return z, None
        return self.quantizer(z)

    def bits_per_example(self, feature_shape: tuple[int, int, int]) -> int:
        """Payload bits per example (digital) or 32-bit floats' worth (analog) for features [C, H, W]."""
        _, h, w = feature_shape
        symbols = self.cfg.channels * (h // self.cfg.stride) * (w // self.cfg.stride)
        return symbols * (self.cfg.bits or 32)
