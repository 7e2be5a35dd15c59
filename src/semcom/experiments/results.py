"""Results on disk: a folder written completely or not at all, with results.json and results.csv."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch

from semcom.errors import SemcomError


@contextmanager
def atomic_folder(out: str | Path):
    """Yield a temporary folder beside ``out``; on success it replaces ``out``, on error it is removed.

    So an interrupted or failed run never leaves a half-written report in ``out``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SemcomError(f"output path {out} exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def portable_path(path: str | Path, root: str | Path) -> str:
    """``path`` relative to ``root`` when it lies inside it, else unchanged: results saved beside a repository must not
    name the folders of the machine that produced them."""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def plain_rows(rows: list[dict]) -> list[dict]:
    """Rows without tensors (for JSON/CSV)."""
    return [{k: v for k, v in r.items() if not isinstance(v, torch.Tensor)} for r in rows]


def write_results(folder: Path, config: dict, rows: list[dict], summary: list[dict]) -> None:
    rows = plain_rows(rows)
    (folder / "results.json").write_text(json.dumps({"config": config, "summary": summary, "rows": rows}, indent=1, default=str))
    fields = sorted({k for r in rows for k in r})
    with open(folder / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
