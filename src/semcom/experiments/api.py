"""The Python API: what ``import semcom`` exposes.

``semcom.__init__`` loads this module on first use of one of its names (so ``import semcom`` itself stays light).
It sits in the experiments layer (``semcom.layers``), beside the scheme registry, because ``load_scheme`` builds any
registered scheme; the CLI above uses the same registry.

```python
import semcom

scheme = semcom.load_scheme("jscc", channel="awgn", cbr=1 / 16)   # the shipped learned JSCC
x = semcom.load_image("photo.png")                                # [3, H, W] float in [0, 1]
tx = semcom.transmit(scheme, x, snr_db=7)                         # a Transmission
print(tx.channel_uses, semcom.psnr_db(x, tx.x_hat).item())
rows = semcom.evaluate(scheme, "photos/", snr_db=[1, 7, 13])      # one row per (SNR, image)
```

Channels are plain modules (``semcom.AWGN()(z, snr_db)``); ``semcom.load_jscc()`` gives the shipped model itself.
"""

from __future__ import annotations

from pathlib import Path

import torch

from semcom.channels import AWGN, CHANNELS, Rayleigh, Rician, build_channel, normalize_power
from semcom.data.images import list_images, load_image, save_image
from semcom.data.sources import demo_images
from semcom.errors import SemcomError
from semcom.jscc.checkpoint import load_jscc as _load_jscc
from semcom.jscc.transmitter import JSCCTransmitter, default_checkpoint
from semcom.metrics import ms_ssim, psnr_db
from semcom.seeding import make_generator, noise_seed
from semcom.types import Scheme, Transmission

__all__ = [
    "AWGN", "CHANNELS", "JSCCTransmitter", "Rayleigh", "Rician", "Scheme", "SemcomError", "Transmission",
    "build_channel", "demo_images", "evaluate", "list_images", "load_image", "load_jscc", "load_scheme", "ms_ssim",
    "normalize_power", "psnr_db", "save_image", "scheme_names", "transmit",
]


def scheme_names() -> dict[str, str]:
    """Every scheme ``load_scheme`` builds: name -> one-line summary (the names of ``semcom transmit --scheme``)."""
    from semcom.experiments.registry import SCHEMES

    return {name: entry.summary for name, entry in SCHEMES.items()}


def load_scheme(name: str = "jscc", channel: str = "awgn", cbr: float | None = None, **options) -> Scheme:
    """A scheme with its shipped models, built exactly as ``semcom transmit --scheme NAME`` builds it.

    ``name``: one of ``scheme_names()``; ``channel``: a channel name of ``CHANNELS`` (``awgn``, ``rayleigh``, ...);
    ``cbr``: channel uses per source dimension (default 1/16; LAM-SC: its ASC's); ``options``: the scheme's own
    options, named as on the command line with ``_`` for ``-`` (``checkpoint``, ``codec``, ``transform``, ``scorer``,
    ``asc``, ``receiver``, ``side_link``, ``link``). An option the scheme does not take is a ``SemcomError``.
    """
    from semcom.experiments.registry import get

    entry = get(name)
    unknown = sorted(set(options) - set(entry.options) - {"cbr"})
    if unknown:
        raise SemcomError(f"scheme {name!r} takes no option {', '.join(unknown)}; it takes: "
                          f"{', '.join(sorted(entry.options)) or 'none'}")
    if channel not in CHANNELS:
        raise SemcomError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
    if cbr is not None and "cbr" not in entry.options:
        raise SemcomError(f"scheme {name!r} has no CBR to choose")
    return entry.build({**options, "channel": channel, "cbr": cbr})


def load_jscc(path: str | Path | None = None, cbr: float = 1 / 16):
    """(model, metadata) of a JSCC checkpoint; by default the shipped model ``load_scheme("jscc", cbr=cbr)`` uses
    (the general model ``SHIPPED_BY_CBR`` names for the CBR, the rate-adaptive ADJSCC where none ships). The model is in eval mode."""
    return _load_jscc(path or default_checkpoint(cbr))


def transmit(scheme: Scheme, x: torch.Tensor, snr_db: float, seed: int = 0) -> Transmission:
    """Send ``x`` ([3, H, W] float in [0, 1]) through ``scheme`` at ``snr_db``, noise drawn from ``seed`` (the same
    draw as ``semcom transmit --seed SEED`` for the core image schemes)."""
    generator = make_generator(noise_seed(seed, 0, float(snr_db), float(getattr(scheme, "cbr", 0.0) or 0.0)))
    return scheme.transmit(x, float(snr_db), generator)


def _images(images) -> list[tuple[str, torch.Tensor]]:
    if isinstance(images, (str, Path)):
        from semcom.data.images import load_folder

        return [(name, x.float() / 255 if x.dtype == torch.uint8 else x) for name, x in load_folder(images)]
    if isinstance(images, torch.Tensor):
        images = [images] if images.dim() == 3 else list(images)
    return [item if isinstance(item, tuple) else (str(i), item) for i, item in enumerate(images)]


def evaluate(scheme: Scheme, images, snr_db, seed: int = 0) -> list[dict]:
    """One row per (SNR, image): ``scheme``, ``image``, ``snr_db``, ``channel_uses``, ``ok`` and, for image schemes,
    ``cbr`` (spent), ``psnr_db``, ``ssim``, ``ms_ssim``; for classify schemes, ``prediction``.

    ``images``: a folder, an image [3, H, W], a batch [B, 3, H, W] or a list of images or (name, image) pairs;
    ``snr_db``: one SNR or a list. Image ``i`` at SNR ``s`` draws its noise as ``semcom eval`` does, so the core image
    schemes give the rows of ``semcom eval`` with the same seed."""
    from semcom.experiments.evaluate import measure

    snrs = [float(s) for s in (snr_db if isinstance(snr_db, (list, tuple)) else [snr_db])]
    cbr = float(getattr(scheme, "cbr", 0.0) or 0.0)
    rows = []
    for snr in snrs:
        for index, (name, x) in enumerate(_images(images)):
            tx = scheme.transmit(x, snr, make_generator(noise_seed(seed, index, snr, cbr)))
            row = {"scheme": scheme.name, "image": name, "snr_db": snr, "channel_uses": tx.channel_uses, "ok": tx.ok}
            if tx.x_hat is not None:
                row.update(cbr=tx.channel_uses / x.numel(), **measure(x, tx))
            else:
                row["prediction"] = tx.prediction
            rows.append(row)
    return rows
