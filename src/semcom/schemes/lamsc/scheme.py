"""The LAM-SC transmit path: segment -> score (ASI) -> integrate -> JSCC latent -> mask (ASC) -> channel -> decode.

``LamSC.transmit(image, snr_db, generator)`` sends one image and returns a ``LamSCResult``:

1. The segmenter (knowledge base) splits the image; the k largest segments are kept.
2. ASI: the scorer gives one importance score per segment; those above the threshold form the
   semantic image (everything else black). Without a scorer (ablation "no ASI") all k segments are sent.
3. The core's learned JSCC encodes the semantic image to its latent at the configured CBR.
4. ASC (optional): the learned mask drops latent positions; only the kept real values are sent (paired
   into complex symbols, unit power over the sent elements), and the mask itself, with two scale factors, is sent as
   a digital side payload over the side link (by default really on 5G LDPC + QAM, ``semcom.digital.side``; its
   channel uses are what that link spends). Without ASC (ablation) the whole latent is sent,
   exactly like whole-image JSCC at that CBR.
5. The receiver puts the received values back at the mask's positions and the background latent (what a
   black block encodes to) at the dropped ones, decodes with the JSCC decoder, and paints the dropped
   blocks black (the semantic image's background): the mask is known to the receiver (see ``send``).
   With a ``receiver`` (a copy of the JSCC whose decoder, and possibly encoder, was fine-tuned on such masked
   latents, see ``semcom.schemes.lamsc.train.train_receiver``) that copy codes masked transmissions at both ends.

When the segmenter finds nothing usable (``fallback_reason``), the whole image is sent by the plain
JSCC at the same CBR and the result says so (``fallback``).

Quality is reported on the selected regions (``region``: PSNR over the region's pixels, MS-SSIM of the
images with everything outside the region set to 0) and on the whole image.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from semcom.channels import ComplexChannel, normalize_power
from semcom.data.images import check_image
from semcom.digital.side import IdealSideLink, SideLink, digital_channel_name
from semcom.errors import SemcomError
from semcom.jscc import FACTOR, JSCC
from semcom.metrics import ms_ssim, psnr_db
from semcom.schemes.lamsc.asc import ASC
from semcom.schemes.lamsc.scorer import DEFAULT_K, THRESHOLD, ASIScorer, integrate
from semcom.schemes.lamsc.side import SCALES, parse_side_payload, side_payload
from semcom.segmentation.segmenter import Segmenter, Segments, SlicSegmenter, check_k, fallback_reason
from semcom.types import Transmission
from semcom.units import check_snr_db

SCALE_BITS = 8 * SCALES.size  # the two float16 scale factors of an ASC transmission, sent in the side payload

BLOCKS = "blocks"
"""``asc=BLOCKS``: LAM-SC's mask on the hybrid JSCC (``semcom.jscc.hybrid``), rule-based: keep every latent position
whose 16x16 image block the selected region touches, drop the rest (what the learned ASC mostly does on the ADJSCC,
with no training). The learned ASC and receiver were trained on the ADJSCC's latents and do not apply to it."""


@dataclass(kw_only=True)
class LamSCResult(Transmission):
    """One LAM-SC transmission (a ``Transmission``: ``ok`` is False when the side payload was lost).

    ``x_hat`` [3, H, W]: what the receiver reconstructs (the received semantic image). ``semantic``: the
    semantic image that was sent (block-aligned unless the scheme says otherwise). ``region`` bool [H, W]: the selected segments' pixels (all pixels on a
    fallback). ``segments``/``scores``/``selected``: the knowledge base's output and ASI's decisions
    (scores is None without a scorer). ``channel_uses``: total complex channel uses (data + side);
    ``data_uses``/``side_uses`` its parts. ``fallback``: why the whole image was sent, else None.
    ``seconds``: time per stage (segment, score, encode, channel, decode). ``side_lost``: the side payload did not
    decode (the real side link, ``semcom.digital.side.SideLink``), so the receiver could not place the received
    values and ``x_hat`` is black.
    """

    semantic: torch.Tensor
    region: torch.Tensor
    segments: Segments
    scores: torch.Tensor | None
    selected: torch.Tensor
    data_uses: int
    side_uses: int
    fallback: str | None = None
    seconds: dict = field(default_factory=dict)
    side_lost: bool = False

    def __post_init__(self):
        super().__post_init__()
        self.ok = not self.side_lost

    def row(self, image: torch.Tensor) -> dict:
        """What was sent and how it arrived, as a flat JSON-ready dict: channel uses (total, data, side), segments
        found and sent, the fallback reason ("" when none), whether the side payload was lost and ``metrics(image)``."""
        return {"channel_uses": self.channel_uses, "data_uses": self.data_uses, "side_uses": self.side_uses,
                "segments": len(self.segments), "sent_segments": int(self.selected.sum()),
                "fallback": self.fallback or "", "side_lost": self.side_lost, **self.metrics(image)}

    def metrics(self, image: torch.Tensor) -> dict:
        """Region and whole-image quality against the original ``image`` [3, H, W]."""
        return {**region_metrics(image, self.x_hat, self.region),
                "psnr_db": psnr_db(image, self.x_hat).item(), "ms_ssim": ms_ssim(image, self.x_hat).item(),
                "semantic_psnr_db": psnr_db(self.semantic, self.x_hat).item()}


def region_metrics(x: torch.Tensor, x_hat: torch.Tensor, region: torch.Tensor) -> dict:
    """``region_psnr_db``: PSNR over the region's pixels; ``region_ms_ssim``: MS-SSIM of both images with
    the outside set to 0; ``region_fraction``: the region's share of the image."""
    x, x_hat = x.float(), x_hat.float().clamp(0, 1)
    inside = region[None].to(x.dtype)
    return {"region_psnr_db": psnr_db(x, x_hat, mask=region).item(),
            "region_ms_ssim": ms_ssim(x * inside, x_hat * inside).item(),
            "region_fraction": region.float().mean().item()}


class LamSC:
    """LAM-SC over the core's JSCC and channels.

    ``jscc``: a trained ``JSCC``; ``channel``: a complex-symbol channel (``semcom.channels``); ``cbr``: the
    JSCC rate (latent maps sent before ASC); ``segmenter``: default ``SlicSegmenter()``; ``scorer``: an
    ``ASIScorer`` or None (send all k segments); ``asc``: an ``ASC`` over ``jscc.channels_for_cbr(cbr)``
    latent maps, or None (send the whole latent); ``k``: segments kept; ``threshold``: ASI threshold.
    ``side_link``: how the ASC side payload travels (``semcom.digital.side``): by default a ``SideLink`` that really
    sends it on 5G LDPC + QAM over ``channel`` (AWGN or fast Rayleigh; a lost block loses the image), or
    ``IdealSideLink()`` (the labelled option: 1 bit per channel use, always delivered).
    ``block_aligned`` (default): the image sent keeps the original pixels of every 16x16 block (one latent
    position) that the selected segments touch and is black elsewhere; else it is the seed's pixel-exact
    union of the segments. Why: the JSCC has to spend bandwidth on the artificial edges a pixel-exact cut
    draws through a block, while a block-level selection is what ASC can drop anyway (measured on kodim01,
    7 dB: region PSNR 22.59 dB pixel-exact vs whole-image JSCC 22.80 dB at the same channel uses).

    An image ``semcom.types.Scheme``: ``transmit`` returns a ``LamSCResult`` (a ``Transmission``).
    """

    name = "lamsc"
    task = "image"

    def __init__(self, jscc: JSCC, channel: ComplexChannel, cbr: float = 1 / 16, segmenter: Segmenter | None = None,
                 scorer: ASIScorer | None = None, asc: ASC | None = None, k: int = DEFAULT_K,
                 threshold: float = THRESHOLD, block_aligned: bool = True, receiver: JSCC | None = None,
                 side_link: SideLink | IdealSideLink | None = None):
        check_k(k)
        self.hybrid = hasattr(jscc, "encode_latent")  # the hybrid JSCC: its own transmit path, ``send_hybrid``
        if self.hybrid and (receiver is not None or (asc is not None and asc != BLOCKS)):
            raise SemcomError("LAM-SC on the hybrid JSCC masks with the block rule (asc='blocks') and decodes with the "
                              "hybrid itself: the learned ASC and receiver were trained on the ADJSCC's latents")
        if not self.hybrid and isinstance(asc, str):
            raise SemcomError(f"asc={asc!r} is LAM-SC's mask on the hybrid JSCC; on the ADJSCC give a learned ASC or "
                              "None")
        if receiver is not None and (asc is None or receiver.cfg != jscc.cfg):
            raise SemcomError("a LAM-SC receiver decodes ASC-masked latents of the same JSCC: it needs an ASC mask "
                              "and a JSCC of the receiver's architecture")
        self.receiver = receiver.eval() if receiver is not None else jscc.eval()
        self.jscc, self.channel, self.cbr = jscc.eval(), channel, cbr
        self.channels = jscc.channels_for_cbr(cbr)
        self.segmenter = segmenter or SlicSegmenter()
        if scorer is not None and scorer.k != k:
            raise SemcomError(f"the scorer was built for k={scorer.k} segments, not k={k}")
        if asc is not None and not isinstance(asc, str) and asc.masknet.channels != self.channels:
            raise SemcomError(f"the ASC mask covers {asc.masknet.channels} latent maps but CBR {cbr:g} sends "
                              f"{self.channels}: use the CBR the ASC was trained for")
        if not 0 <= threshold <= 1:
            raise SemcomError(f"the ASI threshold must lie in [0, 1], got {threshold!r}")
        self.scorer = scorer.eval() if scorer is not None else None
        self.asc = asc.eval() if asc is not None and not isinstance(asc, str) else asc
        self.k, self.threshold, self.block_aligned = k, threshold, block_aligned
        self.side_link = side_link if side_link is not None else SideLink(digital_channel_name(channel))
        self._background: dict[float, torch.Tensor] = {}

    def describe(self) -> dict:
        return {"scheme": self.name, "cbr": self.cbr, "channel": type(self.channel).__name__,
                "segmenter": type(self.segmenter).__name__, "scorer": self.scorer is not None,
                "asc": self.asc if isinstance(self.asc, str) else self.asc is not None,
                "jscc": "hybrid" if self.hybrid else "adjscc", "receiver": self.receiver is not self.jscc, "k": self.k,
                "threshold": self.threshold, "block_aligned": self.block_aligned,
                "side_link": self.side_link.kind}

    def whole_image_uses(self, height: int, width: int) -> int:
        """Channel uses of whole-image JSCC at this CBR for a ``height`` x ``width`` image (the ablation baseline)."""
        return self.channels * math.ceil(height / FACTOR) * math.ceil(width / FACTOR) // 2

    @torch.no_grad()
    def transmit(self, image: torch.Tensor, snr_db: float, generator: torch.Generator | None = None,
                 segments: Segments | None = None) -> LamSCResult:
        """Send ``image`` [3, H, W] in [0, 1] at ``snr_db``. ``segments``: the knowledge base's output for this
        image when already known (e.g. one segmentation reused over an SNR sweep); else the segmenter runs."""
        check_image(image)
        check_snr_db(torch.tensor([float(snr_db)]))
        image = image.float()
        h, w = image.shape[1:]
        if min(h, w) < FACTOR:
            raise SemcomError(f"LAM-SC needs images of at least {FACTOR}x{FACTOR} px, got {h}x{w}")
        seconds = {}
        t0 = time.perf_counter()
        if segments is None:
            segments = self.segmenter.segments(image)
        elif not isinstance(segments, Segments) or segments.size != (h, w):
            raise SemcomError(f"the given segments do not belong to this {h}x{w} image")
        segments = segments.keep_largest(self.k)
        seconds["segment"] = time.perf_counter() - t0
        reason = fallback_reason(segments, self.k)
        scores = None
        if reason is None:
            t0 = time.perf_counter()
            if self.scorer is not None:
                scores = self.scorer.score(image, segments)
                _, selected = integrate(image, segments, scores, self.threshold)
            else:
                selected = torch.zeros(self.k, dtype=torch.bool)
                selected[: len(segments)] = True
            region = segments.union(selected)
            semantic = block_aligned(image, region) if self.block_aligned else image * region[None]
            seconds["score"] = time.perf_counter() - t0
            asc = self.asc
        else:
            semantic, selected, region, asc = image, torch.zeros(self.k, dtype=torch.bool), torch.ones(h, w, dtype=torch.bool), None
            seconds["score"] = 0.0
        if self.hybrid:
            x_hat, data_uses, side_uses, times, side_lost = self.send_hybrid(semantic, region, snr_db, generator,
                                                                             masked=asc is not None)
        else:
            x_hat, data_uses, side_uses, times, side_lost = self.send(semantic, region, snr_db, generator, asc)
        seconds.update(times)
        return LamSCResult(x_hat=x_hat, semantic=semantic, region=region, segments=segments, scores=scores,
                           selected=selected, channel_uses=data_uses + side_uses, data_uses=data_uses,
                           side_uses=side_uses, fallback=reason, seconds=seconds, side_lost=side_lost)

    def send(self, semantic: torch.Tensor, region: torch.Tensor, snr_db: float, generator, asc: ASC | None):
        """JSCC (+ ASC) of the semantic image over the channel; (x_hat, data uses, side uses, seconds, side lost).
        ``region`` bool [H, W]: the selected pixels (the ASC mask may see their coverage of each block).

        With ASC the decoder must still see the latent it was trained on: the whole latent normalised to unit
        power (scale ``s``), with the dropped positions holding what a black block encodes to. So the kept
        elements of that latent are sent rescaled by ``g`` to unit power per channel use; the receiver divides
        by ``g`` and fills the dropped positions with ``s`` times the background latent (the encoder's output
        inside a black image, which both ends compute from the shared model). ``g`` and ``s`` travel as two
        float16 numbers in the side payload (``SCALE_BITS``), and the receiver uses their float16 values.
        """
        times = {}
        size = tuple(semantic.shape[1:])
        t0 = time.perf_counter()
        coder = self.jscc if asc is None else self.receiver  # the receiver copy codes masked transmissions
        latent = coder.latent(semantic[None], snr_db, self.cbr)  # [1, c, hp, wp]
        normalised = normalize_power(latent)  # what the decoder expects
        if asc is None:
            keep = torch.ones_like(latent, dtype=torch.bool)
            side_uses, gain, scale = 0, 1.0, 1.0
        else:
            side = coverage(region[None], latent.shape[2:]) if asc.masknet.side_channels else None
            _, keep, _ = asc.apply(latent, side)
            side_uses = 0  # counted below, from what the side link really sends
            gain, scale = (float(v[0].half()) for v in kept_gain_and_scale(latent, normalised, keep))
        values = normalised[keep] * gain  # the sent real values, unit power per complex symbol
        if values.numel() % 2:
            values = torch.cat([values, values.new_zeros(1)])  # pad to whole complex symbols
        times["encode"] = time.perf_counter() - t0
        keep_rx, gain_rx, scale_rx, side_lost = keep, gain, scale, False  # what the receiver knows
        if asc is not None:  # the side payload over the side link (a lost block: the receiver has no mask)
            t0 = time.perf_counter()
            decisions = keep[0, :: asc.masknet.group]  # one entry per decision group
            delivery = self.side_link.send(side_payload(decisions, gain, scale), self.channel, snr_db, generator)
            side_uses, side_lost = delivery.channel_uses, not delivery.ok
            if delivery.ok:
                decisions_rx, gain_rx, scale_rx = parse_side_payload(delivery.received, tuple(decisions.shape))
                keep_rx = asc.masknet.expand(decisions_rx[None])
            times["side"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        received = self.channel(values[None], snr_db, generator)[0] if values.numel() else values
        times["channel"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if side_lost:  # without the mask the receiver cannot place the values: nothing arrives
            times["decode"] = time.perf_counter() - t0
            return torch.zeros(3, *size), values.numel() // 2, side_uses, times, True
        if asc is None:
            latent_hat = torch.zeros_like(latent)
        else:
            latent_hat = (scale_rx * self.background(snr_db))[None, :, None, None].expand_as(latent).clone()
        latent_hat[keep_rx] = received[: int(keep_rx.sum())] / gain_rx
        x_hat = coder.reconstruct(latent_hat, snr_db, self.cbr, size)[0].clamp(0, 1)
        if asc is not None:
            x_hat = x_hat * block_mask(keep_rx, size)[None]
        times["decode"] = time.perf_counter() - t0
        return x_hat, values.numel() // 2, side_uses, times, False

    def send_hybrid(self, semantic: torch.Tensor, region: torch.Tensor, snr_db: float, generator, masked: bool):
        """``send`` on the hybrid JSCC: (x_hat, data uses, side uses, seconds, side lost).

        The hybrid's latent ``u`` of the semantic image (its first ``channels`` maps) is masked by ``BLOCKS`` (keep the
        positions whose block the region touches; ``masked`` False: keep all); the kept values are sent at unit power
        per complex use (scale ``a``). The side payload, the position mask and ``a`` as float16 (the side payload
        format of ``send``, with the second factor 1), goes on the side link; with ``masked`` False only ``a`` goes,
        as the whole-image hybrid sends it. The receiver puts ``a`` times the received values at the kept positions
        and the raw latent of a black block (``background``) at the dropped ones, and decodes with the hybrid's own
        LMMSE + conv receiver told the channel's noise per kept value (the dropped positions get the mean kept
        noise level, as in training every position is noisy); the dropped blocks are painted black.
        """
        from semcom.digital.side import side_bytes
        from semcom.jscc.hybrid import sent_mask
        from semcom.jscc.softcast import noise_per_real

        times, model = {}, self.jscc
        size = tuple(semantic.shape[1:])
        t0 = time.perf_counter()
        xp = model.pad(semantic[None].float())
        _, counts = model.prepare(xp, snr_db, self.cbr)
        u = model.encode_latent(xp)  # [1, C, hp, wp], unnormalised
        grid = u.shape[2:]
        maps = sent_mask(u, counts).bool().expand_as(u)
        positions = (coverage(region[None], grid) > 0) if masked else torch.ones(1, 1, *grid, dtype=torch.bool)
        keep = maps & positions.expand_as(u)
        values = u[keep]
        scale = float((2 * values.pow(2).mean()).sqrt().clamp_min(1e-8)) if values.numel() else 1.0
        scale_rx = float(torch.tensor(scale).half())
        z = values / scale
        if z.numel() % 2:
            z = torch.cat([z, z.new_zeros(1)])  # pad to whole complex symbols
        times["encode"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        payload = (side_payload(positions[0, 0], scale, 1.0) if masked
                   else side_bytes(torch.tensor([scale]).half()))
        delivery = self.side_link.send(payload, self.channel, snr_db, generator)
        times["side"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        z_hat, noise_var = self.channel.transmit(z[None], snr_db, generator)
        times["channel"] = time.perf_counter() - t0
        data_uses = z.numel() // 2
        if not delivery.ok:  # without the mask and scale the receiver cannot place or scale what it received
            return torch.zeros(3, *size), data_uses, delivery.channel_uses, times, True
        t0 = time.perf_counter()
        if masked:
            decisions, scale_rx, _ = parse_side_payload(delivery.received, tuple(grid))
            positions_rx = decisions[None, None]
        else:
            positions_rx = positions
        keep_rx = maps & positions_rx.expand_as(u)
        noise = noise_per_real(noise_var, z_hat)[0, : values.numel()] * scale_rx**2
        level = noise.mean() if noise.numel() else torch.tensor(0.0)
        u_hat = self.background(snr_db)[None, :, None, None].expand_as(u).clone() * ~positions_rx
        u_hat = u_hat * maps  # unsent maps are estimated as 0, as the hybrid does
        u_hat[keep_rx] = z_hat[0, : int(keep_rx.sum())] * scale_rx
        noise_u = torch.full_like(u, float(level))
        noise_u[keep_rx] = noise[: int(keep_rx.sum())]
        x_hat = model.decode_latent(u_hat, noise_u, tuple(xp.shape[-2:]))[0, :, : size[0], : size[1]].clamp(0, 1)
        if masked:
            x_hat = x_hat * block_mask(positions_rx, size)[None]
        times["decode"] = time.perf_counter() - t0
        return x_hat, data_uses, delivery.channel_uses, times, False

    def background(self, snr_db: float) -> torch.Tensor:
        """[c]: the raw latent of the JSCC that codes masked transmissions (the receiver copy) at an interior
        position of an all-black image (cached per SNR)."""
        key = float(snr_db)
        if key not in self._background:
            if self.hybrid:  # the hybrid's latent does not depend on the SNR
                black = torch.zeros(1, 3, 8 * FACTOR, 8 * FACTOR)
                self._background[key] = self.jscc.encode_latent(black)[0, :, 4, 4]
            else:
                self._background[key] = background_latent(self.receiver, torch.tensor([key]), self.cbr)[0]
        return self._background[key]


def kept_gain_and_scale(latent: torch.Tensor, normalised: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """([B], [B]) for a latent [B, c, h, w], its power-normalised copy and the ASC keep mask (bool, same shape):
    ``gain``, which brings the kept elements of ``normalised`` to unit power per complex channel use (1 when
    nothing is kept), and ``scale``, the normalisation factor ``normalised / latent``."""
    kept = keep.to(normalised.dtype)
    count = kept.flatten(1).sum(1)
    power = 2 * (normalised.pow(2) * kept).flatten(1).sum(1) / count.clamp_min(1)  # per complex symbol
    gain = torch.where(count > 0, power.clamp_min(1e-12).rsqrt(), torch.ones_like(power))
    scale = normalised.flatten(1).norm(dim=1) / latent.flatten(1).norm(dim=1).clamp_min(1e-12)
    return gain, scale


def background_latent(jscc: JSCC, snr_db: torch.Tensor, cbr: float) -> torch.Tensor:
    """[B, c]: the JSCC's raw latent at an interior position of an all-black image, at each SNR of ``snr_db`` [B]."""
    black = torch.zeros(len(snr_db), 3, 8 * FACTOR, 8 * FACTOR)
    return jscc.latent(black, snr_db, cbr)[:, :, 4, 4]


def block_aligned(image: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """``image`` [3, H, W] kept in every 16x16 block (from the top-left corner) that ``region`` (bool [H, W]) touches,
    zero elsewhere."""
    h, w = region.shape
    grid = (-(-h // FACTOR), -(-w // FACTOR))
    touched = (coverage(region[None], grid) > 0).float()
    return image * F.interpolate(touched, scale_factor=FACTOR, mode="nearest")[0, 0, :h, :w][None]


def coverage(region: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """[B, 1, h, w]: the fraction of each latent position's 16x16 image block inside ``region`` (bool [B, H, W]);
    the padding the JSCC adds beyond the image counts as outside."""
    h, w = region.shape[-2:]
    padded = F.pad(region[:, None].float(), (0, grid[1] * FACTOR - w, 0, grid[0] * FACTOR - h))
    return F.avg_pool2d(padded, FACTOR)


def block_mask(keep: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """float [H, W]: 1 where the image block of a latent position has at least one sent element, else 0."""
    sent = keep[0].any(dim=0).float()[None, None]  # [1, 1, hp, wp]
    return F.interpolate(sent, scale_factor=FACTOR, mode="nearest")[0, 0, : size[0], : size[1]]
