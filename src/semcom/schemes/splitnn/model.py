"""SemanticNN end to end: frozen device head -> feature codec -> channel -> decoder -> frozen server tail.

Digital mode (``bits`` > 0): quantiser indices become bits (MSB first) and cross the core's
``BitChannel`` (Gray-mapped QAM over AWGN or fast Rayleigh, hard decisions), so the bit errors are
those of a real modulation at that SNR. Gradients pass the channel straight through: the decoder
sees the received levels, the encoder gets the gradient of the sent ones.
Analog mode (``bits`` = 0): power-normalised symbols over the core's complex channel.
"""

from __future__ import annotations

import torch
from torch import nn

from semcom.channels import BitChannel, build_channel
from semcom.coding import bits_to_indices, indices_to_bits
from semcom.schemes.splitnn.codec import SplitCodec, SplitCodecConfig
from semcom.splitting import SplitModel
from semcom.units import check_snr_db


class SemanticNN(nn.Module):
    """``split``: a SplitModel whose head and tail stay frozen; ``codec_cfg``: the feature codec.

    forward(x, snr_db, generator=None) -> dict with ``logits`` [B, classes], ``features`` and
    ``features_hat`` [B, C, H, W], ``bits`` (payload bits per example; for analog mode the
    equivalent 32-bit floats) and ``channel_uses`` (complex symbols per example).
    """

    def __init__(self, split: SplitModel, codec_cfg: SplitCodecConfig, modulation: str = "qpsk", medium: str = "awgn"):
        super().__init__()
        self.split = split
        for p in self.split.parameters():
            p.requires_grad_(False)
        self.codec = SplitCodec(codec_cfg)
        self.feature_shape = tuple(split.feature_shape())
        if codec_cfg.bits:
            self.bit_channel = BitChannel(modulation, medium)
            self.channel = None
        else:
            self.bit_channel = None
            self.channel = build_channel(medium)

    def train(self, mode: bool = True):
        super().train(mode)
        self.split.eval()  # frozen classifier: batch-norm statistics never move
        return self

    def transmit(self, z: torch.Tensor, idx: torch.Tensor | None, snr_db: torch.Tensor, generator=None):
        """Channel step: returns (received symbols with straight-through gradient, complex channel uses)."""
        if idx is None:
            return self.channel(z, snr_db, generator), z[0].numel() // 2
        bits = indices_to_bits(idx.reshape(idx.shape[0], -1), self.codec.cfg.bits)
        rx_bits = self.bit_channel(bits, snr_db, generator)
        rx_idx = bits_to_indices(rx_bits, self.codec.cfg.bits).reshape(idx.shape)
        received = self.codec.quantizer.dequantize(rx_idx)
        return z + (received - z).detach(), self.bit_channel.uses(bits)

    def forward(self, x: torch.Tensor, snr_db, generator: torch.Generator | None = None) -> dict:
        snr = check_snr_db(snr_db, x.shape[0]).to(x.device).expand(x.shape[0])
        with torch.no_grad():
            features = self.split.head(x)
        z, idx = self.codec.encode(features)
        z_hat, uses = self.transmit(z, idx, snr, generator)
        features_hat = self.codec.decoder(z_hat, snr)
        return {"logits": self.split.tail(features_hat), "features": features, "features_hat": features_hat,
                "bits": self.codec.bits_per_example(self.feature_shape), "channel_uses": uses}
