"""GESCO on the command line: 'semcom eval gesco' (map recovery without a diffusion model; generated images scored by a
segmenter and a distribution metric), 'semcom transmit --scheme gesco' (a label map, or a photo with its map),
'semcom train gesco' (each part, thin wrappers), and bad input: exit 2, one line, nothing written."""

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from semcom.cli import main
from semcom.data.camvid import CAMVID
from semcom.schemes.gesco import scheme as gesco
from semcom.schemes.gesco.diffusion import DiffusionConfig, SemanticDiffusion
from semcom.training.checkpoint import atomic_save, read_checkpoint
from semcom.training.run import RunConfig

TINY = DiffusionConfig(classes=12, height=16, width=16, base=8, mults=(1, 2), attention=(2,), head_channels=8,
                       spade_hidden=8, groups=4, sample_steps=2)
SIZE = (48, 64)


def write_pair(folder: Path, name: str, labels: np.ndarray) -> None:
    Image.fromarray(np.array(CAMVID.palette, np.uint8)[labels]).save(folder / "images" / f"{name}.png")
    Image.fromarray(labels, mode="L").save(folder / "labels" / f"{name}.png")


@pytest.fixture(scope="module")
def camvid(tmp_path_factory) -> Path:
    """A CamVid-layout folder: train 3, val 2, test 3 pairs of 64x48 (photo = the map's palette colours)."""
    root = tmp_path_factory.mktemp("camvid")
    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("val", 2), ("test", 3)):
        for kind in ("images", "labels"):
            (root / split / kind).mkdir(parents=True)
        for i in range(count):
            labels = np.zeros(SIZE, np.uint8)
            labels[:20] = 0
            labels[20:30] = 1 + i
            labels[30:, rng.integers(8, 32):] = 3
            labels[30:, :8] = 4
            labels[0, :4] = 11
            write_pair(root / split, f"{split}{i}", labels)
    return root


def save_diffusion(path: Path, cfg: DiffusionConfig = TINY) -> Path:
    torch.manual_seed(0)
    model = SemanticDiffusion(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    atomic_save({"model_config": cfg.to_dict(), "state_dict": model.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def diffusion(tmp_path_factory) -> Path:
    return save_diffusion(tmp_path_factory.mktemp("models") / "tiny.pt")


@pytest.fixture(autouse=True)
def nothing_shipped(tmp_path, monkeypatch):
    """Pin the shipped-model folder to an empty one (these tests must not depend on what ships)."""
    monkeypatch.setattr(gesco, "SHIPPED_FOLDER", tmp_path / "shipped")


class PaletteSegmenter:
    def predict(self, images):
        palette = torch.tensor(CAMVID.palette, dtype=torch.float32) / 255
        return (images[:, None] - palette[None, :, :, None, None]).pow(2).sum(2).argmin(1)


class CountingMeter:
    def __init__(self, features=None):
        self.features, self.real, self.fake = features, 0, 0

    def update(self, images, real):
        self.real, self.fake = self.real + len(images) * real, self.fake + len(images) * (not real)

    def compute(self):
        return {"fid_effnet": float(self.fake), "kid_effnet": 0.5, "kid_effnet_std": 0.1, "real": self.real,
                "fake": self.fake}


@dataclass(frozen=True, kw_only=True)
class FakeSegmenterConfig(RunConfig):
    data: str | None = None
    steps: int = 3
    batch: int = 4


def fake_train_segmenter(cfg, log=print, progress=None, resume_anyway=False):
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_save({"model_config": {"name": "fake"}, "state_dict": {}, "train_config": cfg.to_dict()}, out / "last.pt")
    return out / "last.pt"


@pytest.fixture
def stand_ins(monkeypatch):
    """The core's segmenter and distribution metric, replaced by stand-ins (checked on their own elsewhere)."""
    semantic = types.ModuleType("semcom.segmentation.semantic")
    semantic.load_segmenter = lambda path, num_classes=None, device="cpu": (PaletteSegmenter(), {"path": str(path)})
    semantic.shipped_segmenter = lambda: None
    semantic.SegmenterTrainConfig = FakeSegmenterConfig
    semantic.train_segmenter = fake_train_segmenter
    semantic.export_segmenter = lambda src, dst: atomic_save(read_checkpoint(src), dst)
    distribution = types.ModuleType("semcom.metrics.distribution")
    distribution.DistributionMeter = CountingMeter
    distribution.CachedFeatures = lambda features: features
    monkeypatch.setitem(sys.modules, "semcom.segmentation.semantic", semantic)
    monkeypatch.setitem(sys.modules, "semcom.metrics.distribution", distribution)


def run_json(capsys, argv):
    assert main(argv) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_eval_map_recovery_needs_no_diffusion_model(camvid, capsys):
    rows, err = run_json(capsys, ["eval", "gesco", "--data", str(camvid), "--snr", "0,20", "--cbr", "1/16",
                                  "--transmitter", "digital,analog", "--segmenter", "none", "--format", "json"])
    assert "no trained GESCO diffusion model is shipped yet: map recovery only" in err
    assert [(r["transmitter"], r["snr_db"]) for r in rows] == [("digital", 0), ("digital", 20), ("analog", 0),
                                                               ("analog", 20)]
    for r in rows:
        assert r["images"] == 3 and not r["generated"] and "psnr_db" not in r and r["cbr_target"] == 1 / 16
        assert 0 <= r["map_pixel_accuracy"] <= 1 and 0 <= r["map_miou"] <= 1
    analog = [r for r in rows if r["transmitter"] == "analog"]
    assert analog[0]["channel_uses"] == analog[1]["channel_uses"] <= 3 * 48 * 64 / 16
    assert analog[1]["map_miou"] > analog[0]["map_miou"] and analog[1]["map_pixel_accuracy"] > 0.9


def test_eval_scores_generated_images(camvid, diffusion, tmp_path, capsys, stand_ins):
    out = tmp_path / "results"
    rows, _ = run_json(capsys, ["eval", "gesco", "--data", str(camvid), "--snr", "5", "--cbr", "1/16",
                                "--channel", "awgn,rayleigh", "--transmitter", "analog", "--limit", "2",
                                "--diffusion", str(diffusion), "--segmenter", str(diffusion), "--steps", "2",
                                "--guidance", "1.5", "--out", str(out), "--format", "json"])
    ceiling, cells = rows[0], rows[1:]
    assert ceiling["transmitter"] == "real photos (ceiling)" and ceiling["seg_miou"] == 1.0
    assert [c["channel"] for c in cells] == ["awgn", "rayleigh"]
    for c in cells:
        assert c["generated"] and c["images"] == 2 and (c["steps"], c["guidance"]) == (2, 1.5)
        assert 0 <= c["seg_miou"] <= 1 and c["psnr_db"] > 0 and 0 <= c["ms_ssim"] <= 1
        assert c["fid_effnet"] == 2.0 and c["kid_effnet"] == 0.5 and c["sampling_seconds"] > 0
    saved = json.loads((out / "results.json").read_text())
    assert len(saved["rows"]) == 4 and saved["config"]["transmitter"] == ["analog"]
    assert (out / "results.csv").is_file()


def test_transmit_a_label_map_writes_the_generated_image(camvid, diffusion, tmp_path, capsys):
    label_png = camvid / "test" / "labels" / "test0.png"
    out = tmp_path / "gen.png"
    row, _ = run_json(capsys, ["transmit", str(label_png), "--scheme", "gesco", "--diffusion", str(diffusion),
                               "--steps", "2", "--snr", "10", "--cbr", "1/32", "--out", str(out), "--json"])
    with Image.open(out) as img:
        assert img.size == (64, 48) and img.mode == "RGB"
    assert row["generated"] and row["transmitter"] == "analog" and row["channel_uses"] > 0
    assert row["cbr"] == 1 / 32 and row["map"] == "test0" and "psnr_db" not in row
    # the photo with its map: the photo scores the generated image, only the map is sent
    assert main(["transmit", str(camvid / "test" / "images" / "test0.png"), "--labels", str(label_png), "--scheme",
                 "gesco", "--diffusion", str(diffusion), "--steps", "2", "--snr", "10", "--cbr", "1/32",
                 "--out", str(tmp_path / "gen2.png")]) == 0
    text = capsys.readouterr().out
    assert "gesco (analog) over awgn at 10 dB, CBR 1/32: " in text and "PSNR" in text and "2 DDIM steps" in text
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(tmp_path / "gen2.png")))
    # without a diffusion model: the received map in CamVid colours
    assert main(["transmit", str(label_png), "--scheme", "gesco", "--diffusion", "none", "--transmitter", "digital",
                 "--snr", "30", "--cbr", "1/16", "--out", str(tmp_path / "map.png")]) == 0
    assert "written is the received map in CamVid colours" in capsys.readouterr().out
    received = np.asarray(Image.open(tmp_path / "map.png"))
    sent = np.array(CAMVID.palette, np.uint8)[np.asarray(Image.open(label_png))]
    assert np.array_equal(received, sent)  # digital at 30 dB: the map arrives exactly


def test_train_gesco_parts_are_thin_wrappers(camvid, tmp_path, capsys, stand_ins):
    export = tmp_path / "map-jscc.pt"
    assert main(["train", "gesco", "--part", "maps", "--data", str(camvid), "--out", str(tmp_path / "maps"),
                 "--steps", "1", "--batch", "2", "--crop", "0", "--width", "16", "--blocks", "0", "--cbr", "1/16",
                 "--export", str(export)]) == 0, capsys.readouterr().err
    assert read_checkpoint(export)["model_config"]["cbr"] == 1 / 16
    # the diffusion model trained on maps really sent through the map JSCC just trained (at the CamVid size)
    # (the CLI trains the named configs; camvid-cpu takes about a second per step here)
    assert main(["train", "gesco", "--part", "diffusion", "--data", str(camvid), "--out", str(tmp_path / "diff"),
                 "--steps", "1", "--batch", "2", "--corrupt-with", "map-jscc", "--corrupt-checkpoint", str(export),
                 "--cbr", "1/16", "--snr-range", "0,10", "--export", str(tmp_path / "diff.pt")]) == 0, \
        capsys.readouterr().err
    meta = read_checkpoint(tmp_path / "diff.pt")
    assert meta["corruption"] == "map-jscc over awgn at 0..10 dB, CBR 1/16, sent at 240x180"
    assert meta["model_config"]["height"] == 48 and "optimizer" not in meta
    assert main(["train", "gesco", "--part", "segmenter", "--data", str(camvid), "--out", str(tmp_path / "seg"),
                 "--steps", "2", "--export", str(tmp_path / "seg.pt")]) == 0, capsys.readouterr().err
    assert read_checkpoint(tmp_path / "seg.pt")["train_config"]["steps"] == 2


@pytest.mark.parametrize("argv, message", [
    (["transmit", "{bad_map}", "--scheme", "gesco", "--diffusion", "{diffusion}"], "class indices 0..11, got 0..200"),
    (["transmit", "{photo}", "--labels", "{small_map}", "--scheme", "gesco", "--diffusion", "{diffusion}"],
     "is 64x48 but its label map small.png is 32x24"),
    (["transmit", "{map}", "--scheme", "gesco", "--diffusion", "{diffusion}", "--guidance", "-1"],
     "guidance scale must be >= 0"),
    (["transmit", "{map}", "--scheme", "gesco", "--diffusion", "{diffusion}", "--steps", "0"], "sampling steps"),
    (["transmit", "{map}", "--scheme", "gesco", "--diffusion", "{three}"], "for 3 classes, not 12"),
    (["transmit", "{photo}", "--scheme", "gesco", "--diffusion", "{diffusion}"], "not a label map"),
    (["transmit", "{map}", "--scheme", "gesco"],
     ("no trained GESCO diffusion model is shipped yet: train one with `semcom train gesco --part diffusion ...` or "
      "pass --diffusion PATH")),
    (["transmit", "{map}", "--scheme", "gesco", "--transmitter", "map-jscc", "--diffusion", "none"],
     "no trained GESCO map JSCC for CBR 1/16 is shipped yet"),
    (["transmit", "{map}", "--scheme", "gesco", "--codec", "webp", "--diffusion", "none"], "--codec does not apply"),
    (["transmit", "{photo}", "--scheme", "jscc", "--labels", "{map}"], "--labels does not apply"),
    (["transmit", "{photo}", "--scheme", "jscc", "--steps", "3"], "--steps does not apply"),
    (["eval", "gesco", "--data", "{camvid}", "--guidance", "-0.5"], "guidance scale must be >= 0"),
    (["eval", "gesco", "--data", "{camvid}", "--transmitter", "morse"], "unknown map transmitter 'morse'"),
    (["eval", "gesco", "--data", "{camvid}", "--transmitter", "map-jscc"], "or pass --map-jscc PATH"),
    (["eval", "gesco", "--data", "{camvid}", "--diffusion", "{three}"], "for 3 classes, not 12"),
    (["eval", "gesco", "--data", "{camvid}", "--channel", "rician", "--transmitter", "digital"], "BLER tables"),
    (["eval", "gesco", "--data", "{camvid}", "--diffusion", "{diffusion}", "--lpips", "{camvid}/alexnet.pth"],
     "alexnet.pth"),
    (["train", "gesco", "--part", "everything"], "unknown --part 'everything'"),
    (["train", "gesco", "--part", "segmenter", "--cbr", "1/32"], "--cbr does not apply to --part segmenter"),
    (["train", "gesco", "--part", "diffusion", "--cbr", "1/32"], "the default blob corruption takes none of them"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(argv, message, camvid, diffusion, tmp_path, capsys):
    bad = np.zeros(SIZE, np.uint8)
    bad[0, 0] = 200
    Image.fromarray(bad, mode="L").save(tmp_path / "bad.png")
    Image.fromarray(np.zeros((24, 32), np.uint8), mode="L").save(tmp_path / "small.png")
    names = {"bad_map": tmp_path / "bad.png", "small_map": tmp_path / "small.png",
             "map": camvid / "test" / "labels" / "test0.png", "photo": camvid / "test" / "images" / "test0.png",
             "diffusion": diffusion, "camvid": camvid,
             "three": save_diffusion(tmp_path / "three.pt", DiffusionConfig(**{**TINY.to_dict(), "classes": 3}))}
    argv = [a.format(**names) for a in argv]
    out = tmp_path / "out.png" if argv[0] == "transmit" else tmp_path / "out"
    argv += ["--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()
