"""The losses of LAM-SC's trained parts on semantic images (see ``pool.semantic_batch``): the ASC mask over a frozen
JSCC (``asc_loss``) and the receiver, a JSCC copy fine-tuned on what LAM-SC really delivers (``receiver_loss``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semcom.channels import normalize_power
from semcom.jscc import FACTOR
from semcom.schemes.lamsc.asc import ASC
from semcom.schemes.lamsc.scheme import background_latent, block_mask, coverage, kept_gain_and_scale


def asc_loss(jscc, asc: ASC, channel, x: torch.Tensor, region: torch.Tensor, snr: torch.Tensor, cbr: float,
             rate_weight: float, generator=None) -> tuple[torch.Tensor, dict]:
    """One ASC training loss on semantic images ``x`` [B, 3, H, W] (H, W multiples of 16) with their regions
    (bool [B, H, W]) through a frozen JSCC. The objective is ``distortion + rate_weight * rate`` (distortion:
    MSE of the receiver's image; rate: the fraction of latent positions sent).

    Per-position masks (``group`` None): the frozen JSCC sends the whole latent once (no gradient), giving
    each 16x16 block's MSE when kept, ``keep_cost``; a dropped block is painted black by the receiver, so its
    MSE is its own energy, ``drop_cost``. Under this block-local model (a dropped block does not change how
    its neighbours decode; the evaluation measures the real effect) the objective is minimised block by
    block: keep a position exactly when ``drop_cost - keep_cost > rate_weight``. The mask learns to predict
    that decision from what the transmitter has (the latent and the coverage maps) by binary cross-entropy;
    the returned loss is that cross-entropy, and the record holds the objective of the mask's hard decisions
    (``objective``, ``mse``, ``rate``). Why not the straight-through gradient through the decoder: measured on
    this pool, on empty blocks its sign said "keep" (scaling an empty block's latent towards zero first makes
    the decoder paint it grey) and the mask never learnt to drop the background; a straight-through gradient
    of the block-local objective instead let the far larger "keep" gradients of content blocks saturate
    every probability at 1.
    Channel-group masks (``group`` set): the straight-through gradient through the decoder.
    """
    c = jscc.channels_for_cbr(cbr)
    counts = torch.full((x.shape[0],), c)
    side = jscc.side_info(snr, counts)
    with torch.no_grad():
        latent = jscc.encoder(x, side)[:, :c]
    out = asc(latent, coverage(region, latent.shape[2:]) if asc.masknet.side_channels else None)
    rest = torch.zeros(x.shape[0], jscc.cfg.latent_channels - c, *latent.shape[2:])
    rate = out["rate"].mean()
    if asc.masknet.group == c:
        with torch.no_grad():
            z_hat = channel(normalize_power(latent), snr, generator)
            x_hat = jscc.decoder(torch.cat([z_hat, rest], dim=1), side)
            keep_cost = F.avg_pool2d((x_hat - x).pow(2).mean(dim=1, keepdim=True), FACTOR)
            drop_cost = F.avg_pool2d(x.pow(2).mean(dim=1, keepdim=True), FACTOR)
            target = (drop_cost - keep_cost > rate_weight).float()
            hard = out["mask"][:, :1].detach()
            mse = (hard * keep_cost + (1 - hard) * drop_cost).mean()
        loss = F.binary_cross_entropy(out["keep_prob"].clamp(1e-6, 1 - 1e-6), target)
        record = {"mse": mse.item(), "rate": hard.mean().item(), "objective": (mse + rate_weight * hard.mean()).item(),
                  "target_keep": target.mean().item()}
    else:
        z = normalize_power(out["latent"], out["mask"])
        z_hat = channel(z, snr, generator) * out["mask"]
        x_hat = jscc.decoder(torch.cat([z_hat, rest], dim=1), side)
        sent = out["mask"].amax(dim=1, keepdim=True)  # [B, 1, h, w], straight-through
        mse = F.mse_loss(x_hat * F.interpolate(sent, scale_factor=FACTOR, mode="nearest"), x)
        loss = mse + rate_weight * rate
        record = {"mse": mse.item(), "rate": rate.item(), "objective": loss.item()}
    return loss, {**record, "kept": out["mask"].mean().item()}


def receiver_loss(receiver, asc: ASC | None, channel, x: torch.Tensor, region: torch.Tensor, snr: torch.Tensor,
                  cbr: float, generator=None) -> tuple[torch.Tensor, dict]:
    """MSE of ``receiver`` (a copy of the JSCC whose decoder, and possibly encoder, learns) on semantic images ``x``
    [B, 3, H, W] with regions (bool [B, H, W]) sent as ``LamSC.send`` sends them with ``asc``: the receiver copy's
    latent, the kept elements of its power-normalised version at unit power per channel use, the background latent
    (scaled like the latent) at the dropped positions. The loss is taken over the blocks with a kept element (the
    receiver paints the others black); gradients reach the encoder when its parameters require them.
    Deployment sends the kept values back to back; here the channel sees the whole (masked) latent and only the
    kept positions' outputs are used: the same noise distribution for AWGN and (per value) fast Rayleigh.
    The float16 rounding of the two scale factors is left out. ``asc`` None: the whole latent is sent (the control
    run: plain JSCC fine-tuning)."""
    c = receiver.channels_for_cbr(cbr)
    side = receiver.side_info(snr, torch.full((x.shape[0],), c))
    latent = receiver.encoder(x, side)[:, :c]
    with torch.no_grad():
        if asc is None:
            keep = torch.ones_like(latent, dtype=torch.bool)
        else:
            _, keep, _ = asc.apply(latent.detach(), coverage(region, latent.shape[2:]) if asc.masknet.side_channels else None)
        background = background_latent(receiver, snr, cbr)[:, :, None, None]
        rest = torch.zeros(x.shape[0], receiver.cfg.latent_channels - c, *latent.shape[2:])
        paint = torch.stack([block_mask(k[None], tuple(x.shape[2:])) for k in keep])[:, None]
    normalised = normalize_power(latent)
    kept = keep.float()
    gain, scale = kept_gain_and_scale(latent, normalised, keep)
    gain = gain[:, None, None, None]
    received = channel(normalised * gain * kept, snr, generator) / gain
    latent_hat = torch.where(keep, received, (scale[:, None, None, None] * background).expand_as(latent))
    x_hat = receiver.decoder(torch.cat([latent_hat, rest], dim=1), side)
    area = paint.sum().clamp_min(1) * x.shape[1]
    loss = ((x_hat - x).pow(2) * paint).sum() / area
    return loss, {"mse": loss.item(), "kept": kept.mean().item()}
