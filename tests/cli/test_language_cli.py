"""``semcom transmit --scheme language`` prints what arrives each round; ``semcom eval language`` tabulates
similarity, rounds to 90 %, WER and channel uses; bad input is a one-line error."""

import json

import pytest
import torch

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


def test_eval_language_rounds_to_90_leaves_out_captions_that_never_reach_it(tmp_path, capsys):
    (tmp_path / "caps.txt").write_text("dog\n" + CAPTION + "\n", encoding="utf-8")
    assert main(["eval", "language", "--policy", "nouns", "--link", "ideal", "--rounds", "1", "--captions",
                 str(tmp_path / "caps.txt"), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["rounds_to_90"] == 1.0 and row["reached_90"] == 0.5  # not (1 + 10) / 2: the long one never reaches it


# ---- the image loop: --model-dir with tiny random Stable Diffusion, CLIP, LPIPS and BLIP ----------------------------

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """DIR/stable-diffusion, DIR/clip, DIR/lpips (random AlexNet and heads), DIR/blip: all tiny and random."""
    pytest.importorskip("diffusers")
    from semcom.metrics.lpips import FEATURE_CHANNELS, alexnet_features
    from tests.adapters.test_language_adapters import (
        minilm_tokenizer,
        save_tiny_blip,
        save_tiny_clip,
        save_tiny_stable_diffusion,
    )

    root = tmp_path_factory.mktemp("models")
    tok = minilm_tokenizer()
    save_tiny_stable_diffusion(root / "stable-diffusion", tok)
    save_tiny_clip(root / "clip", tok)
    save_tiny_blip(root / "blip", tok)
    (root / "lpips").mkdir()
    torch.manual_seed(0)
    torch.save(alexnet_features().state_dict(), root / "lpips" / "alexnet.pth")
    torch.save({f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(FEATURE_CHANNELS)},
               root / "lpips" / "alex.pth")
    return root


def linked(model_dir, folder, names):
    """A model folder holding only ``names`` of ``model_dir`` (symbolic links)."""
    folder.mkdir()
    for name in names:
        (folder / name).symlink_to(model_dir / name, target_is_directory=True)
    return folder


IMAGE_CAPTIONS = ("a dog runs on grass", "two children play")


def test_eval_language_image_loop_end_to_end(model_dir, smooth_photos, tmp_path, capsys):
    from semcom.adapters.vision_language import StableDiffusion
    from semcom.data import load_image
    from semcom.metrics import LPIPS
    from semcom.schemes.language.images import resize

    models = linked(model_dir, tmp_path / "models", ["stable-diffusion", "clip", "lpips"])  # no blip: captions given
    (tmp_path / "caps.txt").write_text("\n".join(IMAGE_CAPTIONS) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["eval", "language", "--model-dir", str(models), "--images", str(smooth_photos), "--captions",
                 str(tmp_path / "caps.txt"), "--policy", "nouns,ssc", "--link", "ideal", "--steps", "2", "--limit",
                 "2", "--out", str(out), "--save-images", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["policy"], r["round"]) for r in rows] == [(p, k) for p in ("nouns", "ssc") for k in range(1, 6)]
    assert all(r["images"] == 2 and r["lpips"] > 0 and 0 <= r["clip_score"] <= 100 for r in rows)
    assert rows[4]["lpips"] == pytest.approx(rows[9]["lpips"]) and rows[4]["similarity"] > 0.99  # same full prompt

    result = json.loads((out / "results.json").read_text())
    assert "CLIP" in result["config"]["attention"] and result["summary"] == rows
    per_round = result["rows"]
    assert len(per_round) == 2 * (5 + 3)  # two policies, one row per image and round
    final = next(r for r in per_round if r["image"] == "im0.png" and r["policy"] == "ssc" and r["round"] == 5)
    assert final["prompt"] == IMAGE_CAPTIONS[0] and (out / "images" / final["file"]).is_file()
    image = StableDiffusion(models / "stable-diffusion", steps=2).generate(IMAGE_CAPTIONS[0], 100)
    lpips = LPIPS(models / "lpips" / "alexnet.pth", models / "lpips" / "alex.pth")
    direct = float(lpips(resize(load_image(smooth_photos / "im0.png")), resize(image))[0])
    assert final["lpips"] == pytest.approx(direct, rel=1e-5)
    prompts = {(r["image"], r["prompt"]) for r in per_round}
    assert len(list((out / "images").rglob("*.png"))) == len(prompts)  # one image per distinct prompt


def test_eval_language_image_loop_captions_with_blip(model_dir, smooth_photos, tmp_path, capsys):
    from semcom.adapters.vision_language import BlipCaptioner
    from semcom.data import load_image

    assert main(["eval", "language", "--model-dir", str(model_dir), "--images", str(smooth_photos), "--policy",
                 "random", "--link", "ldpc", "--snr", "10", "--rounds", "2", "--steps", "1", "--limit", "1",
                 "--out", str(tmp_path / "out"), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["round"] for r in rows] == [1, 2] and all(r["snr_db"] == 10 for r in rows)
    per_round = json.loads((tmp_path / "out" / "results.json").read_text())["rows"]
    caption = BlipCaptioner(model_dir / "blip").caption(load_image(smooth_photos / "im0.png"))
    assert {r["caption"] for r in per_round} == {caption}
    assert not (tmp_path / "out" / "images").exists()  # no --save-images


@pytest.mark.parametrize("names, argv, message", [
    (["stable-diffusion", "clip"], [], "lacks lpips/"),
    (["clip"], [], "lacks stable-diffusion/, lpips/"),
    (["stable-diffusion", "clip", "lpips"], [], "no caption for im0.png"),
    (["stable-diffusion", "clip", "lpips"], ["--device", "tpu"], "unknown device"),
    (["stable-diffusion", "clip", "lpips"], ["--save-images"], "--save-images writes into --out"),
])
def test_eval_language_image_loop_bad_input_is_one_line_and_writes_nothing(model_dir, smooth_photos, tmp_path, capsys,
                                                                           names, argv, message):
    models = linked(model_dir, tmp_path / "models", names)
    out = [] if "--save-images" in argv else ["--out", str(tmp_path / "out")]
    assert main(["eval", "language", "--model-dir", str(models), "--images", str(smooth_photos), "--policy", "nouns",
                 "--link", "ideal", "--steps", "1", *out, *argv]) == 2
    err = capsys.readouterr()
    assert message in err.out + err.err and len((err.out + err.err).strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_eval_language_image_options_need_a_model_dir(capsys):
    assert main(["eval", "language", "--steps", "2", "--link", "ideal"]) == 2
    assert main(["eval", "language", "--attention", "clip", "--link", "ideal"]) == 2
    err = capsys.readouterr()
    assert "--steps need --model-dir" in err.out + err.err and "--attention clip" in err.out + err.err


def test_eval_language_text_with_clip_attention(model_dir, tmp_path, capsys):
    (tmp_path / "caps.txt").write_text(CAPTION + "\n", encoding="utf-8")
    assert main(["eval", "language", "--policy", "sender-attention", "--link", "ideal", "--attention",
                 str(model_dir / "clip"), "--captions", str(tmp_path / "caps.txt"), "--out", str(tmp_path / "out"),
                 "--format", "json"]) == 0
    config = json.loads((tmp_path / "out" / "results.json").read_text())["config"]
    assert config["attention"].startswith("CLIP text encoder")


# ---- transmit --scheme language --model-dir: the receiver draws each round's prompt ------------------------------

def test_transmit_image_with_model_dir_writes_a_png_per_round(model_dir, smooth_photos, tmp_path, capsys):
    from semcom.adapters.vision_language import BlipCaptioner
    from semcom.data import load_image

    out = tmp_path / "rounds"
    assert main(["transmit", str(smooth_photos / "im0.png"), "--scheme", "language", "--model-dir", str(model_dir),
                 "--link", "ideal", "--rounds", "3", "--steps", "1", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    caption = BlipCaptioner(model_dir / "blip").caption(load_image(smooth_photos / "im0.png"))
    assert f"caption of im0.png: {caption!r}" in lines and f"images written to {out}" in lines
    rounds = [line for line in lines if line.startswith("round ")]
    assert len(rounds) == 3
    assert all("LPIPS " in line and "CLIP score " in line and f"(round_{k:02d}.png)" in line
               for k, line in enumerate(rounds, 1))
    assert sorted(p.name for p in out.glob("*.png")) == ["round_01.png", "round_02.png", "round_03.png"]
    assert all(load_image(p).shape[0] == 3 for p in out.glob("*.png"))


def test_transmit_text_with_model_dir_scores_clip_only(model_dir, tmp_path, capsys):
    from semcom.adapters.vision_language import StableDiffusion
    from semcom.data import load_image

    models = linked(model_dir, tmp_path / "models", ["stable-diffusion", "clip", "lpips"])  # no blip: none needed
    argv = ["transmit", "--scheme", "language", "--model-dir", str(models), "--text", IMAGE_CAPTIONS[1], "--link",
            "ideal", "--policy", "nouns", "--steps", "2"]
    assert main(argv) == 0
    rounds = [line for line in capsys.readouterr().out.splitlines() if line.startswith("round ")]
    assert len(rounds) == 3 and all("CLIP score" in line and "LPIPS" not in line for line in rounds)
    assert main([*argv, "--out", str(tmp_path / "out"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["image"] is None and row["rounds"][-1]["prompt"] == IMAGE_CAPTIONS[1]
    assert [r["file"] for r in row["rounds"]] == ["round_01.png", "round_02.png", "round_03.png"]
    assert all(r["lpips"] is None and 0 <= r["clip_score"] <= 100 for r in row["rounds"])
    drawn = StableDiffusion(models / "stable-diffusion", steps=2).generate(IMAGE_CAPTIONS[1], 100)
    written = load_image(tmp_path / "out" / "round_03.png")
    assert (written - drawn).abs().max() <= 1 / 255 + 1e-6  # the receiver's image of the full prompt, 8-bit


@pytest.mark.parametrize("names, argv, message", [
    (["stable-diffusion", "clip", "lpips"], [], "lacks blip/, the captioner that describes im0.png"),
    (["clip", "lpips", "blip"], [], "lacks stable-diffusion/"),
    (["stable-diffusion", "clip", "lpips", "blip"], ["--device", "tpu"], "unknown device"),
])
def test_transmit_image_loop_bad_input_is_one_line_and_writes_nothing(model_dir, smooth_photos, tmp_path, capsys,
                                                                      names, argv, message):
    models = linked(model_dir, tmp_path / "models", names)
    assert main(["transmit", str(smooth_photos / "im0.png"), "--scheme", "language", "--model-dir", str(models),
                 "--steps", "1", "--out", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr()
    assert message in err.out + err.err and len((err.out + err.err).strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, message", [
    (["--scheme", "jscc", "--model-dir", "models"], "--model-dir applies only to --scheme language"),
    (["--scheme", "gesco", "--model-dir", "models", "--device", "cuda"], "--model-dir, --device apply only to"),
    (["--scheme", "language", "--text", "a dog", "--steps", "2"], "--steps need --model-dir"),
    (["--scheme", "language", "--text", "a dog", "--out", "rounds"], "--out does not apply to --scheme language"),
    (["--scheme", "language", "--model-dir", "models"], "sends an IMAGE (captioned by DIR/blip) or --text"),
    (["--scheme", "language", "--text", "a dog", "--guidance", "2"], "--guidance does not apply"),
])
def test_transmit_image_loop_options_elsewhere_are_one_line(argv, message, capsys):
    assert main(["transmit", *argv]) == 2
    err = capsys.readouterr()
    assert message in err.out + err.err and len((err.out + err.err).strip().splitlines()) == 1
