"""``semcom transmit --scheme language`` prints what arrives each round; ``semcom eval language`` tabulates
similarity, rounds to 90 %, WER and channel uses; bad input is a one-line error."""

import json

import pytest

from semcom.cli import main

CAPTION = "A black dog is running through the grass ."


def test_transmit_text_prints_each_round(capsys):
    assert main(["transmit", "--scheme", "language", "--text", CAPTION, "--policy", "nouns", "--link", "ideal",
                 "--snr", "10"]) == 0
    out = capsys.readouterr().out
    assert "round 1: sent 'dog'" in out and f"received: '{CAPTION}'" in out and "channel uses" in out


def test_transmit_caption_file_json_and_round_budget(tmp_path, capsys):
    (tmp_path / "c.txt").write_text("un chien 🐶 court\n", encoding="utf-8")
    assert main(["transmit", str(tmp_path / "c.txt"), "--scheme", "language", "--link", "qam16", "--snr", "30",
                 "--rounds", "2", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert len(row["rounds"]) == 2 and row["channel_uses"] == sum(r["channel_uses"] for r in row["rounds"])


@pytest.mark.parametrize("argv, message", [
    (["--text", ""], "empty caption"),
    (["--text", "a dog", "--policy", "loudest"], "unknown policy"),
    (["--text", "a dog", "--link", "smoke"], "unknown text link"),
    ([], "give --text"),
    (["--text", "a dog", "--mode", "poem"], "unknown mode"),
    (["--text", "a dog", "--rounds", "0"], "rounds must be"),
])
def test_transmit_text_bad_input_is_one_line(argv, message, capsys):
    assert main(["transmit", "--scheme", "language", *argv]) == 2
    err = capsys.readouterr()
    assert message in err.out + err.err


def test_image_schemes_refuse_text_options(tmp_path, capsys):
    assert main(["transmit", "--scheme", "jscc", "--text", "a dog"]) == 2


def test_eval_language_json(tmp_path, capsys):
    (tmp_path / "caps.txt").write_text(CAPTION + "\nTwo men play football on a field .\n", encoding="utf-8")
    assert main(["eval", "language", "--policy", "ssc,oracle", "--link", "ideal", "--captions",
                 str(tmp_path / "caps.txt"), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in rows] == ["ssc", "oracle"]
    assert all(r["similarity"] > 0.99 and r["wer"] == 0 and r["captions"] == 2 for r in rows)
    assert rows[1]["rounds_to_90"] <= rows[0]["rounds_to_90"]  # the greedy oracle bounds SSC


def test_eval_language_unknown_policy_and_missing_captions(tmp_path, capsys):
    assert main(["eval", "language", "--policy", "loudest"]) == 2
    assert main(["eval", "language", "--captions", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr()
    assert "no captions at" in err.out + err.err


def test_eval_language_on_the_shared_flickr8k_captions(capsys):
    from semcom.data.sources import shared_data_dir

    if shared_data_dir() is None or not (shared_data_dir() / "flickr8k_captions").is_dir():
        pytest.skip("no shared flickr8k_captions")
    assert main(["eval", "language", "--policy", "nouns", "--link", "qam16", "--snr", "16", "--limit", "3",
                 "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["captions"] == 3 and 0 <= row["wer"] < 1 and row["channel_uses_per_round"] > 0
