"""What every command shares: the Typer apps, the consoles, THE place that parses and checks SNR/CBR grids, the
one table renderer (also csv/json), progress bars and the training runner."""

from __future__ import annotations

import csv
import io
import json
import math
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
)
from rich.table import Table

from semcom.channels import CHANNELS
from semcom.errors import SemcomError
from semcom.jscc.transmitter import DEFAULT_CBR
from semcom.outputs import check_output_file, check_resume, check_run_folder
from semcom.units import cbr_text

app = typer.Typer(add_completion=False, no_args_is_help=True, help="semcom: semantic communication toolkit.",
                  context_settings={"help_option_names": ["-h", "--help"]})
train_app = typer.Typer(no_args_is_help=True, help="Train a model.")
app.add_typer(train_app, name="train")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluate a scheme over an SNR grid.")
app.add_typer(eval_app, name="eval")
sweep_app = typer.Typer(no_args_is_help=True, help="Sweep a scheme's operating points.")
app.add_typer(sweep_app, name="sweep")
console = Console(stderr=True)  # progress, notes and errors
out_console = Console()  # results
INVOCATION = ["semcom"]  # the command line being run, as typed (set by main); shown in the resume hint

DEFAULT_CBR_TEXT = cbr_text(DEFAULT_CBR)
CHANNEL_HELP = " | ".join(CHANNELS)
SNR_FORMS = "a comma list (1,4,7), a range START:STOP:STEP that includes STOP (1:13:3), or both (0,1:13:3)"
SNR_HELP = f"SNRs in dB: {SNR_FORMS}."
CBR_HELP = "Channel bandwidth ratios (channel uses per source dimension), comma-separated fractions (1/32,1/16)."
FORMATS = ("table", "csv", "json")
FORMAT_HELP = "table (for people, fits the terminal) | csv | json (every summary column, machine-readable, on stdout)."
OVERWRITE_HELP = ("Write into --out even if it holds files semcom did not write there (results replace files of "
                  "the same name; nothing else is deleted).")
RESUME_ANYWAY_HELP = "Resume the run in --out even though its settings differ from the ones given now."
CHECKPOINT_SUFFIXES = (".pt", ".pth")


# ---- grids -------------------------------------------------------------------------------------------------------

def parse_number(text: str) -> float:
    """'7', '-2.5' or '1/16' -> float ('nan'/'inf' pass through for the range checks to name); SemcomError otherwise."""
    text = text.strip()
    try:
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        pass
    try:
        value = float(text)
    except ValueError:
        raise SemcomError(f"not a number: {text!r}") from None
    if math.isfinite(value):
        raise SemcomError(f"not a number: {text!r}")
    return value


def expand_range(item: str, option: str) -> list[float]:
    """'1:13:3' -> [1, 4, 7, 10, 13] (STOP included when the steps reach it)."""
    parts = item.split(":")
    if len(parts) != 3:
        raise SemcomError(f"{option} {item!r}: a range is START:STOP:STEP; accepted forms: {SNR_FORMS}")
    start, stop, step = (parse_number(p) for p in parts)
    if not (step > 0 and start <= stop):
        raise SemcomError(f"{option} {item!r}: a range needs START <= STOP and STEP > 0; accepted forms: {SNR_FORMS}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    return [round(start + i * step, 9) for i in range(count)]


def parse_snrs(text: str, option: str = "--snr") -> list[float]:
    """An SNR grid in dB (see ``SNR_FORMS``), each value checked against the supported range."""
    from semcom.units import check_snr_db

    values = []
    for item in (t.strip() for t in text.split(",")):
        if item:
            values += expand_range(item, option) if ":" in item else [parse_number(item)]
    if not values:
        raise SemcomError(f"{option} needs at least one value; accepted forms: {SNR_FORMS}")
    check_snr_db(values)
    return values


def parse_cbrs(text: str, option: str = "--cbr") -> list[float]:
    """A CBR grid: comma-separated numbers or fractions, each finite and > 0."""
    values = [parse_number(t) for t in text.split(",") if t.strip()]
    if not values:
        raise SemcomError(f"{option} needs at least one value, e.g. {DEFAULT_CBR_TEXT}")
    bad = [c for c in values if not (math.isfinite(c) and c > 0)]
    if bad:
        raise SemcomError(f"CBR must be a finite number > 0, got {bad[0]!r}")
    return values


def parse_cbr(text: str | None, option: str = "--cbr") -> float | None:
    """One CBR (None stays None: the scheme's own default)."""
    if text is None:
        return None
    values = parse_cbrs(text, option)
    if len(values) != 1:
        raise SemcomError(f"{option} takes one value here, got {text!r}")
    return values[0]


def parse_snr_range(text: str, option: str = "--snr-range") -> tuple[float, float]:
    """'A,B' -> (A, B) for training SNR ranges; SemcomError otherwise."""
    values = [parse_number(t) for t in text.split(",") if t.strip()]
    if len(values) != 2:
        raise SemcomError(f"{option} needs two values A,B, got {text!r}")
    return values[0], values[1]


def parse_names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def check_channel(name: str) -> str:
    from semcom.channels import build_channel

    build_channel(name)
    return name


def refuse_inapplicable(given: dict, allowed: set[str], what: str) -> None:
    """One-line SemcomError naming options that were given (not None/False) but mean nothing for ``what``."""
    extra = sorted(name for name, value in given.items() if value not in (None, False) and name not in allowed)
    if extra:
        flags = ", ".join("--" + n.replace("_", "-") for n in extra)
        takes = ", ".join("--" + n.replace("_", "-") for n in sorted(allowed & set(given))) or "none of them"
        raise SemcomError(f"{flags} {'does' if len(extra) == 1 else 'do'} not apply to {what} (it takes {takes})")


# ---- output ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """A table column: ``header``, ``cell(row) -> str``; ``key`` columns identify the row (scheme, codec, variant,
    SNR, ...): never truncated, never dropped. Other columns are dropped from the right when the table does not fit."""

    header: str
    cell: Callable[[dict], str]
    key: bool = False


def number(key: str, digits: int = 2) -> Callable[[dict], str]:
    return lambda r: "-" if r.get(key) is None else f"{r[key]:.{digits}f}"


def integer(key: str) -> Callable[[dict], str]:
    return lambda r: "-" if r.get(key) is None else f"{round(r[key]):d}"


def snr_cell(key: str = "snr_db") -> Callable[[dict], str]:
    return lambda r: "-" if r.get(key) is None else f"{r[key]:g}"


def cbr_cell(key: str = "cbr_target") -> Callable[[dict], str]:
    return lambda r: "-" if r.get(key) is None else cbr_text(r[key])


SCHEME_COLUMN = Column("scheme", lambda r: r["scheme"], key=True)
CHANNEL_COLUMN = Column("channel", lambda r: r["channel"], key=True)
SNR_COLUMN = Column("SNR dB", snr_cell(), key=True)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise SemcomError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def render(rows: list[dict], columns: list[Column], title: str, fmt: str = "table", target: Console | None = None) -> None:
    """THE table renderer. ``table``: a rich table that fits ``target``'s width (80 when piped): key columns keep their
    full text, secondary columns are dropped from the right (named in the caption) until it fits. ``csv``/``json``:
    every field of ``rows`` at full precision on stdout."""
    target = target or out_console
    if check_format(fmt) == "json":
        target.out(json.dumps(rows, indent=1, default=str), highlight=False)
        return
    if fmt == "csv":
        buffer = io.StringIO()
        fields = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows([{k: v if isinstance(v, (int, float, str, type(None))) else json.dumps(v, default=str)
                           for k, v in r.items()} for r in rows])
        target.out(buffer.getvalue().rstrip("\n"), highlight=False)
        return
    cells = [[c.cell(r) for c in columns] for r in rows]
    need = [max([max(map(len, c.header.split())), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    keep = list(range(len(columns)))
    while sum(need[i] + 3 for i in keep) + 1 > target.width and any(not columns[i].key for i in keep):
        keep.remove(max(i for i in keep if not columns[i].key))
    dropped = [columns[i].header for i in range(len(columns)) if i not in keep]
    caption = f"not shown at this width: {', '.join(dropped)} (see --format csv)" if dropped else None
    table = Table(title=title, caption=caption)
    for i in keep:
        table.add_column(columns[i].header, justify="left" if columns[i].key else "right", width=need[i],
                         overflow="fold")  # every cell fits its width; headers wrap between words
    for row in cells:
        table.add_row(*(row[i] for i in keep))
    target.print(table)


def saved_note(out: Path | None) -> None:
    """Where the results went, or that they were not saved."""
    if out:
        console.print(f"results written to {out}", highlight=False, soft_wrap=True)
    else:
        console.print("results not saved (give --out FOLDER to write results.json and results.csv)", highlight=False)


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


Step = Callable[..., Callable[[int, int], None]]
"""``step(description, total=None)`` starts the next step (ending the one before) and returns ``update(done, total)``
for a step with parts (tiles, images)."""


@contextmanager
def progress_steps() -> Iterator[Step]:
    """A live list of a command's steps on stderr (spinner, bar for steps with parts, elapsed time), so a long step
    is visibly running; it disappears when the command ends (and shows nothing when stderr is not a terminal)."""
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal)
    tasks: list = []

    def finish() -> None:
        if tasks:
            total = progress.tasks[-1].total or 1
            progress.update(tasks[-1], total=total, completed=total)
            progress.stop_task(tasks[-1])

    def step(description: str, total: int | None = None) -> Callable[[int, int], None]:
        finish()
        tasks.append(progress.add_task(description, total=total))
        task = tasks[-1]
        return lambda done, total=None: progress.update(task, completed=done, total=total)

    with progress:
        yield step
        finish()


# ---- training ----------------------------------------------------------------------------------------------------

def run_training(train_fn, cfg, export: Optional[Path], half: bool = True, resume_anyway: bool = False) -> Path:
    """Run ``train_fn(cfg, log, progress, resume_anyway)`` under a progress bar; optionally export a slim copy of the
    result. The run folder and the export path are checked first; on Ctrl-C it says how to resume."""
    from semcom.training.checkpoint import read_checkpoint, slim_copy

    check_run_folder(cfg.out)
    if export:
        export = check_output_file(export, CHECKPOINT_SUFFIXES, "--export")
    resumed = Path(cfg.out) / "last.pt"
    if resumed.is_file():  # the trainer checks again; this refuses other settings before any data is loaded
        check_resume(read_checkpoint(resumed).get("train_config"), cfg.to_dict(), resumed, resume_anyway,
                     log=lambda msg: None)
    try:
        with progress_bar() as bar:
            task = bar.add_task("train", total=cfg.steps)
            last = train_fn(cfg, log=lambda msg: bar.console.print(msg), resume_anyway=resume_anyway,
                            progress=lambda step, total, loss: bar.update(task, completed=step,
                                                                          description=f"train loss {loss:.4f}"))
    except KeyboardInterrupt:
        console.print(interrupted_message(resumed), highlight=False, soft_wrap=True)
        raise
    if export:
        slim_copy(last, export, half=half)
        out_console.print(f"exported {export}")
    out_console.print(f"checkpoint: {last}")
    return last


def interrupted_message(last: Path) -> str:
    """What to tell a user who pressed Ctrl-C during training: the last checkpoint and the command that resumes."""
    from semcom.training.checkpoint import read_checkpoint

    command = shlex.join(INVOCATION)
    if not last.is_file():
        return f"interrupted before the first checkpoint: nothing to resume; run again with: {command}"
    try:
        step = f" (step {read_checkpoint(last)['step']})"
    except (SemcomError, KeyError):
        step = ""
    return f"interrupted; last checkpoint {last}{step}; resume with: {command}"
