"""Output paths: a user's files are never deleted, bad paths are refused before any work, nothing temporary stays."""

import json
import os
from pathlib import Path

import pytest

from semcom.errors import SemcomError
from semcom.outputs import (
    MARKER, atomic_file, atomic_folder, changed_settings, check_output_file, check_output_folder, check_resume,
    check_run_folder,
)


@pytest.fixture()
def thesis(tmp_path):
    """A folder of the user's own files, nothing to do with semcom."""
    folder = tmp_path / "thesis"
    (folder / "data").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\documentclass{article}")
    (folder / "data" / "measurements.csv").write_text("a,b\n1,2\n")
    return folder


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_results(tmp: Path, text: str = "new") -> None:
    (tmp / "results.json").write_text(text)
    (tmp / "plots").mkdir()
    (tmp / "plots" / "psnr.png").write_text(text)


def test_new_folder_is_written_whole_with_a_marker_and_nothing_left_beside_it(tmp_path):
    with atomic_folder(tmp_path / "res") as tmp:
        write_results(tmp)
    assert snapshot(tmp_path / "res")["results.json"] == "new"
    assert json.loads((tmp_path / "res" / MARKER).read_text())["entries"] == ["plots", "results.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_a_folder_of_user_files_is_refused_and_left_untouched(thesis):
    before = snapshot(thesis)
    with pytest.raises(SemcomError, match="semcom did not write .*data, thesis.tex.*--overwrite") as info:
        check_output_folder(thesis)
    assert "\n" not in str(info.value)
    with pytest.raises(SemcomError, match="--overwrite"):
        with atomic_folder(thesis) as tmp:
            write_results(tmp)
    assert snapshot(thesis) == before and sorted(p.name for p in thesis.iterdir()) == ["data", "thesis.tex"]


def test_overwrite_writes_into_a_user_folder_and_keeps_every_other_file(thesis):
    (thesis / "plots").mkdir()
    (thesis / "plots" / "mine.png").write_text("the user's plot")
    (thesis / "results.json").write_text("the user's old results")
    with atomic_folder(thesis, overwrite=True) as tmp:
        write_results(tmp)
    after = snapshot(thesis)
    assert after["thesis.tex"] == "\\documentclass{article}" and after["data/measurements.csv"] == "a,b\n1,2\n"
    assert after["plots/mine.png"] == "the user's plot" and after["plots/psnr.png"] == "new"  # folders merge
    assert after["results.json"] == "new"  # a file named like a result is what --overwrite replaces
    assert not [p for p in thesis.iterdir() if p.name.startswith(".semcom-tmp")]
    # semcom's marker lists only what is wholly its own: the user's files still block a run without --overwrite,
    # and the next run with it keeps the user's plots/ folder
    assert json.loads((thesis / MARKER).read_text())["entries"] == ["results.json"]
    with pytest.raises(SemcomError, match="data, plots, thesis.tex"):
        check_output_folder(thesis)
    with atomic_folder(thesis, overwrite=True) as tmp:
        write_results(tmp, "again")
    after = snapshot(thesis)
    assert after["plots/mine.png"] == "the user's plot" and after["plots/psnr.png"] == "again"
    assert after["thesis.tex"] == "\\documentclass{article}" and after["results.json"] == "again"


def test_a_semcom_folder_is_replaced_by_the_next_run_unless_the_user_added_files(tmp_path):
    out = tmp_path / "res"
    with atomic_folder(out) as tmp:
        write_results(tmp, "first")
        (tmp / "old.csv").write_text("stale")
    with atomic_folder(out) as tmp:
        write_results(tmp, "second")
    assert snapshot(out) == {MARKER: (out / MARKER).read_text(), "results.json": "second", "plots/psnr.png": "second"}
    (out / "notes.txt").write_text("mine")
    with pytest.raises(SemcomError, match="notes.txt"):
        check_output_folder(out)


@pytest.mark.parametrize("existing", [False, True])
def test_error_or_ctrl_c_while_writing_leaves_no_temporary_folder_and_the_old_results(tmp_path, existing):
    out = tmp_path / "res"
    if existing:
        with atomic_folder(out) as tmp:
            write_results(tmp, "old")
    before = snapshot(out) if existing else None
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(out) as tmp:
            write_results(tmp, "half")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == (["res"] if existing else [])
    if existing:
        assert snapshot(out) == before


def test_dot_and_dotdot_are_the_folders_they_name(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert check_output_folder(".") == work and check_output_folder("..", overwrite=True) == tmp_path
    with atomic_folder(".") as tmp:  # an empty working folder: results go into it, it is not replaced
        write_results(tmp)
    assert Path.cwd() == work and (work / "results.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]  # no hidden folder beside it
    with pytest.raises(SemcomError, match="work"):
        check_output_folder("..")  # holds work/, which semcom did not write


def test_bad_folder_paths(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(SemcomError, match="existing file, not a folder"):
        check_output_folder(tmp_path / "file.txt")
    with pytest.raises(SemcomError, match="file.txt is a file"):
        check_output_folder(tmp_path / "file.txt" / "res")
    with pytest.raises(SemcomError, match="filesystem root"):
        check_output_folder("/")
    with pytest.raises(SemcomError, match="existing file"):
        check_run_folder(tmp_path / "file.txt")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_unwritable_places_are_refused_even_for_root():
    for check in (lambda: check_output_folder("/proc/semcom-results"), lambda: check_run_folder("/proc/run"),
                  lambda: check_output_file("/proc/rx.png", (".png",))):
        with pytest.raises(SemcomError, match="cannot write /proc/"):
            check()


@pytest.mark.parametrize("name, message", [
    ("rx", "needs a file name ending in .png"),
    ("rx.jpeg", "needs a file name ending in .png"),
    (".", "is a folder"),
    ("..", "is a folder"),
    ("sub/", "is a folder"),
    ("existing_dir", "is a folder"),
    ("notes.txt/rx.png", "notes.txt is a file"),
])
def test_bad_file_paths(name, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing_dir").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SemcomError, match=message):
        check_output_file(name, (".png", ".tif"))
    assert check_output_file("sub/rx.PNG", (".png",)) == Path("sub/rx.PNG")
    assert not (tmp_path / "sub").exists() and sorted(os.listdir(tmp_path)) == ["existing_dir", "notes.txt"]


def test_atomic_file_replaces_on_success_and_leaves_nothing_on_ctrl_c(tmp_path):
    out = tmp_path / "rx.png"
    with atomic_file(out) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_text("first")
    with pytest.raises(KeyboardInterrupt):
        with atomic_file(out) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert out.read_text() == "first" and os.listdir(tmp_path) == ["rx.png"]


def test_changed_settings_name_what_differs():
    saved = {"cbr": (1 / 16,), "snr_range": (0.0, 10.0), "out": "a", "steps": 10}
    assert changed_settings(saved, {"cbr": [1 / 16], "snr_range": [0.0, 10.0], "out": "b", "new_field": 1}) == []
    assert changed_settings(saved, {"cbr": (1 / 8,), "snr_range": (0.0, 10.0)}) == ["cbr: [0.0625] -> [0.125]"]
    notes = []
    with pytest.raises(SemcomError, match=r"run/last.pt was trained with other settings \(cbr: .*--resume-anyway"):
        check_resume(saved, {**saved, "cbr": (1 / 8,)}, "run/last.pt", False, notes.append)
    check_resume(saved, {**saved, "cbr": (1 / 8,), "out": "c", "steps": 20}, "run/last.pt", True, notes.append)
    assert notes == ["resuming run/last.pt with changed settings: cbr: [0.0625] -> [0.125]"]
