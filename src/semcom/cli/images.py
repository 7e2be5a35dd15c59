"""``semcom eval jscc|softcast|digital|bound``: image schemes of the core over an SNR x CBR grid.

Each command has the shared grid options plus only its own (``OWN``), so an option that means nothing to a scheme
(``eval jscc --codec webp``) is refused by the parser instead of being ignored."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Optional

import typer

from semcom.cli.common import (
    SCHEME_COLUMN, CHANNEL_COLUMN, SNR_COLUMN, CBR_HELP, CHANNEL_HELP, DEFAULT_CBR_TEXT, FORMAT_HELP, OVERWRITE_HELP,
    SNR_HELP, Column, cbr_cell, check_channel, check_format, eval_app, integer, number, parse_cbrs, parse_names,
    parse_snrs, progress_bar, render, saved_note
)
from semcom.experiments.registry import SCHEMES
from semcom.outputs import atomic_folder, check_output_folder

IMAGE_SCHEMES = [name for name, entry in SCHEMES.items() if name in ("jscc", "softcast", "digital", "bound")]

SUMMARY_COLUMNS = [
    SCHEME_COLUMN, CHANNEL_COLUMN, Column("CBR", cbr_cell(), key=True), SNR_COLUMN,
    Column("PSNR dB", number("psnr_db")), Column("MS-SSIM", number("ms_ssim", 4)),
    Column("decoded", lambda s: f"{100 * s['success_rate']:.0f}%"), Column("channel uses", integer("channel_uses")),
    Column("s/image", number("seconds", 3)),
]


def print_summary(summary: list[dict], title: str, fmt: str = "table") -> None:
    render(sorted(summary, key=lambda s: (s["channel"], s["cbr_target"], s["scheme"], s["snr_db"])),
           SUMMARY_COLUMNS, title, fmt)


def parameter(name: str, annotation, default) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


COMMON = [
    parameter("data", Path, typer.Option(..., help="Folder of test images (e.g. ../shared/data/kodak).")),
    parameter("snr", str, typer.Option("1,4,7,10,13", help=SNR_HELP)),
    parameter("cbr", str, typer.Option(DEFAULT_CBR_TEXT, help=CBR_HELP)),
    parameter("channel", str, typer.Option("awgn", help=CHANNEL_HELP)),
    parameter("limit", Optional[int], typer.Option(None, help="Use only the first N images.")),
    parameter("workers", int, typer.Option(1, help="Parallel worker processes over the SNR x CBR grid.")),
    parameter("seed", int, typer.Option(0)),
    parameter("out", Optional[Path], typer.Option(None, help="Write results.json / results.csv into this folder.")),
    parameter("overwrite", bool, typer.Option(False, "--overwrite", help=OVERWRITE_HELP)),
    parameter("format", str, typer.Option("table", "--format", help=FORMAT_HELP)),
]
SIDE_LINK = parameter("side_link", Optional[str], typer.Option(
    None, help="The power scale's side payload: ldpc (default where the channel has a BLER table: really sent as one "
               "5G LDPC + QAM block and counted at what it spends) | ldpc-short (may use 240-bit codewords: 60-120 uses "
               "instead of 480-960) | ideal (1 bit per use, always delivered: optimistic)."))
FIT_BUDGET = parameter("fit_budget", bool, typer.Option(
    False, "--fit-budget", help="The CBR as a hard budget for the symbols and the side block together (fewer maps "
                                "or components sent); default: the side block counted on top."))
OWN = {
    "jscc": [parameter("checkpoint", Optional[Path], typer.Option(
        None, help="JSCC checkpoint (default: the shipped models for the CBR, picked by SNR).")), SIDE_LINK,
        FIT_BUDGET],
    "softcast": [parameter("transform", str, typer.Option("pca", help="pca (shipped basis) | dct (training-free), comma-separated.")),
                 parameter("checkpoint", Optional[Path], typer.Option(None, help="A basis file from 'semcom train softcast' instead of the shipped PCA basis.")),
                 SIDE_LINK, FIT_BUDGET],
    "digital": [parameter("codec", str, typer.Option("jpeg", help="Codec name(s), comma-separated.")),
                parameter("fast", bool, typer.Option(False, help="Draw decode outcomes from the measured BLER table instead of decoding."))],
    "bound": [parameter("codec", str, typer.Option("jpeg", help="Codec name(s), comma-separated."))],
}


def specs_for(scheme: str, options: dict) -> list:
    from semcom.experiments.evaluate import SchemeSpec

    checkpoint = str(options["checkpoint"]) if options.get("checkpoint") else None
    side = options.get("side_link")
    fit = bool(options.get("fit_budget"))
    if scheme == "jscc":
        return [SchemeSpec("jscc", checkpoint=checkpoint, side_link=side, fit_budget=fit)]
    if scheme == "softcast":
        return [SchemeSpec("softcast", t, checkpoint, side_link=side, fit_budget=fit)
                for t in parse_names(options["transform"])]
    return [SchemeSpec(scheme, c, decode=not options.get("fast")) for c in parse_names(options["codec"])]


def run_image_eval(scheme: str, data: Path, snr: str, cbr: str, channel: str, limit: Optional[int], workers: int,
                   seed: int, out: Optional[Path], overwrite: bool, format: str, **own) -> None:
    from semcom.data import load_folder
    from semcom.experiments import evaluate
    from semcom.experiments.results import write_results

    snrs, cbrs, fmt = parse_snrs(snr), parse_cbrs(cbr), check_format(format)
    check_channel(channel)
    if out:
        out = check_output_folder(out, overwrite)
    specs = specs_for(scheme, own)
    transmitters = evaluate.build_transmitters(specs, channel, cbrs)
    images = load_folder(data, limit)
    with progress_bar() as bar:
        task = bar.add_task(f"eval {scheme}", total=len(specs) * len(snrs) * len(cbrs) * len(images))
        for transmitter in transmitters.values() if workers <= 1 else ():  # a large image: show its tiles
            if hasattr(transmitter, "progress"):
                transmitter.progress = lambda done, total: bar.update(task,
                                                                      description=f"eval {scheme} (tile {done}/{total})")
        rows = evaluate.sweep(specs, channel, images, snrs, cbrs, seed=seed, workers=workers,
                              on_image=lambda r: bar.update(task, advance=1, description=f"eval {scheme}"),
                              transmitters=transmitters)
    summary = evaluate.summarize(rows)
    print_summary(summary, f"{scheme} on {data}", fmt)
    if out:
        config = {"command": "semcom eval", "argv": sys.argv[1:], "scheme": scheme, "data": str(data),
                  "snr_db": snrs, "cbr": cbrs, "channel": channel, "specs": [s.label for s in specs], "seed": seed,
                  "limit": limit}
        with atomic_folder(out, overwrite) as tmp:
            write_results(tmp, config, rows, summary)
    saved_note(out)


def image_eval_command(scheme: str):
    def command(**options):
        run_image_eval(scheme, **options)

    command.__signature__ = inspect.Signature(COMMON + OWN[scheme])
    command.__doc__ = f"Evaluate {SCHEMES[scheme].summary} on an image folder over an SNR x CBR grid."
    return command


for _scheme in IMAGE_SCHEMES:
    eval_app.command(_scheme)(image_eval_command(_scheme))
