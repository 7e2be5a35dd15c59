"""Readable output and honest options: tables at 80 columns, --format csv|json, the transmit summary, refused
options, SNR/CBR grid forms, --version/-h, and 'semcom models'."""

import csv
import io
import json

import pytest
from rich.console import Console

from semcom.cli import main
from semcom.cli.common import Column, parse_cbrs, parse_snrs, render
from semcom.errors import SemcomError
from semcom.training.checkpoint import PACKAGE_CHECKPOINTS


@pytest.fixture(scope="session")
def folder(smooth_photos):
    return smooth_photos


def rendered(rows, columns, width=80) -> str:
    buffer = io.StringIO()
    render(rows, columns, "a title", "table", Console(width=width, file=buffer, color_system=None))
    return buffer.getvalue()


def image_rows():
    return [{"scheme": s, "channel": c, "cbr_target": 1 / 16, "snr_db": 7.0, "psnr_db": 25.123, "ms_ssim": 0.91234,
             "success_rate": 1.0, "channel_uses": 18432.0, "seconds": 0.123}
            for s in ("jscc", "softcast-pca", "digital-jpeg", "digital-webp", "bound-avif")
            for c in ("awgn", "rayleigh-block")]


def test_tables_fit_80_columns_and_never_truncate_identifying_cells():
    from semcom.cli import attention_ci, images, lamsc, models, splitnn

    cases = [
        (image_rows(), images.SUMMARY_COLUMNS),
        ([{"scheme": "semanticnn-c12b3-la", "channel": "rayleigh", "snr_db": -6.0, "accuracy": 61.25, "bits": 2304,
           "compression_vs_features": 113.8, "channel_uses": 1152}], splitnn.COLUMNS),
        ([{"snr_db": 13.0, "channel_uses": 4321.0, "uses_vs_full_jscc": 0.44, "region_psnr_db": 27.5, "psnr_db": 20.1,
           "region_ms_ssim": 0.95, "sent_segments": 1.0, "segments": 5.0, "fallbacks": 0, "side_losses": 0}], lamsc.COLUMNS),
        ([{"link": "analog", "snr_db": 5.0, "accuracy": 70.0, "offload_rate": 0.3, "patch_fraction": 0.5,
           "bits_per_image": 0.0, "channel_uses_per_image": 120.0, "seed_cost": 0.15, "relative": 0.4,
           "delivered_rate": 1.0}], attention_ci.EVAL_COLUMNS),
        (models.model_rows(), models.COLUMNS),
    ]
    cases.append(([{**r, "scheme": s, "channel": "rayleigh", "snr_db": v, "channel_uses": 67340.0}
                   for r in image_rows()[:1] for s in ("bound-jpeg", "bound-webp") for v in (4.0, 10.0)],
                  images.SUMMARY_COLUMNS))
    for rows, columns in cases:
        text = rendered(rows, columns)
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= 80 and "…" not in text
        assert all(line.endswith(("┓", "┃", "┩", "│", "┘")) for line in lines if line.startswith(("┏", "┃", "┡", "│", "└")))
        for row in rows:
            for column in columns:
                if column.key:
                    assert column.cell(row) in text, (column.header, column.cell(row))
    image_table = rendered(image_rows(), images.SUMMARY_COLUMNS)
    assert "1/16" in image_table and "not shown at this width" in image_table  # CBR as a fraction; dropped ones named
    assert "18432" in rendered(image_rows(), images.SUMMARY_COLUMNS, width=140)  # channel uses as integers
    assert "not shown" not in rendered(image_rows(), images.SUMMARY_COLUMNS, width=140)


def test_a_table_with_only_key_columns_is_never_cut():
    rows = [{"name": "x" * 30, "other": "y" * 30}]
    text = rendered(rows, [Column("name", lambda r: r["name"], key=True), Column("other", lambda r: r["other"])], width=40)
    assert "x" * 30 in text and "y" * 30 not in text


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_eval_format_csv_and_json_parse_back(fmt, folder, capsys):
    assert main(["eval", "bound", "--data", str(folder), "--snr", "4,13", "--cbr", "1/8", "--codec", "jpeg,webp",
                 "--format", fmt]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out))) if fmt == "csv" else json.loads(captured.out)
    assert {(r["scheme"], float(r["snr_db"])) for r in rows} == {(s, v) for s in ("bound-jpeg", "bound-webp")
                                                                  for v in (4.0, 13.0)}
    assert all(float(r["cbr_target"]) == 0.125 and float(r["psnr_db"]) > 10 for r in rows)
    assert "results not saved" in captured.err  # eval without --out says so (on stderr: stdout stays parseable)


def test_eval_with_out_says_where_results_went(folder, tmp_path, capsys):
    assert main(["eval", "bound", "--data", str(folder), "--snr", "7", "--cbr", "1/8", "--out", str(tmp_path / "r")]) == 0
    assert f"results written to {tmp_path / 'r'}" in capsys.readouterr().err


def test_transmit_prints_a_human_summary_and_json_on_request(folder, tmp_path, capsys):
    args = ["transmit", str(folder / "im0.png"), "--scheme", "bound", "--snr", "7", "--cbr", "1/8", "--codec", "jpeg"]
    assert main([*args, "--out", str(tmp_path / "a.png")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("bound-jpeg over awgn at 7 dB, CBR 1/8: ") and "channel uses" in text
    assert "PSNR" in text and f"written to {tmp_path / 'a.png'}" in text and len(text.splitlines()) == 3
    assert main([*args, "--out", str(tmp_path / "b.png"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["scheme"] == "bound-jpeg" and row["cbr"] == 0.125 and isinstance(row["channel_uses"], int)
    assert f"{row['channel_uses']} channel uses" in text and f"PSNR {row['psnr_db']:.2f} dB" in text


@pytest.mark.parametrize("argv, message", [
    (["eval", "jscc", "--data", "{folder}", "--codec", "webp", "--fast"], "No such option: --codec"),
    (["eval", "bound", "--data", "{folder}", "--fast"], "No such option: --fast"),
    (["eval", "digital", "--data", "{folder}", "--transform", "dct"], "No such option: --transform"),
    (["transmit", "{folder}/im0.png", "--scheme", "jscc", "--transform", "dct", "--out", "{tmp}/x.png"],
     "--transform does not apply to --scheme jscc (it takes --cbr, --checkpoint, --fit-budget, --side-link)"),
    (["transmit", "{folder}/im0.png", "--scheme", "digital", "--scorer", "none", "--side-link", "ldpc",
      "--out", "{tmp}/x.png"], "--scorer, --side-link do not apply to --scheme digital"),
    (["transmit", "{folder}/im0.png", "--scheme", "splitnn", "--out", "{tmp}/x.png"], "--out does not apply"),
    (["transmit", "{folder}/im0.png", "--scheme", "jscc"], "needs --out"),
    (["transmit", "{folder}/im0.png", "--snr", "1,4", "--out", "{tmp}/x.png"], "one SNR"),
    (["eval", "attention-ci", "--link", "analog"], "without --snr the link is ideal"),
    (["eval", "bound", "--data", "{folder}", "--snr", "1:13"], "START:STOP:STEP"),
    (["eval", "bound", "--data", "{folder}", "--format", "xml"], "unknown --format"),
])
def test_inapplicable_options_and_bad_forms_are_refused_in_one_line(argv, message, folder, tmp_path, capsys):
    assert main([a.format(folder=folder, tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_snr_and_cbr_grid_forms():
    assert parse_snrs("1:13:3") == [1, 4, 7, 10, 13]
    assert parse_snrs("0, 2:6:2") == [0, 2, 4, 6]
    assert parse_snrs("-6:-3:1.5") == [-6, -4.5, -3]
    assert parse_cbrs("1/32,1/16") == [1 / 32, 1 / 16]
    with pytest.raises(SemcomError, match="a comma list"):
        parse_snrs("1:13")
    with pytest.raises(SemcomError, match="STEP > 0"):
        parse_snrs("13:1:3")
    with pytest.raises(SemcomError, match="snr_db must lie"):
        parse_snrs("0:50:10")
    with pytest.raises(SemcomError, match="CBR must be"):
        parse_cbrs("1/16,0")


def test_version_and_short_help(capsys):
    from semcom import __version__

    assert main(["--version"]) == 0 and capsys.readouterr().out.strip() == f"semcom {__version__}"
    assert main(["-h"]) == 0 and "transmit" in capsys.readouterr().out
    assert main(["eval", "jscc", "-h"]) == 0 and "--checkpoint" in capsys.readouterr().out


def test_help_texts_take_channel_names_from_the_channel_registry(capsys):
    from pathlib import Path

    import semcom.cli
    from semcom.channels import CHANNELS

    sources = "".join(p.read_text() for p in Path(semcom.cli.__file__).parent.glob("*.py"))
    assert "awgn | rayleigh" not in sources and "rayleigh-block |" not in sources  # never a hand-written list
    assert main(["eval", "jscc", "-h"]) == 0
    text = capsys.readouterr().out
    assert all(c in text for c in CHANNELS)


def test_models_lists_every_shipped_model_file(capsys):
    files = {p.relative_to(PACKAGE_CHECKPOINTS).as_posix() for p in PACKAGE_CHECKPOINTS.rglob("*")
             if p.suffix in (".pt", ".th", ".safetensors")}
    assert main(["models", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["file"] for r in rows} == files and len(files) >= 15
    by_file = {r["file"]: r for r in rows}
    jscc = by_file["adjscc.pt"]
    assert jscc["scheme"] == "jscc" and "1/64,1/32,1/16,1/8" in jscc["serves"] and "SNR -2..16 dB" in jscc["serves"]
    assert jscc["steps"] == 17000 and jscc["runs"] == 2 and 2.5 < jscc["cpu_hours"] < 3  # both stages, from the logs
    assert "semcom train jscc" in jscc["trained_by"]
    assert all(r["scheme"] != "?" and r["trained_by"] and r["size_mb"] > 0 for r in rows)
    assert "CBR 1/32" in by_file["lamsc/asc.pt"]["serves"]
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "adjscc.pt" in text and "trained by: semcom train jscc" in text and "scripts/train_splitnn.sh" in text
    assert "serves: CBR 1/64,1/32,1/16,1/8, SNR -2..16 dB" in text
