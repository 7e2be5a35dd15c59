"""The offline demo: bundled photos through learned JSCC, the digital chain and the capacity bound, followed by
the scheme sections the caller passes in (the CLI passes one per scheme; nothing here knows the schemes)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from semcom.data import demo_images
from semcom.errors import SemcomError
from semcom.experiments.evaluate import SchemeSpec, summarize, sweep
from semcom.experiments.report import write_demo_report
from semcom.experiments.results import write_results
from semcom.outputs import atomic_folder, check_output_folder


@dataclass(frozen=True)
class DemoSection:
    """One scheme's part of the demo report. ``run(folder, images, seed)`` writes its figures into ``folder`` (the
    report folder) and returns (html, rows); the rows are saved as ``<key>.json``, the html under ``title``.
    ``images``: the demo photos as (name, [3, H, W] float in [0, 1]) pairs."""

    key: str
    title: str
    run: Callable[[Path, list[tuple[str, torch.Tensor]], int], tuple[str, list[dict]]]


def demo_specs(codecs: list[str], checkpoint: str | None = None) -> list[SchemeSpec]:
    if not codecs:
        raise SemcomError("the demo needs at least one codec for the digital chain")
    return ([SchemeSpec("jscc", checkpoint=checkpoint)] + [SchemeSpec("digital", c) for c in codecs]
            + [SchemeSpec("bound", codecs[0])])


def run_demo(out: Path, snrs: list[float], cbrs: list[float], channel: str, codecs: list[str], size: int, seed: int,
             workers: int = 1, checkpoint: str | None = None, on_cell=None,
             transmitters: dict | None = None, overwrite: bool = False,
             sections: Sequence[DemoSection] = ()) -> tuple[Path, list[dict]]:
    """Run the demo grid and write the report folder (index.html, results.json, results.csv, plots), then each of
    ``sections`` in order (``<key>.json`` and a report section each).

    ``out`` must be new, empty or an earlier semcom report unless ``overwrite`` (see ``semcom.outputs``); it is
    checked before the grid runs.

    Returns the folder and the per-(scheme, SNR, CBR) summary.
    """
    out = check_output_folder(out, overwrite)
    images = demo_images(size)
    specs = demo_specs(codecs, checkpoint)
    rows = sweep(specs, channel, images, snrs, cbrs, seed=seed, workers=workers, keep=True, on_cell=on_cell,
                 transmitters=transmitters)
    summary = summarize(rows)
    config = {"command": "semcom demo", "images": [n for n, _ in images], "size": size, "snr_db": snrs, "cbr": cbrs,
              "channel": channel, "schemes": [s.label for s in specs], "seed": seed}
    with atomic_folder(out, overwrite) as tmp:
        write_results(tmp, config, rows, summary)
        scheme_sections = []
        for section in sections:
            html, section_rows = section.run(tmp, images, seed)
            (tmp / f"{section.key}.json").write_text(json.dumps(section_rows, indent=1))
            scheme_sections.append((section.title, html))
        write_demo_report(tmp, config, summary, rows, images, scheme_sections)
    return out, summary
