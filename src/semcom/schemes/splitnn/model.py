"""SemanticNN end to end: frozen device head -> feature codec -> channel -> decoder -> frozen server tail.

Digital mode (``bits`` > 0): quantiser indices become Gray-coded bits (MSB first) and cross the core's
``BitChannel`` (Gray-mapped QAM over AWGN or fast Rayleigh, hard decisions), so the bit errors are
those of a real modulation at that SNR. Gradients pass the channel straight through: the decoder
sees the received levels, the encoder gets the gradient of the sent ones.
Analog mode (``bits`` = 0): power-normalised symbols over the core's complex channel.

Deployment is split in two: ``device_payload`` (device: image -> bytes) and ``server_logits``
(server: received bytes -> logits), with the payload length checked at the server.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from semcom.channels import BitChannel, build_channel
from semcom.coding import bits_to_indices, from_gray, indices_to_bits, pack_indices, to_gray, unpack_indices
from semcom.errors import SemcomError
from semcom.schemes.splitnn.codec import SplitCodec, SplitCodecConfig
from semcom.splitting import SplitModel
from semcom.units import check_snr_db


class SemanticNN(nn.Module):
    """``split``: a SplitModel whose head and tail stay frozen; ``codec_cfg``: the feature codec.

    forward(x, snr_db, generator=None) -> dict with ``logits`` [B, classes], ``features`` and
    ``features_hat`` [B, C, H, W] (``classify=False`` skips the tail: logits None), ``quantizer_loss`` (the
    quantiser's level-fitting and commitment term, 0 for analog codecs), ``bits`` (payload bits per example; for analog mode the
    equivalent 32-bit floats) and ``channel_uses`` (complex symbols per example).
    """

    def __init__(self, split: SplitModel, codec_cfg: SplitCodecConfig, modulation: str = "qpsk", medium: str = "awgn"):
        super().__init__()
        self.split = split
        for p in self.split.parameters():
            p.requires_grad_(False)
        if len(split.feature_shape()) != 3 or split.feature_shape()[0] != codec_cfg.feature_channels:
            raise SemcomError(f"codec expects {codec_cfg.feature_channels} feature channels, the split at "
                              f"'{split.split_at}' gives features of shape {list(split.feature_shape())}")
        self.codec = SplitCodec(codec_cfg)
        self.feature_shape = tuple(split.feature_shape())
        self.modulation, self.medium = modulation, medium
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

    @property
    def bits(self) -> int:
        """Payload bits per example (analog: the 32-bit floats it would take to send the symbols)."""
        return self.codec.bits_per_example(self.feature_shape)

    @property
    def channel_uses(self) -> int:
        """Complex channel uses per example."""
        symbols = self.bits // (self.codec.cfg.bits or 32)
        if self.codec.cfg.bits:
            return math.ceil(self.bits / self.bit_channel.bits_per_symbol)
        return math.ceil(symbols / 2)

    def transmit(self, z: torch.Tensor, idx: torch.Tensor | None, snr_db: torch.Tensor, generator=None):
        """Channel step: returns (received symbols with straight-through gradient, complex channel uses)."""
        if idx is None:
            return self.channel(z, snr_db, generator), z[0].numel() // 2
        bits = indices_to_bits(to_gray(idx.reshape(idx.shape[0], -1)), self.codec.cfg.bits)
        rx_bits = self.bit_channel(bits, snr_db, generator)
        rx_idx = from_gray(bits_to_indices(rx_bits, self.codec.cfg.bits)).reshape(idx.shape)
        received = self.codec.quantizer.dequantize(rx_idx)
        return z + (received - z).detach(), self.bit_channel.uses(bits)

    def forward(self, x: torch.Tensor, snr_db, generator: torch.Generator | None = None, classify: bool = True) -> dict:
        snr = check_snr_db(snr_db, x.shape[0]).to(x.device).expand(x.shape[0])
        with torch.no_grad():
            features = self.split.head(x)
        symbols = self.codec.symbols(features, snr)
        if self.codec.quantizer is None:
            z, idx, fit = symbols, None, symbols.new_zeros(())
        else:
            (z, idx), fit = self.codec.quantizer(symbols), self.codec.quantizer.fit_loss(symbols)
        z_hat, uses = self.transmit(z, idx, snr, generator)
        features_hat = self.codec.decode(z_hat, snr)
        logits = self.split.tail(features_hat) if classify else None
        return {"logits": logits, "features": features, "features_hat": features_hat, "quantizer_loss": fit,
                "bits": self.bits, "channel_uses": uses}

    # --- deployment: device and server as separate calls -------------------------------------------------
    def _require_digital(self) -> None:
        if not self.codec.cfg.bits:
            raise SemcomError("payloads exist only for a digital codec (bits > 0); this one is analog")

    @torch.no_grad()
    def device_payload(self, x: torch.Tensor, snr_db=None) -> list[bytes]:
        """Device side: images [B, 3, H, W] in [0, 1] -> one bit-packed payload per image.

        ``snr_db`` is needed only by an SNR-adaptive encoder.
        """
        self._require_digital()
        snr = None if snr_db is None else check_snr_db(snr_db, x.shape[0]).expand(x.shape[0])
        _, idx = self.codec.encode(self.split.head(x), snr)
        return [pack_indices(to_gray(row), self.codec.cfg.bits) for row in idx]

    @torch.no_grad()
    def server_logits(self, payloads: list[bytes], snr_db) -> torch.Tensor:
        """Server side: received payloads -> logits [B, classes]; SemcomError on a payload of the wrong length."""
        self._require_digital()
        if not payloads:
            raise SemcomError("no payloads to classify")
        shape = (self.codec.cfg.channels, self.feature_shape[1] // self.codec.cfg.stride,
                 self.feature_shape[2] // self.codec.cfg.stride)
        count = shape[0] * shape[1] * shape[2]
        rows = []
        for i, data in enumerate(payloads):
            if not isinstance(data, (bytes, bytearray)):
                raise SemcomError(f"payload {i} must be bytes, got {type(data).__name__}")
            try:
                rows.append(from_gray(unpack_indices(bytes(data), self.codec.cfg.bits, count)))
            except SemcomError as exc:
                raise SemcomError(f"payload {i}: {exc}") from None
        idx = torch.stack(rows).reshape(len(rows), *shape)
        snr = check_snr_db(snr_db, len(rows)).expand(len(rows))
        return self.split.tail(self.codec.decode(self.codec.quantizer.dequantize(idx), snr))
