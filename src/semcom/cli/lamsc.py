"""``semcom eval lamsc``: LAM-SC on an image folder over an SNR grid (built through the registry)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from semcom.experiments import registry
from semcom.cli.common import (
    SNR_COLUMN, CHANNEL_HELP, FORMAT_HELP, OVERWRITE_HELP, SNR_HELP, Column, check_channel, check_format, eval_app,
    integer, number, parse_cbr, parse_snrs, progress_bar, render, saved_note
)
from semcom.outputs import atomic_folder, check_output_folder

PARTS_HELP = "checkpoint path, 'shipped' (default) or 'none' (ablation without it)"
COLUMNS = [
    SNR_COLUMN, Column("channel uses", integer("channel_uses")),
    Column("vs whole-image JSCC", number("uses_vs_full_jscc", 3)), Column("region PSNR dB", number("region_psnr_db")),
    Column("PSNR dB", number("psnr_db")), Column("region MS-SSIM", number("region_ms_ssim", 4)),
    Column("segments sent", lambda s: f"{s['sent_segments']:.2f}/{s['segments']:.2f}"),
    Column("fallbacks", lambda s: str(s["fallbacks"])), Column("side lost", lambda s: str(s["side_losses"])),
]


@eval_app.command("lamsc")
def eval_lamsc(
    data: Path = typer.Option(..., help="Folder of test images (e.g. ../shared/data/kodak)."),
    snr: str = typer.Option("1,4,7,10,13", help=SNR_HELP), channel: str = typer.Option("awgn", help=CHANNEL_HELP),
    cbr: Optional[str] = typer.Option(None, help="JSCC rate before masking (default: the ASC's, else 1/16)."),
    scorer: str = typer.Option("shipped", help=f"ASI scorer: {PARTS_HELP}."),
    jscc: str = typer.Option("adjscc", help="adjscc (the JSCC the shipped ASC and receiver were trained on) | hybrid "
                                            "(the shipped hybrid JSCC at CBR 1/32 with the block-rule mask, "
                                            "--asc blocks, and no receiver)"),
    asc: str = typer.Option("shipped", help=f"ASC mask: {PARTS_HELP} (--jscc hybrid: blocks | none)."),
    receiver: str = typer.Option("shipped", help=f"JSCC copy that codes masked latents (used with ASC): {PARTS_HELP} "
                                                 "(none: the plain JSCC decoder)."),
    segmenter: str = typer.Option("slic", help="slic (offline) | sam (needs --sam-model)"),
    sam_model: Optional[str] = typer.Option(None, help="Local folder or hub id of a SAM checkpoint."),
    side_link: str = typer.Option("ldpc", help="ASC side payload: ldpc (really sent as a 5G LDPC + QAM block at the "
                                               "cheapest MCS with predicted success >= 0.99; awgn, rayleigh) | "
                                               "ldpc-short (may use 240-bit codewords) | ideal "
                                               "(1 bit per channel use, assumed to arrive: optimistic)"),
    k: int = typer.Option(5), threshold: float = typer.Option(0.7),
    limit: Optional[int] = typer.Option(None), seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, help="Write results.json / results.csv into this folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    format: str = typer.Option("table", "--format", help=FORMAT_HELP),
):
    """LAM-SC on an image folder: channel uses, region and whole-image quality per SNR."""
    from semcom.data import load_folder
    from semcom.experiments.results import write_results
    from semcom.schemes.lamsc.evaluate import evaluate_lamsc, summarize_lamsc
    from semcom.units import cbr_text

    snrs, fmt = parse_snrs(snr), check_format(format)
    check_channel(channel)
    if out:
        out = check_output_folder(out, overwrite)
    lamsc = registry.get("lamsc").build({
        "channel": channel, "cbr": parse_cbr(cbr), "scorer": scorer, "asc": asc, "receiver": receiver, "jscc": jscc,
        "side_link": side_link, "segmenter": segmenter, "sam_model": sam_model, "k": k, "threshold": threshold})
    images = load_folder(data, limit)
    with progress_bar() as bar:
        task = bar.add_task("eval lamsc", total=len(images) * len(snrs))
        rows = evaluate_lamsc(lamsc, images, snrs, seed, on_image=lambda r: bar.advance(task))
    summary = summarize_lamsc(rows)
    render(summary, COLUMNS, f"LAM-SC on {data} ({channel}, CBR {cbr_text(lamsc.cbr)} before masking)", fmt)
    if out:
        config = {"command": "semcom eval lamsc", "argv": sys.argv[1:], "data": str(data), "snr_db": snrs,
                  "channel": channel, "cbr": lamsc.cbr, "scorer": scorer, "asc": asc, "receiver": receiver, "jscc": jscc,
                  "segmenter": segmenter, "side_link": side_link,
                  "k": k, "threshold": threshold, "limit": limit, "seed": seed}
        with atomic_folder(out, overwrite) as tmp:
            write_results(tmp, config, rows, summary)
    saved_note(out)
