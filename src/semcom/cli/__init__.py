"""The ``semcom`` command line, one module per scheme group; every command is callable in-process as ``main(argv)``.

``common`` (apps, grids, the table renderer), ``registry`` (the one place that knows every scheme), ``images``
(eval jscc/softcast/digital/bound), ``lamsc``, ``language``, ``gesco`` (train/eval gesco, the label-map path of
transmit), ``splitnn``, ``attention_ci``, ``transmit``, ``train``, ``demo``, ``models``, ``serve`` (serve, offload).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from semcom import __version__
from semcom.cli import (  # noqa: F401 (commands)
    attention_ci, common, demo, gesco, images, lamsc, language, models, serve, splitnn, train, transmit
)
from semcom.cli.common import app, console
from semcom.errors import SemcomError


def show_version(value: bool) -> None:
    if value:
        common.out_console.print(f"semcom {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def root(version: bool = typer.Option(False, "--version", callback=show_version, is_eager=True,
                                      help="Print the version and exit.")):
    """semcom: semantic communication toolkit."""


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input) instead of raising for known errors."""
    from semcom.seeding import fast_cpu_math

    fast_cpu_math()
    typed = Path(sys.argv[0]).name == "semcom" and argv is None
    common.INVOCATION = [sys.argv[0] if typed else "semcom", *(sys.argv[1:] if argv is None else argv)]
    try:
        result = app(args=argv, prog_name="semcom", standalone_mode=False)
    except SemcomError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        console.print("aborted")
        return 130
    except typer.TyperException as exc:  # usage errors: unknown command or option, missing argument, ...
        console.print(f"[red]error:[/red] {exc.format_message()} (see --help)", highlight=False, soft_wrap=True)
        return exc.exit_code
    return result if isinstance(result, int) else 0


def entry() -> None:
    sys.exit(main())


__all__ = ["app", "entry", "main"]
