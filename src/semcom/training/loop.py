"""Pieces every training loop shares: the learning-rate schedule, CPU/wall-time accounting, the JSONL log."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from semcom.training.files import atomic_file


def cosine_lr(step: int, steps: int, lr: float, lr_min: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay from ``lr`` to ``lr_min`` at ``steps``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * progress))


class RunClock:
    """Accumulates CPU seconds (times ``world`` processes) and wall seconds across resumes."""

    def __init__(self, cpu_seconds: float = 0.0, wall_seconds: float = 0.0, world: int = 1):
        self.cpu_seconds, self.wall_seconds, self.world = cpu_seconds, wall_seconds, world
        self._cpu, self._wall = time.process_time(), time.time()

    def tick(self) -> None:
        now_cpu, now_wall = time.process_time(), time.time()
        self.cpu_seconds += (now_cpu - self._cpu) * self.world
        self.wall_seconds += now_wall - self._wall
        self._cpu, self._wall = now_cpu, now_wall

    def skip(self) -> None:
        """Forget the time since the last tick (e.g. spent on validation, not training)."""
        self._cpu, self._wall = time.process_time(), time.time()

    def state(self) -> dict:
        return {"cpu_seconds": self.cpu_seconds, "wall_seconds": self.wall_seconds,
                "cpu_hours": self.cpu_seconds / 3600}

    def hours(self) -> dict:
        return {"cpu_hours": self.cpu_seconds / 3600, "wall_hours": self.wall_seconds / 3600}


class JsonlLog:
    """Appends one JSON record per line to ``path`` and echoes a ``key=value`` line through ``echo``."""

    def __init__(self, path: str | Path, echo=print):
        self.path, self.echo = Path(path), echo

    def keep_until(self, step: int) -> int:
        """Drop the records of steps after ``step`` (a run resumed from an earlier checkpoint redoes them, and a
        fresh run in the folder, ``step`` 0, starts the log again); lines that are not JSON records are kept. Returns
        how many records were dropped."""
        if not self.path.is_file():
            return 0
        kept, dropped = [], 0
        for line in self.path.read_text().splitlines(keepends=True):
            try:
                later = json.loads(line).get("step", 0) > step
            except (ValueError, AttributeError, TypeError):
                later = False
            if later:
                dropped += 1
            else:
                kept.append(line)
        if dropped:
            with atomic_file(self.path) as tmp:
                tmp.write_text("".join(kept))
        return dropped

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        self.echo(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
