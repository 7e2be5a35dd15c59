"""``semcom eval splitnn``: top-1 accuracy of SemanticNN split inference and its baselines on CIFAR-10."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Optional

import typer

from semcom.cli.common import (
    SCHEME_COLUMN, CHANNEL_COLUMN, SNR_COLUMN, FORMAT_HELP, OVERWRITE_HELP, SNR_HELP, Column, check_format, eval_app,
    integer, number, parse_names, parse_snrs, progress_bar, render, saved_note
)
from semcom.digital.capacity import DIGITAL_CHANNELS
from semcom.errors import SemcomError
from semcom.outputs import atomic_folder, check_output_folder

SPLIT_CHANNELS = DIGITAL_CHANNELS  # the bit channels SemanticNN's codecs are sent over
COLUMNS = [
    SCHEME_COLUMN, CHANNEL_COLUMN, SNR_COLUMN, Column("accuracy %", number("accuracy")),
    Column("channel uses", integer("channel_uses")), Column("bits/image", integer("bits")),
    Column("x vs features", number("compression_vs_features", 0)),
]


@eval_app.command("splitnn")
def eval_splitnn(
    checkpoint: list[Path] = typer.Option(None, help="Trained codec(s); default: every shipped splitnn checkpoint."),
    snr: str = typer.Option("-6,-3,0,3,7", help=SNR_HELP),
    channel: str = typer.Option("awgn", help=f"{' | '.join(SPLIT_CHANNELS)}, or both comma-separated."),
    data: Optional[Path] = typer.Option(None, help="Folder holding cifar10_test_jpg (default: the shared data folder)."),
    weights: Optional[Path] = typer.Option(None, help="ResNet-20 weights (default: the shared data folder)."),
    limit: Optional[int] = typer.Option(None, help="Use only the first N test images (class-balanced)."),
    seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, help="Write results.json / results.csv into this folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    format: str = typer.Option("table", "--format", help=FORMAT_HELP),
):
    """Top-1 accuracy of split inference (CIFAR-10 test set) through the channel, with bits and channel uses."""
    from semcom.data.cifar import cifar10_test
    from semcom.experiments.results import write_results
    from semcom.schemes.splitnn.checkpoint import shipped_checkpoint
    from semcom.schemes.splitnn.evaluate import evaluate_checkpoint, row, uncompressed_accuracy
    from semcom.schemes.splitnn.variants import CIFAR_VARIANTS, default_split

    snrs, fmt = parse_snrs(snr), check_format(format)
    if out:
        out = check_output_folder(out, overwrite)
    channels = parse_names(channel)
    for c in channels:
        if c not in SPLIT_CHANNELS:
            raise SemcomError(f"unknown channel {c!r} for splitnn; choose {' or '.join(SPLIT_CHANNELS)}")
    paths = list(checkpoint) if checkpoint else [p for p in map(shipped_checkpoint, CIFAR_VARIANTS) if p.is_file()]
    if not paths:
        raise SemcomError("no splitnn checkpoints given and none shipped")
    split = default_split(str(weights) if weights else None)
    images, labels = cifar10_test(data, limit=limit)
    base = uncompressed_accuracy(split, images, labels)
    rows = [row("uncompressed", c, None, base, math.prod(split.feature_shape()) * 32, None, split) for c in channels]
    with progress_bar() as bar:
        task = bar.add_task("eval splitnn", total=len(paths) * len(snrs) * len(channels))
        for path in paths:
            rows += evaluate_checkpoint(path, images, labels, snrs, channels, split, seed, on_cell=lambda r: bar.advance(task))
    render(rows, COLUMNS, f"split inference on CIFAR-10 test ({len(images)} images)", fmt)
    if out:
        config = {"command": "semcom eval splitnn", "argv": sys.argv[1:], "checkpoints": [str(p) for p in paths],
                  "snr_db": snrs, "channels": channels, "limit": limit, "seed": seed}
        with atomic_folder(out, overwrite) as tmp:
            write_results(tmp, config, rows, rows)
    saved_note(out)
