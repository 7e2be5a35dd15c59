"""Learned JSCC as an image scheme (``semcom.types.Scheme``): encode -> channel -> decode, one image at a time."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import torch

from semcom.channels import ComplexChannel, normalize_power
from semcom.data.images import check_image
from semcom.digital.side import fit_to_budget, send_side, side_link_for, side_uses
from semcom.jscc import tiling
from semcom.jscc.checkpoint import load_jscc
from semcom.jscc.hybrid import power_scale
from semcom.jscc.models import FACTOR, JSCC
from semcom.jscc.softcast import SIDE_BITS_SCALE
from semcom.training.checkpoint import PACKAGE_CHECKPOINTS
from semcom.types import Transmission
from semcom.units import cbr_text

DEFAULT_CHECKPOINT = PACKAGE_CHECKPOINTS / "adjscc.pt"
"""The rate-adaptive ADJSCC (CBR 1/64 to 1/8 of 192 maps; LAM-SC runs on its 48-map CBR 1/32): the default
for a CBR without a dedicated model in ``SHIPPED_BY_CBR``, and LAM-SC's JSCC (its mask and receiver were trained
on it)."""
DEFAULT_CBR = 1 / 16
"""The operating point every image scheme uses unless told otherwise (the CLI's default too)."""
SHIPPED_BY_CBR: dict[float, str] = {1 / 32: "hybrid-cbr32.pt", 1 / 16: "hybrid-cbr16.pt", 1 / 8: "hybrid-cbr8.pt"}
"""CBR -> the shipped general model for it (trained over the whole SNR range; file under ``semcom/checkpoints``);
see the README's JSCC section for the recipe, the command and the measured CPU-hours of each."""
SPECIALISTS_BY_CBR: dict[float, tuple[tuple[float, float, str], ...]] = {
    1 / 32: ((-math.inf, -1.0, "adjscc.pt"),),  # the rate-adaptive ADJSCC below the hybrid's range
    1 / 16: ((8.0, math.inf, "hybrid-cbr16-10db.pt"), (-math.inf, -2.0, "adjscc.pt")),  # the 10 dB specialist from 8 dB
    1 / 8: ((-math.inf, 1.0, "adjscc.pt"),),
}
"""CBR -> ((lowest SNR dB, highest SNR dB, file), ...): single-SNR specialists (and the rate-adaptive ADJSCC as the
low-SNR fallback) and the SNR interval in which each is the best shipped model on held-out photos over AWGN (``benchmarks/jscc_pick.py`` measures the crossovers; never
Kodak). A transmitter built without a checkpoint picks, per transmission, the specialist whose interval holds the
channel SNR (lowest bound inclusive, highest exclusive), else the general model. Channels with a table of their own
in ``SPECIALISTS_BY_CHANNEL`` use that one instead."""
SPECIALISTS_BY_CHANNEL: dict[str, dict[float, tuple[tuple[float, float, str], ...]]] = {
    "rayleigh": {
        1 / 32: ((-math.inf, 7.0, "adjscc.pt"),),
        1 / 16: ((3.0, math.inf, "hybrid-cbr16-10db.pt"), (-math.inf, 3.0, "adjscc.pt")),
        1 / 8: ((-math.inf, 8.0, "adjscc.pt"),),
    },
}
"""Channel name (``channel_key``) -> a table like ``SPECIALISTS_BY_CBR`` measured on that channel by
``benchmarks/jscc_pick.py --channel NAME``. On fast Rayleigh with zero-forcing the hybrid's per-coefficient linear
path has no diversity against deep fades (each coefficient rides one symbol), and the rate-adaptive ADJSCC, whose
non-linear decoder spreads every pixel over many symbols, is better at low SNR: it is picked below the measured
crossover."""


def channel_key(channel) -> str | None:
    """The ``SPECIALISTS_BY_CHANNEL`` name of a channel object: "rayleigh" for fast Rayleigh fading with
    zero-forcing (``build_channel("rayleigh")``), "awgn" for AWGN, else None (the AWGN table applies)."""
    from semcom.channels import AWGN, Rayleigh

    if type(channel) is AWGN:
        return "awgn"
    if type(channel) is Rayleigh and channel.coherence == "fast" and channel.equalizer == "zf":
        return "rayleigh"
    return None


def default_checkpoint(cbr: float = DEFAULT_CBR, snr_db: float | None = None, channel: str | None = None) -> Path:
    """The shipped checkpoint ``semcom`` uses for ``cbr`` (and, when given, the channel SNR ``snr_db`` on the channel
    named ``channel``, see ``channel_key``) when none is given: the specialist for that SNR and channel if one ships,
    else the general model for that CBR, else the rate-adaptive ADJSCC. Only installed files are picked."""
    if snr_db is not None:
        table = SPECIALISTS_BY_CHANNEL.get(channel, SPECIALISTS_BY_CBR) if channel else SPECIALISTS_BY_CBR
        for lo, hi, name in entries_for_cbr(table, cbr):
            if lo <= snr_db < hi and (PACKAGE_CHECKPOINTS / name).is_file():
                return PACKAGE_CHECKPOINTS / name
    name = next(iter(entries_for_cbr(SHIPPED_BY_CBR, cbr)), None)
    if name is not None and (PACKAGE_CHECKPOINTS / name).is_file():
        return PACKAGE_CHECKPOINTS / name
    return DEFAULT_CHECKPOINT


def entries_for_cbr(table: dict, cbr: float) -> tuple:
    """The entries of ``SHIPPED_BY_CBR`` or ``SPECIALISTS_BY_CBR`` for ``cbr`` as a tuple (empty if none)."""
    value = next((v for c, v in table.items() if abs(c - cbr) < 1e-9), None)
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


@lru_cache(maxsize=8)
def _shared_model(path: str, mtime_ns: int):
    return load_jscc(path)


def shared_jscc(path: str | Path | None = None):
    """(model, metadata) of a JSCC checkpoint, loaded once per file and process (a CBR grid builds one transmitter
    per CBR over the same weights). The model is shared: use it for inference only (``load_jscc`` for a fresh copy)."""
    resolved = Path(path or DEFAULT_CHECKPOINT)
    stamp = resolved.stat().st_mtime_ns if resolved.is_file() else 0  # a rewritten file is loaded again
    return _shared_model(str(resolved.resolve() if resolved.exists() else resolved), stamp)


class JSCCTransmitter:
    """Sends an image with a learned JSCC model over ``channel`` at ``cbr`` (the deployment path).

    Serves ADJSCC-family and hybrid checkpoints (``model.transmit_batch``); ``cbr`` is checked against the model when
    the scheme is built.

    Large images: an image with a side over ``tile`` pixels is coded tile by tile (``semcom.jscc.tiling``: ``tile``
    x ``tile`` pixels on the 16-pixel grid, each with ``margin`` pixels of context), so memory stays bounded; the
    latent, its power normalisation, the symbols sent and the channel uses are exactly those of the whole image.
    ``tile=None`` always codes the whole image. ``progress(done, total)``, when set, is called after each tile.

    ``by_snr`` (what ``from_checkpoint`` without a path builds): each transmission uses the shipped model for its
    SNR and channel (``default_checkpoint(cbr, snr_db, channel_key(channel))``: a specialist where one ships and
    wins, else the general model, which is ``model``); ``details["checkpoint"]`` names the file used.

    The hybrid JSCC's side payload (its float16 power scale, 2 bytes) is really sent on ``side_link`` after the
    symbols (``semcom.digital.side.side_link_for``: by default one 5G LDPC + QAM block at the cheapest MCS predicted
    to decode with probability >= 0.99 on the channel's BLER table, the ideal 1 bit per use where the channel has
    none, said in ``details["side_link"]``; "ideal": the labelled optimistic count); ``channel_uses`` = the symbols +
    what the side block spent, and a lost side block loses the image (mid-grey, ``ok`` False). The model's own
    ``transmit_batch`` / ``forward`` (training) keep the ideal count of 16 uses.

    ``fit_budget`` (hybrid): the CBR is a hard budget, the symbols *and* the side block together: the transmitter
    sends the most latent maps (in the model's order, fewest last) for which they fit in ``cbr`` x 3 x H x W (on the
    16-pixel grid, what an ADJSCC sends), knowing the side block's cost from the SNR before sending; the maps left
    out are estimated as 0 (the hybrid is rate-adaptive by construction). ``details``: ``maps_sent`` and
    ``channel_use_budget``. Default off: the side block is counted on top of the budget (a few per cent on a Kodak
    image, but one 1,920-bit codeword is 12-44 % of a 240x180 image's budget at CBR 1/16-1/64)."""

    name = "jscc"
    task = "image"

    def __init__(self, model: JSCC, channel: ComplexChannel, cbr: float = DEFAULT_CBR, meta: dict | None = None,
                 checkpoint: str | None = None, tile: int | None = tiling.TILE, margin: int = tiling.MARGIN,
                 by_snr: bool = False, side_link=None, fit_budget: bool = False):
        self.model = model.eval()
        self.channel = channel
        self.channels = model.channels_for_cbr(cbr)  # SemcomError for a CBR the model does not serve
        self.cbr = float(cbr)
        self.meta = meta or {}
        self.checkpoint = checkpoint
        tiling.tile_grid((1, 1), tile or FACTOR, margin)  # ValueError for a tile or margin off the 16-pixel grid
        self.tile, self.margin = tile, margin
        self.progress: tiling.Progress | None = None
        self.by_snr = bool(by_snr)
        self._specialists: dict[Path, JSCCTransmitter] = {}
        self.hybrid = hasattr(model, "transmit_batch")  # the hybrid JSCC: its receiver needs the side scale and CSI
        self._side_link_option = side_link
        self.side_link, self.side_label = side_link_for(channel, side_link)
        self.fit_budget = bool(fit_budget)

    @classmethod
    def from_checkpoint(cls, channel: ComplexChannel, path: str | Path | None = None,
                        cbr: float = DEFAULT_CBR, side_link=None, fit_budget: bool = False) -> JSCCTransmitter:
        """The model at ``path``; without one, the shipped models for ``cbr``, picked by SNR per transmission.
        ``side_link``, ``fit_budget``: see the class docstring (None / False: the defaults)."""
        by_snr, path = path is None, path or default_checkpoint(cbr)
        model, meta = shared_jscc(path)
        return cls(model, channel, cbr, meta, str(path), by_snr=by_snr, side_link=side_link, fit_budget=fit_budget)

    def describe(self) -> dict:
        out = {"scheme": self.name, "model": self.model.cfg.name, "cbr": self.cbr,
               "channel": type(self.channel).__name__,
               "checkpoint": f"shipped, by SNR ({self.checkpoint} unless a specialist wins)" if self.by_snr
               else self.checkpoint}
        return (out | {"side_link": self.side_label, "fit_budget": self.fit_budget}) if self.hybrid else out

    def for_snr(self, snr_db: float) -> JSCCTransmitter:
        """The transmitter a transmission at ``snr_db`` uses: ``self``, or (``by_snr``) the shipped model for that SNR."""
        path = default_checkpoint(self.cbr, snr_db, channel_key(self.channel)) if self.by_snr else None
        if path is None or str(path) == self.checkpoint:
            return self
        if path not in self._specialists:
            model, meta = shared_jscc(path)
            self._specialists[path] = JSCCTransmitter(model, self.channel, self.cbr, meta, str(path), self.tile,
                                                      self.margin, side_link=self._side_link_option,
                                                      fit_budget=self.fit_budget)
        specialist = self._specialists[path]
        specialist.progress = self.progress
        return specialist

    @torch.no_grad()
    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        """``x`` [3, H, W] float in [0, 1] at ``snr_db``; channel uses: the latent's complex symbols (the hybrid JSCC:
        plus the side block carrying its float16 power scale, ``details``: side_link, side_bits, side_uses,
        side_mcs)."""
        check_image(x)
        scheme = self.for_snr(snr_db)
        tx = scheme._transmit(x, snr_db, generator)
        if scheme.checkpoint:
            tx.details["checkpoint"] = Path(scheme.checkpoint).name
        return tx

    def _transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None) -> Transmission:
        if tiling.needs_tiles(tuple(x.shape[-2:]), self.tile):
            return self.transmit_tiled(x, snr_db, generator)
        if self.hybrid:
            return self._hybrid(x, snr_db, generator, tiled=False)
        z = self.model.encode(x[None], snr_db, self.cbr)
        z_hat = self.channel(z, snr_db, generator)
        x_hat = self.model.decode(z_hat, snr_db, self.cbr, tuple(x.shape[-2:]))[0]
        return Transmission(x_hat=x_hat, channel_uses=z.shape[1], details={"model": self.model.cfg.name})

    def tiles(self, size: tuple[int, int]) -> int:
        """How many tiles an image of ``size`` (H, W) is coded in (1: whole)."""
        if not tiling.needs_tiles(size, self.tile):
            return 1
        return len(tiling.tile_grid((-(-size[0] // FACTOR), -(-size[1] // FACTOR)), self.tile, self.margin))

    def transmit_tiled(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        """``transmit`` with the encoder and the decoder run tile by tile (see the class docstring)."""
        if self.hybrid:
            return self._hybrid(x, snr_db, generator, tiled=True)
        model, h, w = self.model, *x.shape[-2:]
        xp = model.pad(x[None].float())
        grid = (xp.shape[-2] // FACTOR, xp.shape[-1] // FACTOR)
        count = self.tiles((h, w))
        total, tile, margin = 2 * count, self.tile, self.margin
        latent = tiling.encode_tiled(lambda p: model.latent(p, snr_db, self.cbr), xp, tile, margin, self.progress,
                                     total)
        z = normalize_power(latent)  # over the whole latent, exactly as ``model.encode``
        z_hat = self.channel(torch.view_as_complex(z.reshape(1, -1, 2).contiguous()), snr_db, generator)
        received = torch.view_as_real(z_hat).reshape(latent.shape)
        x_hat = tiling.decode_tiled(
            lambda rows, cols: model.reconstruct(received[..., rows, cols], snr_db, self.cbr, tile_size(rows, cols)),
            grid, tile, margin, self.progress, count, total)
        return Transmission(x_hat=x_hat[0, :, :h, :w], channel_uses=int(z_hat.shape[1]),
                            details={"model": model.cfg.name})

    def _hybrid(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None, tiled: bool) -> Transmission:
        """The hybrid JSCC's ``forward`` (eval mode) around its two halves, ``encode_latent``/``decode_latent`` on the
        whole image or tile by tile (``tiled``), ``through_channel`` on the whole latent; then its float16 power scale
        on the side link (``send_side``). ``tests/jscc/test_tiling.py`` and ``tests/jscc/test_side_scale.py`` check
        the image and the symbols' channel uses against ``transmit_batch``."""
        model, (h, w) = self.model, x.shape[-2:]
        xp = model.pad(x[None].float())
        snr, counts = model.prepare(xp, snr_db, self.cbr)
        fitted = {}
        if self.fit_budget:
            counts, fitted = self._fit(counts, xp.shape[-2:], snr_db)
        if tiled:
            grid = (xp.shape[-2] // FACTOR, xp.shape[-1] // FACTOR)
            count = self.tiles((h, w))
            u = tiling.encode_tiled(model.encode_latent, xp, self.tile, self.margin, self.progress, 2 * count)
        else:
            u = model.encode_latent(xp)
        _, u_hat, noise_u, uses = model.through_channel(u, counts, snr, self.channel, generator)
        if tiled:
            x_hat = tiling.decode_tiled(
                lambda rows, cols: model.decode_latent(u_hat[..., rows, cols], noise_u[..., rows, cols],
                                                       tile_size(rows, cols)),
                grid, self.tile, self.margin, self.progress, count, 2 * count)
        else:
            x_hat = model.decode_latent(u_hat, noise_u, tuple(xp.shape[-2:]))
        data_uses = int(uses[0]) - SIDE_BITS_SCALE  # the model counts its scale at the ideal 1 bit per use
        return send_side(x_hat[0, :, :h, :w].clamp(0, 1), data_uses, power_scale(u, counts)[0].half()[None],
                         self.side_link, self.side_label, self.channel, snr_db, generator,
                         {"model": model.cfg.name, **fitted})

    def _fit(self, counts: torch.Tensor, size, snr_db: float) -> tuple[torch.Tensor, dict]:
        """(maps to send [1], details) for ``fit_budget``: the most maps whose symbols and side block fit the budget
        of ``counts`` maps (padded ``size``)."""
        positions = (size[0] // FACTOR) * (size[1] // FACTOR)
        most = int(counts[0])
        budget = most * positions // 2
        side = side_uses(self.side_link, SIDE_BITS_SCALE, snr_db)
        k = fit_to_budget(budget, most, lambda k: k * positions // 2 + side,
                          f"the hybrid JSCC at CBR {cbr_text(self.cbr)} on a {size[0]}x{size[1]} image")
        return torch.full_like(counts, k), {"maps_sent": k, "channel_use_budget": budget}


def tile_size(rows: slice, cols: slice) -> tuple[int, int]:
    """Pixel size (H, W) of a tile spanning latent ``rows`` x ``cols``."""
    return ((rows.stop - rows.start) * FACTOR, (cols.stop - cols.start) * FACTOR)
