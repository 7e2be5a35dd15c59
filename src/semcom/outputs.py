"""Output paths: checked before any work starts, written so that an error or Ctrl-C leaves no half-written
result and no temporary file, and never at the cost of a user's own files.

A folder semcom writes results into holds a marker file, ``.semcom-output``, listing the entries semcom wrote
there. Everything else in the folder is the user's: a folder holding such entries is refused unless the caller
passes ``overwrite=True`` (the CLI's ``--overwrite``), and even then only entries of the same name as a result
are replaced; nothing else is ever deleted.

Also here: ``changed_settings``, which training loops use to refuse resuming a run with other settings.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from semcom.errors import SemcomError
# re-exported: the files of a training run live in the base training package, which must not import this module
from semcom.training.files import (  # noqa: F401
    RUN_ONLY_SETTINGS, TMP_PREFIX, atomic_file, changed_settings, check_resume,
)

MARKER = ".semcom-output"


def read_marker(folder: Path) -> set[str]:
    """Names of the entries semcom wrote into ``folder`` (empty when there is no readable marker)."""
    try:
        names = json.loads((folder / MARKER).read_text())["entries"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


def foreign_entries(folder: Path) -> list[str]:
    """Entries of ``folder`` that semcom did not write there (sorted)."""
    owned = read_marker(folder) | {MARKER}
    return sorted(p.name for p in folder.iterdir() if p.name not in owned and not p.name.startswith(TMP_PREFIX))


def check_writable(path: Path, shown: str | Path) -> None:
    """SemcomError unless a file can be created in ``path`` or, when it does not exist yet, in the nearest existing
    folder above it (a real write test: permissions alone say nothing under root or on read-only mounts)."""
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise SemcomError(f"cannot write {shown}: {ancestor} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX, dir=ancestor)
    except OSError as exc:
        reason = exc.strerror or exc
        raise SemcomError(f"cannot write {shown}: no file can be created in {ancestor} ({reason})") from None
    os.close(fd)
    os.unlink(probe)


def check_output_folder(out: str | Path, overwrite: bool = False, option: str = "--out") -> Path:
    """Validate a results folder before any work starts; returns it as an absolute path.

    Refused with a one-line SemcomError: an existing file, the filesystem root, an unwritable place, and a folder
    holding entries semcom did not write (unless ``overwrite``).
    """
    path = Path(out).expanduser().resolve()
    if path == path.parent:
        raise SemcomError(f"{option} {out} is the filesystem root; name a folder for the results")
    if path.exists() and not path.is_dir():
        raise SemcomError(f"{option} {out} is an existing file, not a folder; name a new folder for the results")
    if path.is_dir() and not overwrite:
        foreign = foreign_entries(path)
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise SemcomError(f"{option} {out} already holds files semcom did not write ({shown}); name a new or empty "
                              "folder, or pass --overwrite to write the results into it (other files are kept)")
    check_writable(path, out)
    return path


def check_output_file(out: str | Path, suffixes: tuple[str, ...], option: str = "--out") -> Path:
    """Validate an output file name before any work starts: a file name (not a folder) ending in one of
    ``suffixes``, in a place that can be written. An existing file of that name is replaced at the end."""
    text = str(out)
    path = Path(out).expanduser()
    example = f"result{suffixes[0]}"
    if text.endswith(("/", os.sep)) or path.name in ("", ".", "..") or path.is_dir():
        raise SemcomError(f"{option} {out} is a folder; name a file such as {path.resolve() / example}")
    if path.suffix.lower() not in suffixes:
        others = f" (or {', '.join(suffixes[1:])})" if len(suffixes) > 1 else ""
        raise SemcomError(f"{option} {out} needs a file name ending in {suffixes[0]}{others}, e.g. "
                          f"{path.with_suffix(suffixes[0])}")
    check_writable(path.parent, out)
    return path


def check_run_folder(out: str | Path, option: str = "--out") -> Path:
    """Validate a training run folder (created, or resumed when it holds last.pt) before any work starts."""
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise SemcomError(f"{option} {out} is an existing file, not a folder; name a folder for the run")
    check_writable(path, out)
    return path


@contextmanager
def atomic_folder(out: str | Path, overwrite: bool = False):
    """Yield an empty temporary folder for the results; on success its entries move into ``out``, on any error or
    Ctrl-C it is removed and ``out`` is untouched.

    A new ``out`` appears whole (one rename). Into an existing folder the entries are moved one by one: entries
    semcom wrote there before are replaced or, when this run did not write them again, removed; entries of the
    user's are kept, except that with ``overwrite`` a file named like a result is replaced by it (a folder is
    merged into). The marker then lists the entries that are wholly semcom's.
    """
    out = check_output_folder(out, overwrite)
    if out.exists():
        tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=out))
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{out.name}-", dir=out.parent))
    try:
        yield tmp
        written = sorted(p.name for p in tmp.iterdir() if p.name != MARKER)
        if not out.exists():
            write_marker(tmp, written)
            tmp.rename(out)
            return
        check_output_folder(out, overwrite)  # the folder may have changed while the work ran
        owned = read_marker(out)
        for name in owned - set(written):
            remove(out / name)
        merged = [name for name in written if move_into(tmp / name, out / name, owned=name in owned)]
        write_marker(out, [name for name in written if name not in merged])  # a user's folder stays the user's
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_marker(folder: Path, entries: list[str]) -> None:
    (folder / MARKER).write_text(json.dumps({"written_by": "semcom", "entries": entries}, indent=1) + "\n")


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def move_into(src: Path, dst: Path, owned: bool) -> bool:
    """Move ``src`` to ``dst``; a user's folder of that name is merged into (same-named files replaced), never
    deleted. Returns whether it was merged into such a folder."""
    if dst.is_dir() and not dst.is_symlink() and not owned:
        if not src.is_dir():
            raise SemcomError(f"cannot write {dst}: a folder of that name is in the way")
        for child in src.iterdir():
            move_into(child, dst / child.name, owned=False)
        return True
    if owned:
        remove(dst)
    elif dst.exists() and src.is_dir():
        raise SemcomError(f"cannot write folder {dst}: a file of that name is in the way")
    os.replace(src, dst)
    return False
