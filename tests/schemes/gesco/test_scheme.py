"""GESCO as a scheme: exact channel uses at the image budget for every map transmitter, generation at the map's size
from the received probabilities, map-only mode, the shipped-model lookups and their errors, the robust-training
corruption, the evaluation harness, bad input."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from semcom.data.camvid import CAMVID, colorize
from semcom.digital.chain import channel_use_budget
from semcom.digital.mcs import get_mcs
from semcom.errors import SemcomError
from semcom.metrics.segmentation import miou
from semcom.schemes.gesco import scheme as gesco
from semcom.schemes.gesco.diffusion import DiffusionConfig, SemanticDiffusion
from semcom.schemes.gesco.evaluate import evaluate_cell
from semcom.schemes.gesco.maps import AnalogOneHot, DenoiserConfig, DigitalMap, MapDenoiser, MapJSCC, MapJSCCConfig
from semcom.schemes.gesco.scheme import ChannelCorruption, GescoScheme, build_gesco
from semcom.types import Scheme
from semcom.training.checkpoint import atomic_save

TINY = DiffusionConfig(classes=12, height=16, width=16, base=8, mults=(1, 2), attention=(2,), head_channels=8,
                       spade_hidden=8, groups=4, sample_steps=3)


def blocky(size=(40, 56), block=8, seed=0, batch=None):
    g = torch.Generator().manual_seed(seed)
    h, w = size
    low = torch.randint(12, (batch or 1, -(-h // block), -(-w // block)), generator=g)
    maps = low.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :h, :w].contiguous()
    return maps if batch else maps[0]


def tiny_diffusion(cfg=TINY, seed=0):
    torch.manual_seed(seed)
    model = SemanticDiffusion(cfg)
    with torch.no_grad():  # jitter every weight: the zero-initialised output convs then pass the map through
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def save_model(model, path, cfg_dict=None):
    atomic_save({"model_config": cfg_dict or model.cfg.to_dict(), "state_dict": model.state_dict()}, path)
    return path


def transmitters(cbr):
    torch.manual_seed(0)
    return {"digital": DigitalMap(12, cbr, CAMVID.prior_class),
            "analog": AnalogOneHot(12, cbr),
            "analog+denoiser": AnalogOneHot(12, cbr, denoiser=MapDenoiser(DenoiserConfig(cbr=cbr, width=8, blocks=0))),
            "map-jscc": MapJSCC(MapJSCCConfig(cbr=cbr, width=16, blocks=0))}


@pytest.mark.parametrize("kind", ["digital", "analog", "analog+denoiser", "map-jscc"])
def test_channel_uses_are_exact_and_within_the_pixel_jscc_budget(kind, counted):
    cbr, size = 1 / 16, (90, 120)  # not on the 16-pixel grid: the budget counts 96 x 128, as the pixel JSCC
    scheme = GescoScheme(transmitters(cbr)[kind], "awgn")
    assert isinstance(scheme, Scheme) and scheme.cbr == cbr and scheme.kind == kind
    labels = blocky(size, block=30)
    tx = scheme.transmit(labels, 30.0, torch.Generator().manual_seed(0))
    budget = channel_use_budget((3, *size), cbr)
    assert budget == 3 * 96 * 128 // 16 and tx.ok
    assert tx.channel_uses == counted["symbols"] and 0 < tx.channel_uses <= budget
    if kind == "map-jscc":
        assert tx.channel_uses == budget
    elif kind == "digital":
        assert tx.channel_uses == tx.details["codewords"] * get_mcs(tx.details["mcs"]).symbols_per_codeword
        assert torch.equal(tx.labels_hat, labels) and tx.details["map_miou"] == 1.0
    else:
        f = tx.details["factor"]
        assert tx.channel_uses == -(-12 * -(-size[0] // f) * -(-size[1] // f) // 2) == scheme.channel_uses_for(*size)
    assert tx.x_hat.shape == (3, *size) and not tx.details["generated"]
    assert torch.equal(tx.x_hat, colorize(tx.labels_hat))  # map only: the received map in CamVid colours
    json.dumps(scheme.describe()) and json.dumps(tx.details)


def test_generates_an_image_at_the_map_size_from_the_received_probabilities():
    model = tiny_diffusion()
    seen = []
    sample = model.sample

    def spy(probs, *args, **kwargs):
        seen.append(probs)
        return sample(probs, *args, **kwargs)

    model.sample = spy
    denoised = transmitters(1 / 16)["analog+denoiser"]
    scheme = GescoScheme(denoised, "rayleigh", model, steps=2, guidance=2.0)
    labels = blocky((40, 56))
    tx = scheme.transmit(labels, 5.0, torch.Generator().manual_seed(3))
    again = scheme.transmit(labels, 5.0, torch.Generator().manual_seed(3))
    other = scheme.transmit(labels, 5.0, torch.Generator().manual_seed(4))
    assert tx.x_hat.shape == (3, 40, 56) and 0 <= tx.x_hat.min() and tx.x_hat.max() <= 1
    assert torch.equal(tx.x_hat, again.x_hat) and not torch.equal(tx.x_hat, other.x_hat)
    assert tx.details["generated"] and tx.details["steps"] == 2 and tx.details["guidance"] == 2.0
    assert tx.details["sampling_seconds"] > 0 and tx.labels_hat.shape == (40, 56)
    # the model was conditioned on the denoiser's soft probabilities, area-averaged to its 16 x 16
    assert seen[0].shape == (1, 12, 16, 16) and torch.allclose(seen[0].sum(1), torch.ones(1, 16, 16), atol=1e-5)
    expected = torch.nn.functional.interpolate(tx.probs[None], size=(16, 16), mode="area")
    assert torch.allclose(seen[0], expected) and tx.probs.max() < 1  # soft, not one-hot
    m = tx.details["map_miou"]
    assert m == pytest.approx(float(miou(labels, tx.labels_hat, 12, CAMVID.ignore_index)))
    described = scheme.describe()
    assert described["transmitter"] == "analog+denoiser" and described["diffusion_config"]["height"] == 16
    assert scheme.steps == 2 and GescoScheme(denoised, "awgn", model).steps == TINY.sample_steps


def test_model_defaults_and_hard_maps_condition_as_one_hot():
    model = tiny_diffusion()
    scheme = GescoScheme(AnalogOneHot(12, 1 / 32), "awgn", model)
    assert (scheme.steps, scheme.guidance) == (TINY.sample_steps, TINY.guidance)
    tx = scheme.transmit(blocky((32, 32)), 40.0, torch.Generator().manual_seed(0))
    assert torch.equal(tx.probs, torch.nn.functional.one_hot(tx.labels_hat, 12).permute(2, 0, 1).float())


def test_nothing_is_shipped_yet_and_asking_for_it_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setattr(gesco, "SHIPPED_FOLDER", tmp_path)
    assert gesco.shipped_diffusion() is None and gesco.shipped_map_model("map-jscc", 1 / 32) is None
    with pytest.raises(SemcomError) as exc:
        build_gesco("awgn")
    assert str(exc.value) == ("no trained GESCO diffusion model is shipped yet: train one with `semcom train gesco "
                              "--part diffusion ...` or pass --diffusion PATH")
    with pytest.raises(SemcomError, match=r"no trained GESCO map JSCC for CBR 1/32 is shipped yet: train one with "
                                          r"`semcom train gesco --part maps --cbr 1/32 \.\.\.` or pass --checkpoint"):
        build_gesco("awgn", 1 / 32, "map-jscc", diffusion="none")
    with pytest.raises(SemcomError, match="map denoiser for CBR 1/16 is shipped yet"):
        build_gesco("awgn", 1 / 16, "analog+denoiser", diffusion="none")
    # once trained and shipped, the same calls find them
    save_model(tiny_diffusion(), tmp_path / "diffusion-camvid.pt")
    jscc = MapJSCC(MapJSCCConfig(cbr=1 / 32, width=16, blocks=0))
    save_model(jscc, tmp_path / "map-jscc-cbr32.pt", jscc.cfg.to_dict())
    assert gesco.shipped_diffusion() == tmp_path / "diffusion-camvid.pt"
    scheme = build_gesco("awgn", 1 / 32, "map-jscc", steps=2)
    assert scheme.diffusion is not None and scheme.kind == "map-jscc"
    assert scheme.describe()["checkpoints"] == {"diffusion": str(tmp_path / "diffusion-camvid.pt"),
                                                "map_transmitter": str(tmp_path / "map-jscc-cbr32.pt")}
    assert build_gesco("awgn", 1 / 32, "digital", diffusion="none").diffusion is None


def test_bad_input_is_a_one_line_error(tmp_path):
    three = DiffusionConfig(**{**TINY.to_dict(), "classes": 3})
    other = save_model(SemanticDiffusion(three), tmp_path / "three.pt")
    jscc = MapJSCC(MapJSCCConfig(cbr=1 / 64, width=16, blocks=0))
    jscc_path = save_model(jscc, tmp_path / "jscc64.pt", jscc.cfg.to_dict())
    scheme = GescoScheme(AnalogOneHot(12, 1 / 16), "awgn")
    cases = [
        (lambda: scheme.transmit(torch.full((8, 8), 12), 10.0), "class indices 0..11, got 12..12"),
        (lambda: scheme.transmit(torch.full((8, 8), -1), 10.0), "class indices 0..11"),
        (lambda: scheme.transmit(torch.zeros(8, 8), 10.0), "integer class indices"),
        (lambda: scheme.transmit(torch.zeros(3, 8, 8, dtype=torch.long), 10.0), r"\[H, W\]"),
        (lambda: scheme.transmit(torch.zeros(8, 8, dtype=torch.long), float("nan")), "NaN"),
        (lambda: GescoScheme(AnalogOneHot(12, 1 / 16), "awgn", tiny_diffusion(), guidance=-1), "guidance scale"),
        (lambda: GescoScheme(AnalogOneHot(12, 1 / 16), "awgn", tiny_diffusion(), steps=0), "sampling steps"),
        (lambda: GescoScheme(AnalogOneHot(12, 1 / 16), "awgn", tiny_diffusion(), steps=5000), "sampling steps"),
        (lambda: build_gesco("awgn", diffusion=str(other), steps=-2), "sampling steps"),
        (lambda: build_gesco("awgn", diffusion=str(other)), "for 3 classes, not 12"),
        (lambda: build_gesco("awgn", diffusion=str(tmp_path / "missing.pt")), "checkpoint not found"),
        (lambda: build_gesco("awgn", 1 / 32, "map-jscc", checkpoint=jscc_path, diffusion="none"),
         "map-jscc for CBR 1/64, not 1/32"),
        (lambda: build_gesco("awgn", None, "analog+denoiser", checkpoint=jscc_path, diffusion="none"),
         "not a 'map-denoiser'"),
        (lambda: build_gesco("awgn", transmitter="morse", diffusion="none"), "unknown map transmitter 'morse'"),
        (lambda: build_gesco("rician", transmitter="digital", diffusion="none"), "BLER tables"),
        (lambda: GescoScheme(AnalogOneHot(3, 1 / 16), "awgn"), "for 3 classes"),
        (lambda: ChannelCorruption(AnalogOneHot(12, 1 / 16), "awgn", (10, 0)), "low,high"),
    ]
    for call, message in cases:
        with pytest.raises(SemcomError, match=message) as exc:
            call()
        assert "\n" not in str(exc.value)
    assert build_gesco("awgn", None, "map-jscc", checkpoint=jscc_path, diffusion="none").cbr == 1 / 64


def test_channel_corruption_sends_each_map_at_its_own_snr():
    labels = blocky((24, 32), block=8, batch=4)
    analog = ChannelCorruption(AnalogOneHot(12, 1 / 16), "awgn", (-5, 20), send_size=(48, 64))
    probs = analog(labels, torch.Generator().manual_seed(0))
    assert probs.shape == (4, 12, 24, 32) and torch.allclose(probs.sum(1), torch.ones(4, 24, 32), atol=1e-5)
    assert torch.equal(probs, analog(labels, torch.Generator().manual_seed(0)))
    assert "analog over awgn at -5..20 dB, CBR 1/16, sent at 64x48" == analog.__name__
    clean = ChannelCorruption(AnalogOneHot(12, 1 / 16), "awgn", (40, 40))(labels, torch.Generator().manual_seed(0))
    noisy = ChannelCorruption(AnalogOneHot(12, 1 / 16), "awgn", (-20, -20))(labels, torch.Generator().manual_seed(0))
    right = [(p.argmax(1) == labels).float().mean().item() for p in (clean, noisy)]
    assert right[0] > 0.9 > right[1] + 0.2  # the maps really went through the channel at those SNRs
    digital = ChannelCorruption(DigitalMap(12, 1 / 64, 3, decode=False), "awgn", (-5, 40))
    hard = digital(labels, torch.Generator().manual_seed(1))
    assert set(hard.unique().tolist()) == {0.0, 1.0}  # no soft probabilities: the one-hot of the recovered map


def test_channel_corruption_trains_the_diffusion_model(tmp_path):
    from semcom.schemes.gesco.train_diffusion import DiffusionTrainConfig, load_diffusion, train_diffusion

    root = camvid_folder(tmp_path / "camvid", {"train": 3, "val": 1})
    corruption = ChannelCorruption(AnalogOneHot(12, 1 / 16), "awgn", (0, 10), send_size=(48, 64))
    cfg = DiffusionTrainConfig(out=str(tmp_path / "run"), data=str(root), steps=2, batch=2, val_count=1,
                               log_every=1, eval_every=2, ckpt_every=2, warmup=1, p_noisy=1.0)
    last = train_diffusion(cfg, TINY, corruption, log=lambda m: None)
    _, meta = load_diffusion(last, classes=12)
    assert meta["corruption"] == corruption.__name__
    lines = [json.loads(line) for line in (tmp_path / "run" / "train.jsonl").read_text().splitlines()]
    assert lines[-1]["noisy_share"] == 1.0


def camvid_folder(root, counts, size=(24, 32)):
    """A CamVid-layout folder: per split, RGB images (the palette colours of their map) and 8-bit class maps."""
    rng = np.random.default_rng(0)
    h, w = size
    for split, count in counts.items():
        for kind in ("images", "labels"):
            (root / split / kind).mkdir(parents=True)
        for i in range(count):
            labels = np.zeros((h, w), np.uint8)
            labels[: h // 2] = i % 11
            labels[h // 2:, rng.integers(0, w // 2):] = 3
            labels[0, 0] = 11
            Image.fromarray(np.array(CAMVID.palette, np.uint8)[labels]).save(root / split / "images" / f"{i}.png")
            Image.fromarray(labels, mode="L").save(root / split / "labels" / f"{i}.png")
    return root


class PaletteSegmenter:
    """A stand-in segmenter: each pixel's nearest palette colour."""

    def predict(self, images):
        palette = torch.tensor(CAMVID.palette, dtype=torch.float32) / 255
        distance = (images[:, None] - palette[None, :, :, None, None]).pow(2).sum(2)
        return distance.argmin(1)


class CountingMeter:
    """A stand-in for DistributionMeter: counts what it was given."""

    def __init__(self):
        self.real = self.fake = 0

    def update(self, images, real):
        if real:
            self.real += len(images)
        else:
            self.fake += len(images)

    def compute(self):
        return {"fid_effnet": float(self.fake), "kid_effnet": float(self.real), "kid_effnet_std": 0.0,
                "real": self.real, "fake": self.fake}


def test_evaluation_cell_pools_map_scores_and_scores_generated_images():
    labels = blocky((24, 32), block=4, batch=3)
    images = colorize(labels)
    map_only = GescoScheme(AnalogOneHot(12, 1 / 16), "awgn")
    rows, cell = evaluate_cell(map_only, labels, 5.0, images=images, seed=1)
    assert len(rows) == 3 and cell["images"] == 3 and not cell["generated"] and "psnr_db" not in cell
    pooled = float(miou(labels, torch.stack([map_only.transmit(labels[i], 5.0, torch.Generator().manual_seed(
        gesco_noise(1, i, 5.0))).labels_hat for i in range(3)]), 12, CAMVID.ignore_index))
    assert cell["map_miou"] == pytest.approx(pooled) and cell["channel_uses"] == rows[0]["channel_uses"]
    scheme = GescoScheme(AnalogOneHot(12, 1 / 16), "awgn", tiny_diffusion(), steps=2)
    rows, cell = evaluate_cell(scheme, labels, 5.0, images=images, seed=1, segmenter=PaletteSegmenter(),
                               meter_factory=CountingMeter)
    assert cell["generated"] and cell["steps"] == 2 and cell["sampling_seconds"] > 0
    assert 0 <= cell["seg_miou"] <= 1 and cell["psnr_db"] > 0 and 0 <= cell["ms_ssim"] <= 1
    assert (cell["fid_effnet"], cell["kid_effnet"]) == (3.0, 3.0)
    assert all("psnr_db" in r for r in rows) and rows[0]["scheme"] == "gesco-analog"
    json.dumps(rows) and json.dumps(cell)


def gesco_noise(seed, index, snr, cbr=1 / 16):
    from semcom.seeding import noise_seed

    return noise_seed(seed, index, snr, cbr)


def test_segmenter_ceiling_of_a_perfect_segmenter_is_one():
    from semcom.schemes.gesco.evaluate import segmenter_ceiling

    labels = blocky((24, 32), block=4, batch=2)
    scores = segmenter_ceiling(PaletteSegmenter(), colorize(labels), labels, 12, CAMVID.ignore_index)
    assert scores == {"seg_miou": 1.0, "seg_pixel_accuracy": 1.0}


def test_the_core_segmenter_and_distribution_meter_plug_into_the_harness():
    semantic = pytest.importorskip("semcom.segmentation.semantic")
    distribution = pytest.importorskip("semcom.metrics.distribution")
    torch.manual_seed(0)
    segmenter = semantic.SemanticSegmenter(semantic.SemanticSegmenterConfig(encoder="unet", width=4, input_scale=1.0,
                                                                            image_height=16, image_width=16)).eval()
    labels = blocky((24, 32), block=8, batch=3)
    images = colorize(labels)

    def features(x):  # a cheap stand-in for EfficientNet-Lite0 features: colour means and spreads
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)

    scheme = GescoScheme(AnalogOneHot(12, 1 / 16), "awgn", tiny_diffusion(), steps=2)
    _, cell = evaluate_cell(scheme, labels, 10.0, images=images, segmenter=segmenter,
                            meter_factory=lambda: distribution.DistributionMeter(features=features, subsets=5))
    assert 0 <= cell["seg_miou"] <= 1 and cell["fid_effnet"] >= 0 and cell["kid_effnet_std"] >= 0


def test_lpips_is_the_mean_over_the_images_when_a_model_is_given():
    from semcom.schemes.gesco.evaluate import score_images

    labels = blocky((40, 48), block=8, batch=3)
    photos = colorize(labels)
    x_hats = (photos + 0.1 * torch.randn(photos.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)

    class PerImage:  # a stand-in LPIPS: the mean absolute difference of each pair
        calls = 0

        def __call__(self, x, y):
            PerImage.calls += 1
            return (x - y).abs().mean((1, 2, 3))

    out = score_images(x_hats, photos, labels, 12, CAMVID.ignore_index, lpips=PerImage())
    assert out["lpips"] == pytest.approx((photos - x_hats).abs().mean().item(), rel=1e-5) and PerImage.calls >= 1
    assert "lpips" not in score_images(x_hats, photos, labels, 12, CAMVID.ignore_index)
    assert "lpips" not in score_images(x_hats, None, labels, 12, CAMVID.ignore_index, lpips=PerImage())
