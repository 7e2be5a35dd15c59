"""README.md and benchmarks/README.md commands work as typed on a fresh machine: every ``semcom ...`` line names a
real (sub)command and real options, and every ``semcom``/``python benchmarks/...`` line runs in the virtual
environment (the ``.venv/bin/`` prefix, or ``source .venv/bin/activate`` earlier in its block). Only ``--help`` is
run, never a long job."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from semcom.cli import main
from semcom.cli.common import app

ROOT = Path(__file__).resolve().parents[1]
READMES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md"]
ACTIVATE = "source .venv/bin/activate"


def code_blocks(path: Path) -> list[list[str]]:
    """The lines of every ```bash / ```sh block (backslash continuations joined)."""
    blocks = re.findall(r"```(?:bash|sh|console)\n(.*?)```", path.read_text(), flags=re.S)
    return [block.replace("\\\n", " ").splitlines() for block in blocks]


def commands(line: str) -> list[str]:
    """The commands of a shell line, comments dropped, split at &&, ;, | (a pipe into a file is not a command)."""
    line = re.sub(r"(^|\s)#.*$", "", line)
    return [part.strip() for part in re.split(r"&&|;|\|(?!\s*--)", line) if part.strip()]


def program(command: str) -> tuple[str, list[str]]:
    """(program as typed, its arguments), leading VAR=value assignments skipped."""
    words = command.split()
    while words and re.match(r"^[A-Z_]+=\S*$", words[0]):
        words = words[1:]
    return (words[0], words[1:]) if words else ("", [])


def semcom_lines() -> list[tuple[str, list[str]]]:
    """(README line, arguments after 'semcom') for every semcom command in a code block of either README."""
    found = []
    for path in READMES:
        for block in code_blocks(path):
            for line in block:
                for command in commands(line):
                    name, args = program(command)
                    if name in ("semcom", ".venv/bin/semcom"):
                        found.append((line, args))
    return found


def test_every_command_line_runs_in_the_virtual_environment():
    bare = []
    for path in READMES:
        for block in code_blocks(path):
            activated = False
            for line in block:
                activated |= line.strip().startswith(ACTIVATE)
                for command in commands(line):
                    name, args = program(command)
                    needs_venv = name == "semcom" or (name == "python" and args[:1] != [] and
                                                      (args[0].startswith("benchmarks/") or args[0] == "-c"))
                    if needs_venv and not activated:
                        bare.append(f"{path.name}: {line.strip()}")
    assert not bare, "prefix with .venv/bin/ or put 'source .venv/bin/activate' first in the block:\n" + "\n".join(bare)


def test_the_readme_shows_semcom_commands():
    assert len(semcom_lines()) >= 20


def cli_path(args: list[str]) -> tuple[list[str], object, list[str]]:
    """The subcommand path at the start of ``args``, the click command it names and the remaining words."""
    command = typer.main.get_command(app)
    path = []
    while hasattr(command, "commands") and args and args[0] in command.commands:
        path.append(args[0])
        command = command.commands[args[0]]
        args = args[1:]
    return path, command, args


def option_names(command) -> set[str]:
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)} | {"-h", "--help"}


@pytest.mark.parametrize("line,args", semcom_lines(), ids=lambda v: " ".join(v[:3]) if isinstance(v, list) else None)
def test_every_readme_semcom_command_exists_with_its_options(line, args):
    path, command, rest = cli_path([a.strip("[]") for a in args])
    words = [w for w in rest if w]
    if not path:  # 'semcom -h | --version'
        assert words and words[0] in ("-h", "--help", "--version"), line
        return
    assert not hasattr(command, "commands"), f"'{' '.join(path)}' needs a subcommand: {line}"
    unknown = [w.split("=")[0] for w in words if w.startswith("--") and w.split("=")[0] not in option_names(command)]
    assert not unknown, f"'semcom {' '.join(path)}' has no option {', '.join(unknown)}: {line}"


def test_every_readme_subcommand_answers_help(capsys):
    paths = sorted({tuple(cli_path([a.strip("[]") for a in args])[0]) for _, args in semcom_lines()} - {()})
    assert len(paths) >= 10
    for path in paths:
        assert main([*path, "--help"]) == 0, path
    assert "Usage" in capsys.readouterr().out
