"""Analog transmission of the selected patches: a small learned, SNR-adaptive JSCC per patch.

Each p x p x 3 patch (values in [0, 1]) is mapped by an MLP, given the SNR, to ``symbols`` real values
(``symbols / 2`` complex channel uses); an image's symbols are power-normalised together (unit average
power per complex symbol), cross the core's channel, and a mirror MLP rebuilds the patch. The kept
patch indices travel as a mask (``semcom.coding.masks.encode_mask``: bitmap or run lengths, at most 9 bytes for 64
patches) over a core side link (``semcom.digital.side``): by default one 5G LDPC + QAM block at the cheapest MCS
predicted to decode with probability >= 0.99 (at least one 1920-bit codeword, 960 channel uses at QPSK 1/4), and when
that block is lost the server cannot place the patches, so the request is lost (the client's answer stands). The
labelled option ``side_link="ideal"`` counts the mask at 1 bit per channel use and always delivers it (before issue 20
that was the only count: exactly AWGN capacity at 0 dB, error-free, which no real code achieves).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from semcom.channels import build_channel, normalize_power
from semcom.coding.masks import decode_mask, encode_mask
from semcom.digital.side import build_side_link
from semcom.errors import SemcomError
from semcom.jscc.models import SNR_SCALE
from semcom.seeding import make_generator, seed_everything
from semcom.training.checkpoint import atomic_save, read_checkpoint, shipped_file
from semcom.units import check_snr_db
from semcom.vit.grid import patchify, unpatchify


@dataclass(frozen=True)
class PatchJSCCConfig:
    patch: int = 4
    symbols: int = 12  # real values per patch: 6 complex channel uses for 48 pixel values (CBR 1/8)
    hidden: int = 128

    def __post_init__(self):
        if min(self.patch, self.symbols, self.hidden) < 1 or self.symbols % 2:
            raise SemcomError(f"invalid PatchJSCC config {self}: positive sizes and an even number of symbols")


class PatchJSCC(nn.Module):
    def __init__(self, cfg: PatchJSCCConfig = PatchJSCCConfig()):
        super().__init__()
        self.cfg = cfg
        d = 3 * cfg.patch * cfg.patch
        self.encoder = nn.Sequential(nn.Linear(d + 1, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, cfg.symbols))
        self.decoder = nn.Sequential(nn.Linear(cfg.symbols + 1, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, cfg.hidden),
                                     nn.GELU(), nn.Linear(cfg.hidden, d))

    def forward(self, patches: torch.Tensor, snr_db: torch.Tensor, channel, generator=None) -> torch.Tensor:
        """patches [B, k, 3, p, p] in [0, 1] (one image per row, k patches each), SNR [B] -> received patches."""
        b, k = patches.shape[:2]
        side = (snr_db.reshape(b, 1, 1) / SNR_SCALE).expand(b, k, 1)
        z = self.encoder(torch.cat([patches.reshape(b, k, -1) * 2 - 1, side], dim=-1))  # [B, k, symbols]
        z_hat = channel(normalize_power(z), snr_db, generator)
        out = self.decoder(torch.cat([z_hat, side], dim=-1))
        return torch.sigmoid(out).reshape(patches.shape)

    def channel_uses(self, kept: int) -> int:
        """Complex channel uses of the analog symbols of one image with ``kept`` patches: symbols/2 per patch (the
        index mask is the side link's, see ``AnalogPatchLink``)."""
        return kept * self.cfg.symbols // 2


def train_patch_jscc(images: torch.Tensor, out: str | Path, steps: int = 3000, batch: int = 64, lr: float = 2e-3,
                     snr_range=(-2.0, 15.0), channel: str = "awgn", cfg: PatchJSCCConfig = PatchJSCCConfig(),
                     seed: int = 0, log=print) -> Path:
    """Train on all patches of random CIFAR images (uint8 [N, 3, 32, 32]), MSE, random SNR per image."""
    seed_everything(seed)
    model, ch, gen = PatchJSCC(cfg), build_channel(channel), make_generator(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    lo, hi = snr_range
    for step in range(1, steps + 1):
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        idx = torch.randint(len(images), (batch,), generator=gen)
        p = patchify(images[idx].float() / 255, cfg.patch)
        snr = lo + (hi - lo) * torch.rand(batch, generator=gen)
        loss = F.mse_loss(model(p, snr, ch, gen), p)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == steps:
            log(json.dumps({"step": step, "loss": loss.item(), "psnr": -10 * math.log10(max(loss.item(), 1e-10))}))
    path = Path(out)
    atomic_save({"model_config": asdict(cfg), "state_dict": model.state_dict(), "steps": steps, "snr_range": list(snr_range),
                 "channel": channel}, path)
    return path


def shipped_patch_jscc() -> Path:
    return shipped_file("attention_ci/patch-jscc.pt", "patch JSCC",
                        "train one with 'semcom train patch-jscc' and pass --patch-jscc")


def load_patch_jscc(path: str | Path) -> PatchJSCC:
    ckpt = read_checkpoint(path)
    try:
        model = PatchJSCC(PatchJSCCConfig(**ckpt["model_config"]))
        model.load_state_dict(ckpt["state_dict"])
    except (TypeError, RuntimeError, KeyError) as exc:
        raise SemcomError(f"{path} is not a PatchJSCC checkpoint: {str(exc).splitlines()[0]}") from None
    return model.eval()


class AnalogPatchLink:
    """The analog counterpart of ``collab.RequestLink``: kept patches through ``PatchJSCC`` over ``channel``, their
    index mask over ``side_link`` ("ldpc", the default: a real 5G LDPC + QAM block, really decoded when
    ``side_decode``, else its outcome drawn from the BLER table; or "ideal": 1 bit per channel use, always delivered).
    Channel uses per request: the patches' symbols plus what the side link spends."""

    decode = True  # the server classifies what it received

    def __init__(self, model: PatchJSCC, channel: str = "awgn", snr_db: float = 10.0, side_link: str = "ldpc",
                 side_decode: bool = False):
        self.model, self.channel = model.eval(), build_channel(channel)
        self.snr = float(check_snr_db(torch.tensor(float(snr_db))).item())
        self.side_link = build_side_link(side_link, channel, side_decode)
        self.link = "analog" if side_link == "ldpc" else f"analog-{side_link}-side"

    @torch.no_grad()
    def send(self, images: torch.Tensor, masks: torch.Tensor, which: torch.Tensor, patch: int, server=None,
             generator: torch.Generator | None = None):
        from semcom.schemes.attention_ci.collab import LinkResult, to_uint8

        if patch != self.model.cfg.patch:
            raise SemcomError(f"the patch JSCC was trained for {self.model.cfg.patch}-pixel patches, not {patch}")
        images = to_uint8(images)
        n, num = masks.shape
        uses = torch.zeros(n, dtype=torch.int64)
        received = {}
        delivered = torch.zeros(n, dtype=torch.bool)
        for i in which.nonzero().flatten().tolist():
            side = self.side_link.send(encode_mask(masks[i]), self.channel, self.snr, generator)
            keep = masks[i].nonzero().flatten()
            patches = patchify(images[i:i + 1].float() / 255, patch)[:, keep]
            rx = self.model(patches, torch.tensor([self.snr]), self.channel, generator)
            uses[i] = self.model.channel_uses(len(keep)) + side.channel_uses
            delivered[i] = side.ok
            if not side.ok:
                continue  # without the mask the server cannot place the patches: the client's answer stands
            keep = decode_mask(side.received, (num,)).nonzero().flatten()
            full = torch.zeros(1, num, *patches.shape[2:])
            full[:, keep] = rx
            if server is not None:
                x = unpatchify(full, server.grid)
                received[i] = server.logits_on_patches(x, keep[None])[0]
        # no request bits: the patches travel as analog symbols, the mask's cost is in ``uses`` (side link)
        return LinkResult(torch.zeros(n, dtype=torch.int64), uses, delivered), received
