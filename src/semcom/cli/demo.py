"""``semcom demo``: the offline report (bundled photos through the core image schemes, then each registered scheme's
demo section)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from semcom.experiments import registry
from semcom.cli.common import (
    CBR_HELP, CHANNEL_HELP, DEFAULT_CBR_TEXT, FORMAT_HELP, OVERWRITE_HELP, SNR_HELP, app, check_channel, check_format,
    console, parse_cbrs, parse_names, parse_snrs, progress_bar
)
from semcom.cli.images import print_summary
from semcom.outputs import check_output_folder


@app.command()
def demo(
    out: Path = typer.Option(Path("semcom-report"), help="Report folder: new, empty or an earlier semcom report "
                                                         "(whose files are replaced); see --overwrite."),
    snr: str = typer.Option("1,4,7,10,13", help=SNR_HELP),
    cbr: str = typer.Option(DEFAULT_CBR_TEXT, help=CBR_HELP),
    channel: str = typer.Option("awgn", help=CHANNEL_HELP),
    codecs: str = typer.Option("webp", help="Codecs for the digital chain; the first one also gives the capacity bound."),
    size: int = typer.Option(256, help="Demo images are resized to size x size."),
    checkpoint: Optional[Path] = typer.Option(None, help="JSCC checkpoint (default: the shipped model)."),
    workers: int = typer.Option(2, help="Parallel worker processes."),
    seed: int = typer.Option(0),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    format: str = typer.Option("table", "--format", help=FORMAT_HELP),
):
    """Offline demo: bundled photos through learned JSCC, the digital chain and the capacity bound, then every
    registered scheme's section."""
    from semcom.experiments import evaluate
    from semcom.experiments.demo import demo_specs, run_demo

    snrs, cbrs, fmt = parse_snrs(snr), parse_cbrs(cbr), check_format(format)
    check_channel(channel)
    out = check_output_folder(out, overwrite)
    codec_list = parse_names(codecs)
    ckpt = str(checkpoint) if checkpoint else None
    specs = demo_specs(codec_list, ckpt)
    transmitters = evaluate.build_transmitters(specs, channel, cbrs)
    with progress_bar() as bar:
        task = bar.add_task("demo", total=len(specs) * len(snrs) * len(cbrs))
        path, summary = run_demo(out, snrs, cbrs, channel, codec_list, size, seed, workers, ckpt,
                                 on_cell=lambda rows: bar.advance(task), transmitters=transmitters,
                                 overwrite=overwrite, sections=registry.demo_sections())
    print_summary(summary, "semcom demo (mean over images)", fmt)
    console.print(f"report written to {path / 'index.html'}", highlight=False, soft_wrap=True)
