"""Evaluation over SNR x CBR grids: one row per (scheme, image, SNR, CBR), in parallel worker processes.

An evaluation is a pure function of (scheme spec, images, SNR grid, CBR grid, channel, seed): every
transmission draws its noise from a generator seeded by those values, so any row can be regenerated
alone, and the result does not depend on the number of workers.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from statistics import mean

import torch

from semcom.channels import build_channel
from semcom.errors import SemcomError
from semcom.metrics import ms_ssim, psnr_db, ssim
from semcom.seeding import fast_cpu_math, make_generator, noise_seed
from semcom.types import Transmission
from semcom.units import check_snr_db

SCHEMES = ("jscc", "softcast", "digital", "bound")
SOFTCAST_KINDS = ("pca", "dct")


@dataclass(frozen=True)
class SchemeSpec:
    """A scheme as named on the command line: ``jscc`` (checkpoint), ``softcast`` (``codec``: its transform, pca or
    dct; ``checkpoint``: a basis file instead of the shipped pca one), ``digital``/``bound`` (codec). ``side_link``
    (jscc, softcast): how their side payload travels, ``semcom.digital.side.side_link_for`` (None: the default, a
    real LDPC block where the channel has a BLER table; "ldpc-short": 240-bit codewords allowed too, rows
    ``*-short-side``; "ideal": the labelled optimistic count, rows ``*-ideal-side``); ``fit_budget`` (jscc, softcast): symbols and side block together within the CBR's budget
    (fewer maps or components sent; rows ``*-fit``)."""

    name: str
    codec: str | None = None
    checkpoint: str | None = None
    decode: bool = True  # digital: really LDPC-decode every codeword (False: outcome from the BLER table)
    side_link: str | None = None
    fit_budget: bool = False

    def __post_init__(self):
        from semcom.digital.side import SIDE_LINKS

        if self.name not in SCHEMES:
            raise SemcomError(f"unknown scheme {self.name!r}; choose one of {', '.join(SCHEMES)}")
        if self.name == "softcast" and self.codec not in SOFTCAST_KINDS:
            raise SemcomError(f"unknown softcast transform {self.codec!r}; choose one of {', '.join(SOFTCAST_KINDS)}")
        if self.side_link is not None and (self.name not in ("jscc", "softcast") or self.side_link not in SIDE_LINKS):
            raise SemcomError(f"side_link {self.side_link!r}: jscc and softcast take one of {', '.join(SIDE_LINKS)}")
        if self.fit_budget and self.name not in ("jscc", "softcast"):
            raise SemcomError(f"fit_budget applies to jscc and softcast (their side block), not {self.name}")

    @property
    def label(self) -> str:
        base = self.name if self.name == "jscc" else f"{self.name}-{self.codec}"
        base = {"ideal": f"{base}-ideal-side", "ldpc-short": f"{base}-short-side"}.get(self.side_link or "", base)
        return f"{base}-fit" if self.fit_budget else base


@lru_cache(maxsize=8)
def shared_softcast(kind_or_path: str):
    """SoftCast with a basis loaded once per process (a CBR grid builds one scheme per CBR over it)."""
    from semcom.jscc.softcast import load_softcast

    return load_softcast(kind_or_path)


def build_transmitter(spec: SchemeSpec, channel: str, cbr: float):
    """Spec + channel name + CBR -> an image ``Scheme`` (weights are loaded once per file and process)."""
    if spec.name == "jscc":
        from semcom.jscc.transmitter import JSCCTransmitter

        return JSCCTransmitter.from_checkpoint(build_channel(channel), spec.checkpoint, cbr, spec.side_link,
                                               spec.fit_budget)
    if spec.name == "softcast":
        from semcom.jscc.softcast import SoftCastTransmitter

        return SoftCastTransmitter(shared_softcast(str(spec.checkpoint or spec.codec)), build_channel(channel), cbr,
                                   spec.side_link, spec.fit_budget)
    from semcom.digital import CapacityBound, DigitalChain

    if spec.name == "digital":
        return DigitalChain(spec.codec or "jpeg", channel, cbr, decode=spec.decode)
    return CapacityBound(spec.codec or "jpeg", channel, cbr)


def build_transmitters(specs: list[SchemeSpec], channel: str, cbrs: list[float]) -> dict:
    """One scheme per (spec, CBR), keyed so; building checks that each supports its CBR, before any work starts."""
    return {(spec, cbr): build_transmitter(spec, channel, cbr) for spec in specs for cbr in cbrs}


def measure(x: torch.Tensor, tx: Transmission) -> dict:
    xb, yb = x[None], tx.x_hat.clamp(0, 1)[None]
    return {"psnr_db": psnr_db(xb, yb).item(), "ssim": ssim(xb, yb).item(), "ms_ssim": ms_ssim(xb, yb).item()}


def run_cell(spec: SchemeSpec, channel: str, images: list[tuple[str, torch.Tensor]], snr_db: float, cbr: float,
             seed: int, keep: bool = False, transmitter=None, on_image=None) -> list[dict]:
    """Transmit every image once at (snr_db, cbr); rows with metrics and timing (and x_hat if ``keep``).
    ``transmitter``: the scheme built for (spec, channel, cbr) (built here when not given); ``on_image(row)`` is
    called after each image."""
    transmitter = transmitter or build_transmitter(spec, channel, cbr)
    rows = []
    for index, (name, x) in enumerate(images):
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x
        generator = make_generator(noise_seed(seed, index, snr_db, cbr))
        start = time.perf_counter()
        tx = transmitter.transmit(x, snr_db, generator)
        seconds = time.perf_counter() - start
        row = {"scheme": spec.label, "channel": channel, "image": name, "snr_db": snr_db, "cbr_target": cbr,
               "cbr": tx.channel_uses / x.numel(), "channel_uses": tx.channel_uses, "ok": tx.ok,
               **measure(x, tx), "seconds": seconds, "seed": seed, **tx.details}
        if keep:
            row["x_hat"] = tx.x_hat
        rows.append(row)
        if on_image:
            on_image(row)
    return rows


def worker_cell(args) -> list[dict]:
    fast_cpu_math(threads=1)
    return run_cell(*args)


def check_grid(channel: str, snrs: list[float], cbrs: list[float]) -> None:
    """Fail fast, before any work, on an unknown channel, an SNR out of range or a CBR <= 0."""
    build_channel(channel)
    check_snr_db(torch.tensor(snrs, dtype=torch.float32))
    bad = [c for c in cbrs if not (math.isfinite(c) and c > 0)]
    if bad:
        raise SemcomError(f"CBR must be a finite number > 0, got {bad[0]!r}")


def sweep(specs: list[SchemeSpec], channel: str, images: list[tuple[str, torch.Tensor]], snrs: list[float],
          cbrs: list[float], seed: int = 0, workers: int = 1, keep: bool = False, on_cell=None,
          transmitters: dict | None = None, on_image=None) -> list[dict]:
    """All (scheme, SNR, CBR) cells; ``workers`` > 1 runs cells in parallel processes.

    ``on_cell(rows)`` is called as each cell finishes, ``on_image(row)`` after each image (with workers, as their cell
    finishes), for progress bars. Rows come back in grid order.
    ``transmitters``: from ``build_transmitters`` (built here when not given).
    """
    check_grid(channel, snrs, cbrs)
    if not images:
        raise SemcomError("no images to evaluate")
    transmitters = transmitters or build_transmitters(specs, channel, cbrs)
    cells = [(spec, channel, images, snr, cbr, seed, keep) for spec in specs for cbr in cbrs for snr in snrs]
    results: list[list[dict]] = []
    if workers <= 1:
        for cell in cells:
            rows = run_cell(*cell, transmitter=transmitters[(cell[0], cell[4])], on_image=on_image)
            results.append(rows)
            if on_cell:
                on_cell(rows)
    else:
        packed = [(s, c, [(n, (x * 255).round().to(torch.uint8)) for n, x in ims], snr, cbr, sd, kp)
                  for s, c, ims, snr, cbr, sd, kp in cells]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for rows in pool.map(worker_cell, packed):
                results.append(rows)
                for row in rows if on_image else ():
                    on_image(row)
                if on_cell:
                    on_cell(rows)
    return [row for rows in results for row in rows]


def summarize(rows: list[dict]) -> list[dict]:
    """Mean metrics per (scheme, channel, target CBR, SNR)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["scheme"], r["channel"], r["cbr_target"], r["snr_db"]), []).append(r)
    out = []
    for (scheme, channel, cbr, snr), rs in groups.items():
        out.append({"scheme": scheme, "channel": channel, "cbr_target": cbr, "snr_db": snr, "images": len(rs),
                    "psnr_db": mean(r["psnr_db"] for r in rs), "ssim": mean(r["ssim"] for r in rs),
                    "ms_ssim": mean(r["ms_ssim"] for r in rs), "success_rate": mean(float(r["ok"]) for r in rs),
                    "channel_uses": mean(r["channel_uses"] for r in rs), "seconds": mean(r["seconds"] for r in rs)})
    return out


def spec_dict(spec: SchemeSpec) -> dict:
    return asdict(spec)
