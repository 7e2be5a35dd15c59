"""Results on disk: a folder written completely or not at all, with results.json and results.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch

from semcom.outputs import atomic_folder  # noqa: F401  (results are written through it)


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
