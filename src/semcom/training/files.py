"""The files of a training run that must never be half-written or silently reused: atomic writes, and the check
that a run is resumed with the settings it was started with (re-exported by ``semcom.outputs``)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from semcom.errors import SemcomError

TMP_PREFIX = ".semcom-tmp-"


@contextmanager
def atomic_file(out: str | Path):
    """Yield a temporary path beside ``out`` (same suffix, so writers pick the format from it); on success it
    replaces ``out``, on any error or Ctrl-C it is removed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{TMP_PREFIX}{out.stem}-{os.getpid()}{out.suffix}")
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)



# Settings that may change between resumes: where and how fast a run goes, how long (extending a run is resuming
# it), and the warm start (used only when a run begins).
RUN_ONLY_SETTINGS = ("out", "device", "threads", "cache", "eval_every", "log_every", "ckpt_every", "init_from", "steps", "cpu_budget_s",
                     "stage1_steps", "stage2_steps")


def changed_settings(saved: dict, current: dict, ignore: tuple[str, ...] = RUN_ONLY_SETTINGS) -> list[str]:
    """'name: old -> new' for each setting that differs between a run's saved config and the current one
    (tuples and lists compare equal; keys in ``ignore`` and keys only one side has are skipped)."""

    def plain(v):
        return [plain(i) for i in v] if isinstance(v, (list, tuple)) else v

    return [f"{k}: {plain(saved[k])} -> {plain(current[k])}" for k in sorted(saved.keys() & current.keys())
            if k not in ignore and plain(saved[k]) != plain(current[k])]


def check_resume(saved: dict | None, current: dict, path: str | Path, resume_anyway: bool, log,
                 ignore: tuple[str, ...] = RUN_ONLY_SETTINGS, flag: str = "--resume-anyway") -> None:
    """Refuse to resume the run in ``path`` with other settings than it was started with, unless ``resume_anyway``
    (then ``log`` says what changed)."""
    changed = changed_settings(saved or {}, current, ignore)
    if not changed:
        return
    if not resume_anyway:
        raise SemcomError(f"{path} was trained with other settings ({'; '.join(changed)}): pass the original ones to "
                          f"resume, {flag} to continue with the new ones, or another --out to start a new run")
    log(f"resuming {path} with changed settings: {'; '.join(changed)}")
