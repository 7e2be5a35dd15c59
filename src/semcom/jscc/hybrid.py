"""Hybrid image JSCC: a linear (SoftCast) path plus small convolutional paths that learn the non-linear rest.

Encoder: ``u = W_enc (x_blocks - mean) + conv_enc(x)``, ``latent_channels`` real maps at 1/16 resolution
(map ``i`` at a block position is "coefficient ``i``" of that 16x16 block). The linear path ``W_enc`` starts
as SoftCast's power-allocated transform (``init_linear``), the convolutional head starts at zero, so at step 0
the model *is* SoftCast and training only has to improve on it. Each image is normalised to unit average power
per complex use and its scale ``a`` is sent as 16 bits of side information (``forward`` counts them at 1 bit per
channel use, the ideal count training uses; the deployment path, ``JSCCTransmitter``, really sends them as one
LDPC + QAM block on the core's side link, ``semcom.digital.side``, and counts what that block spends).

Decoder: ``u_hat = a * z_hat``; a per-coefficient LMMSE gain computed in closed form from the channel's actual
noise variance per symbol (so the receiver adapts to the SNR, and to fading gains after equalisation, with no
learned SNR input), ``c_hat = kappa_i / (mu_i + a^2 sigma_k^2 / 2) * u_hat``, with ``kappa_i``, ``mu_i``
learnable and initialised to SoftCast's ``g_i lambda_i`` and ``g_i^2 lambda_i``; then
``x_hat = W_dec c_hat + mean + conv_dec(c_hat, noise level)``, the convolutional tail starting at zero.

Rate-adaptive by construction: a CBR sends the first ``c = cbr * 1536`` maps (coefficients in decreasing
variance order); unsent coefficients are estimated as their prior mean, 0.

The convolutional paths are a plain DeepJSCC (3x3 conv + GDN + PReLU) with one of two stems (``stem``):
``unshuffle`` — a 4x4 pixel-unshuffle stem and pixel-shuffle tail, no convolution above 1/4 resolution (cheapest
per step); ``strided`` — four stride-2 convolutions from full resolution and four stride-2 transposed convolutions
(the network of the CPU floors note; about 1.5x the step cost).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from semcom.channels import ComplexChannel, normalize_power
from semcom.errors import SemcomError
from semcom.jscc.gdn import GDN
from semcom.jscc.models import LatentConfig, maps_for_cbr, pad_to_grid, prepare_batch
from semcom.jscc.softcast import SIDE_BITS_SCALE, LinearBasis, dct_basis, noise_per_real

FACTOR = 16
STEMS = ("unshuffle", "strided")


@dataclass(frozen=True)
class HybridConfig(LatentConfig):
    """Everything needed to rebuild a hybrid JSCC; stored in every checkpoint."""

    width: int = 64
    latent_channels: int = 96  # coefficients per 16x16 block at the largest CBR (CBR = c / 1536)
    down_stages: int = 2  # stride-2 stages after the 4x4 stem (2: latent at 1/16)
    blocks: int = 0  # extra residual conv blocks at each resolution of both conv paths
    conv: bool = True  # the convolutional paths (False: a learnable SoftCast)
    linear: bool = True  # the linear path and its LMMSE receiver (False: a plain DeepJSCC, the control)
    stem: str = "unshuffle"  # unshuffle | strided (see the module docstring)
    name: str = "hybrid"

    def __post_init__(self):
        if self.name != "hybrid":
            raise SemcomError(f"a HybridConfig is named 'hybrid', got {self.name!r}")
        if not (self.conv or self.linear):
            raise SemcomError("a hybrid JSCC needs the linear path, the convolutional paths or both")
        if self.stem not in STEMS:
            raise SemcomError(f"unknown hybrid JSCC stem {self.stem!r}; choose one of {', '.join(STEMS)}")
        if self.width < 1 or self.blocks < 0 or not 1 <= self.latent_channels <= 3 * FACTOR * FACTOR or self.down_stages != 2:
            raise SemcomError(f"invalid hybrid JSCC config: width={self.width}, latent_channels={self.latent_channels}, "
                              f"down_stages={self.down_stages}")

    @classmethod
    def from_dict(cls, d: dict) -> "HybridConfig":
        return cls(**d)


def _act(ch: int, inverse: bool) -> nn.Sequential:
    return nn.Sequential(GDN(ch, inverse=inverse), nn.PReLU(ch))


class Residual(nn.Module):
    """x + PReLU((I)GDN(conv3x3(x))): extra depth at one resolution (``HybridConfig.blocks``)."""

    def __init__(self, ch: int, inverse: bool):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), _act(ch, inverse))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def sent_mask(u: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """[B, C, 1, 1]: 1 for the first ``counts`` latent maps of each example (those sent), else 0."""
    return (torch.arange(u.shape[1], device=u.device)[None, :] < counts[:, None]).to(u.dtype)[:, :, None, None]


def power_scale(u: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """[B]: the scale ``a`` of latents ``u`` [B, C, h, w] whose first ``counts`` maps are sent: the RMS per complex
    use that ``through_channel`` normalises by (and sends as float16 side information)."""
    mask = sent_mask(u, counts)
    return (u * mask).pow(2).flatten(1).sum(1).div(mask.expand_as(u).flatten(1).sum(1) / 2).sqrt()


class HybridJSCC(nn.Module):
    """See the module docstring. ``forward(x, snr_db, channel, cbr, generator)`` -> dict with ``x_hat``
    [B, 3, H, W] (clamped to [0, 1] in eval mode), ``z`` (sent symbols, real [B, C, h, w]), ``channel_uses``
    [B] (symbols + side information) and ``cbr`` [B]."""

    def __init__(self, cfg: HybridConfig = HybridConfig()):
        super().__init__()
        self.cfg = cfg
        k, w, dim = cfg.latent_channels, cfg.width, 3 * FACTOR * FACTOR
        self.enc_linear = nn.Parameter(torch.zeros(k, dim))
        self.dec_linear = nn.Parameter(torch.zeros(k, dim))
        self.log_kappa = nn.Parameter(torch.zeros(k))
        self.log_mu = nn.Parameter(torch.zeros(k))
        self.register_buffer("mean", torch.full((dim,), 0.5))
        self.register_buffer("coef_std", torch.ones(k))  # scales c_hat to ~unit variance for the conv decoder
        if cfg.linear:  # a working linear path before init_linear (or a checkpoint) sets SoftCast's: DCT, unit gains
            with torch.no_grad():
                dct = dct_basis().basis[:k]
                self.enc_linear.copy_(dct)
                self.dec_linear.copy_(dct)
        if cfg.conv:
            extra = lambda inverse: [Residual(w, inverse) for _ in range(cfg.blocks)]  # noqa: E731
            if cfg.stem == "unshuffle":
                self.enc_conv = nn.Sequential(
                    nn.PixelUnshuffle(4), nn.Conv2d(48, w, 3, padding=1), _act(w, False), *extra(False),
                    nn.Conv2d(w, w, 3, stride=2, padding=1), _act(w, False), *extra(False),
                    nn.Conv2d(w, w, 3, stride=2, padding=1), _act(w, False), *extra(False),
                    nn.Conv2d(w, k, 3, padding=1),
                )
                self.dec_conv = nn.Sequential(
                    nn.Conv2d(k + 1, w, 3, padding=1), _act(w, True), *extra(True),
                    nn.Conv2d(w, 4 * w, 3, padding=1), nn.PixelShuffle(2), _act(w, True), *extra(True),
                    nn.Conv2d(w, 4 * w, 3, padding=1), nn.PixelShuffle(2), _act(w, True), *extra(True),
                    nn.Conv2d(w, 48, 3, padding=1), nn.PixelShuffle(4),
                )
            else:  # strided: 1 -> 1/2 -> 1/4 -> 1/8 -> 1/16 and back
                self.enc_conv = nn.Sequential(
                    nn.Conv2d(3, w, 3, stride=2, padding=1), _act(w, False), *extra(False),
                    nn.Conv2d(w, w, 3, stride=2, padding=1), _act(w, False), *extra(False),
                    nn.Conv2d(w, w, 3, stride=2, padding=1), _act(w, False), *extra(False),
                    nn.Conv2d(w, k, 3, stride=2, padding=1),
                )
                up = lambda cout: nn.ConvTranspose2d(w, cout, 4, stride=2, padding=1)  # noqa: E731
                self.dec_conv = nn.Sequential(
                    nn.Conv2d(k + 1, w, 3, padding=1), _act(w, True), *extra(True),
                    up(w), _act(w, True), *extra(True),
                    up(w), _act(w, True), *extra(True),
                    up(w), _act(w, True), *extra(True),
                    up(3),
                )
            for module in self.modules():
                if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and module.bias is not None:
                    nn.init.zeros_(module.bias)
            if cfg.linear:
                for path in (self.enc_conv, self.dec_conv):  # start as the linear path alone
                    last = [m for m in path if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))][-1]
                    nn.init.zeros_(last.weight)
        else:
            self.enc_conv = self.dec_conv = None

    # ---- initialisation ---------------------------------------------------------------------------
    @torch.no_grad()
    def init_linear(self, basis: LinearBasis) -> None:
        """Set the linear path to SoftCast with ``basis`` (a pca basis with training variances)."""
        k = self.cfg.latent_channels
        if basis.variances is None or basis.block != FACTOR or basis.components < k:
            raise SemcomError(f"the hybrid JSCC starts from a {FACTOR}x{FACTOR} pca basis with at least {k} "
                              f"components, got a {basis.kind} basis of {basis.components} for {basis.block}x{basis.block}")
        lam = basis.variances[:k]
        gain = lam.pow(-0.25)
        gain = gain / (gain.pow(2) * lam).mean().sqrt()  # unit average power (the scale is normalised away anyway)
        self.enc_linear.copy_(gain[:, None] * basis.basis[:k])
        self.dec_linear.copy_(basis.basis[:k])
        self.log_kappa.copy_((gain * lam).log())
        self.log_mu.copy_((gain.pow(2) * lam).log())
        self.mean.copy_(basis.mean)
        self.coef_std.copy_(lam.sqrt())

    def linear_parameters(self) -> list[nn.Parameter]:
        return [self.enc_linear, self.dec_linear, self.log_kappa, self.log_mu] if self.cfg.linear else []

    def param_groups(self, lr: float, linear_lr_scale: float) -> list[dict]:
        """Adam groups: the linear path at ``lr * linear_lr_scale`` (it starts at a good optimum; at the full
        rate it drifts and the training diverges), everything else at ``lr``."""
        linear = {id(p) for p in self.linear_parameters()}
        rest = [p for p in self.parameters() if id(p) not in linear]
        groups = [{"params": rest, "lr": lr, "lr_scale": 1.0}] if rest else []
        if linear:
            groups.append({"params": self.linear_parameters(), "lr": lr * linear_lr_scale, "lr_scale": linear_lr_scale})
        return groups

    # ---- rate bookkeeping -----------------------------------------------------------------------------
    def channels_for_cbr(self, cbr: float) -> int:
        return maps_for_cbr(cbr, self.cfg.latent_channels)

    def prepare(self, x, snr_db, cbr):
        return prepare_batch(x, snr_db, cbr, self.channels_for_cbr)

    # ---- the two halves -----------------------------------------------------------------------------
    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        """Unnormalised latent u, real [B, C, H/16, W/16], for padded x [B, 3, H, W]."""
        b, _, h, w = x.shape
        if not self.cfg.linear:
            return self.enc_conv(x - 0.5)
        blocks = F.unfold(x, FACTOR, stride=FACTOR).transpose(1, 2) - self.mean  # [B, N, 768]
        u = (blocks @ self.enc_linear.T).transpose(1, 2).reshape(b, -1, h // FACTOR, w // FACTOR)
        return u if self.enc_conv is None else u + self.enc_conv(x - 0.5)

    def decode_latent(self, u_hat: torch.Tensor, noise_u: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Image [B, 3, H, W] (H, W padded sizes) from de-normalised received latents and their noise variance."""
        if not self.cfg.linear:  # plain DeepJSCC: the conv decoder sees the received symbols and the noise level
            rel_noise = noise_u.mean(1, keepdim=True).clamp_min(1e-6).log10()
            return self.dec_conv(torch.cat([u_hat, rel_noise], dim=1)) + 0.5
        c_hat = self.log_kappa.exp()[:, None, None] / (self.log_mu.exp()[:, None, None] + noise_u) * u_hat
        blocks = c_hat.flatten(2).transpose(1, 2) @ self.dec_linear + self.mean  # [B, N, 768]
        x_lin = F.fold(blocks.transpose(1, 2), size, FACTOR, stride=FACTOR)
        if self.dec_conv is None:
            return x_lin
        rel_noise = (noise_u / self.log_mu.exp()[:, None, None]).mean(1, keepdim=True).clamp_min(1e-6).log10()
        return x_lin + self.dec_conv(torch.cat([c_hat / self.coef_std[:, None, None], rel_noise], dim=1))

    pad = staticmethod(pad_to_grid)

    def through_channel(self, u: torch.Tensor, counts: torch.Tensor, snr: torch.Tensor, channel: ComplexChannel,
                        generator: torch.Generator | None = None):
        """Send latents u [B, C, h, w] (the first ``counts`` maps of each example) with unit power and the float16
        scale as side information; returns (sent symbols z, de-normalised received latents, their noise variance,
        channel uses [B] with the side bits)."""
        mask = sent_mask(u, counts)
        z = normalize_power(u, mask)
        scale = power_scale(u, counts)
        scale_rx = scale + (scale.half().float() - scale).detach()  # the receiver sees the float16 it was sent
        z_hat, noise_var = channel.transmit(z, snr, generator)
        s = scale_rx[:, None, None, None]
        uses = counts * z.shape[2] * z.shape[3] // 2 + SIDE_BITS_SCALE
        return z, z_hat * mask * s, noise_per_real(noise_var, z) * s**2, uses

    def forward(self, x, snr_db, channel: ComplexChannel, cbr, generator: torch.Generator | None = None) -> dict:
        snr, counts = self.prepare(x, snr_db, cbr)
        h, w = x.shape[-2:]
        xp = self.pad(x)
        z, u_hat, noise_u, uses = self.through_channel(self.encode_latent(xp), counts, snr, channel, generator)
        x_hat = self.decode_latent(u_hat, noise_u, tuple(xp.shape[-2:]))[..., :h, :w]
        if not self.training:
            x_hat = x_hat.clamp(0, 1)
        return {"x_hat": x_hat, "z": z, "channel_uses": uses, "cbr": uses.float() / (3 * h * w)}

    @torch.no_grad()
    def transmit_batch(self, x, snr_db, channel: ComplexChannel, cbr: float, generator: torch.Generator | None = None) -> dict:
        """The deployment path (eval mode, no gradients): same dict as ``forward``."""
        was = self.training
        self.eval()
        try:
            return self.forward(x, snr_db, channel, cbr, generator)
        finally:
            self.train(was)
