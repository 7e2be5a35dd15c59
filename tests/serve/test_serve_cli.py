"""``semcom offload`` against a real server gives the rows of the in-process evaluation; ``semcom serve`` refuses to
start without a token."""

import json

import pytest

from semcom.cli import main
from serve_support import TOKEN, jscc, start_server  # noqa: F401 (fixtures)


def test_offload_gives_the_in_process_evaluation(jscc, start_server, smooth_photos, monkeypatch, capsys, tmp_path):
    import semcom

    server = start_server(jscc)
    monkeypatch.setenv("SEMCOM_TOKEN", TOKEN)
    assert main(["offload", str(smooth_photos), "--server", server.url, "--scheme", "jscc", "--snr", "7", "--seed",
                 "3", "--concurrency", "2", "--out", str(tmp_path / "rx"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    expected = semcom.evaluate(jscc.scheme.transmitter, smooth_photos, snr_db=7, seed=3)
    assert [r["image"] for r in rows] == [e["image"] for e in expected]
    for row, want in zip(rows, expected):
        assert row["channel_uses"] == want["channel_uses"] and row["psnr_db"] == pytest.approx(want["psnr_db"], abs=1e-4)
        assert (tmp_path / "rx" / f"{row['image']}.png").is_file()
    monkeypatch.delenv("SEMCOM_TOKEN")
    assert main(["offload", str(smooth_photos), "--server", server.url, "--scheme", "jscc"]) == 2
    assert "401" in capsys.readouterr().err


def test_serve_needs_a_token_and_a_served_scheme(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("SEMCOM_TOKEN", raising=False)
    assert main(["serve", "--scheme", "jscc", "--port", "0"]) == 2
    assert "token authentication is on" in capsys.readouterr().err
    (tmp_path / "t").write_text("short\n")
    assert main(["serve", "--scheme", "jscc", "--token-file", str(tmp_path / "t")]) == 2
    assert "at least 16" in capsys.readouterr().err
    assert main(["offload", str(tmp_path), "--server", "http://127.0.0.1:9", "--scheme", "lamsc"]) == 2
    assert "not served" in capsys.readouterr().err


def test_variant_picks_a_shipped_splitnn_codec_and_is_checked(capsys, tmp_path):
    from semcom.cli.serve import scheme_options
    from semcom.schemes.splitnn.checkpoint import shipped_checkpoint

    assert scheme_options("splitnn", None, None, "semanticnn-c4b2")["checkpoint"] == shipped_checkpoint("semanticnn-c4b2")
    (tmp_path / "im.png").write_bytes(b"")
    for argv, message in ((["--scheme", "splitnn", "--variant", "nope"], "no shipped splitnn variant 'nope'; choose"),
                          (["--scheme", "jscc", "--variant", "semanticnn-c4b2"], "--variant names a shipped splitnn")):
        assert main(["offload", str(tmp_path / "im.png"), "--server", "http://127.0.0.1:9", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
