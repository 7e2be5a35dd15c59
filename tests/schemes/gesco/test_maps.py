"""GESCO's three label-map transmitters: exact channel uses within the budget at every CBR, recovery at high SNR,
degradation as the SNR falls, training of the learned ones (the loss drops, resume, checkpoints), bad input."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import shared_path
from PIL import Image

from semcom.channels import AWGN
from semcom.data.camvid import CAMVID, load_camvid
from semcom.digital.chain import channel_use_budget
from semcom.digital.mcs import get_mcs
from semcom.errors import SemcomError
from semcom.metrics.segmentation import miou, pixel_accuracy
from semcom.schemes.gesco.maps import (
    HEADER,
    METHODS,
    AdaptiveMap,
    AnalogOneHot,
    DenoiserConfig,
    DigitalMap,
    MapDenoiser,
    MapJSCC,
    MapJSCCConfig,
    decode_map,
    encode_map,
    load_map_model,
    map_model_from_config,
)
from semcom.schemes.gesco.train_maps import MapTrainConfig, receive_logits, train_maps
from semcom.seeding import seed_everything
from semcom.training.checkpoint import atomic_save, read_checkpoint

CBRS = (1 / 64, 1 / 32, 1 / 16)


def blocky(batch=2, size=(36, 48), block=6, classes=12, seed=0):
    """[batch, H, W] maps of ``block`` x ``block`` squares of random classes (aligned to the block grid)."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    low = torch.randint(classes, (batch, -(-h // block), -(-w // block)), generator=g)
    return low.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :h, :w].contiguous()


@pytest.mark.parametrize("cbr", CBRS)
@pytest.mark.parametrize("size", [(180, 240), (37, 50)])
def test_map_jscc_channel_uses_are_exactly_the_budget(cbr, size, counted):
    model = MapJSCC(MapJSCCConfig(cbr=cbr, width=16, blocks=0))
    assert model.cfg.latent_channels == {1 / 64: 6, 1 / 32: 12, 1 / 16: 24}[cbr]
    labels = blocky(2, size)
    out = model.transmit(labels, 10.0, "awgn", torch.Generator().manual_seed(0))
    budget = channel_use_budget((3, *size), cbr)
    assert out.channel_uses.tolist() == [budget, budget] == [model.channel_uses_for(*size)] * 2
    assert counted["symbols"] == 2 * budget  # what the channel really carried, both examples
    assert out.labels_hat.shape == (2, *size) and out.labels_hat.dtype == torch.int64
    assert out.probs.shape == (2, 12, *size) and torch.allclose(out.probs.sum(1), torch.ones(2, *size))
    assert out.ok.all()


@pytest.mark.parametrize("cbr", CBRS)
def test_analog_channel_uses_exact_within_budget_and_smallest_factor(cbr, counted):
    analog = AnalogOneHot(12, cbr)
    h, w = 180, 240
    f = analog.factor_for(h, w)
    assert f == {1 / 64: 12, 1 / 32: 8, 1 / 16: 6}[cbr]
    budget = channel_use_budget((3, h, w), cbr)
    uses = analog.channel_uses_for(h, w)
    assert uses == 12 * (-(-h // f)) * (-(-w // f)) // 2 <= budget < analog.uses(h, w, f - 1)
    out = analog.transmit(blocky(1, (h, w)), 10.0, "awgn", torch.Generator().manual_seed(0))
    assert out.channel_uses.tolist() == [uses] and counted["symbols"] == uses
    assert out.details == [{"factor": f}] and out.probs is None


def test_analog_odd_number_of_values_is_padded_to_whole_symbols(counted):
    analog = AnalogOneHot(3, 1 / 16)  # 3 classes: 3 * h' * w' real values can be odd
    h, w = 5, 5
    f = analog.factor_for(h, w)
    values = 3 * (-(-h // f)) * (-(-w // f))
    assert values % 2 == 1
    out = analog.transmit(torch.zeros(1, h, w, dtype=torch.long), 20.0, "awgn")
    assert out.channel_uses.item() == (values + 1) // 2 == counted["symbols"]


@pytest.mark.parametrize("cbr", CBRS)
def test_digital_channel_uses_come_from_the_transport_and_fit_the_budget(cbr, counted):
    digital = DigitalMap(12, cbr, CAMVID.prior_class)
    labels = blocky(1, (72, 96), block=12)
    out = digital.transmit(labels, 30.0, "awgn", torch.Generator().manual_seed(0))
    info = out.details[0]
    assert out.ok.item() and info["reason"] is None
    mcs = get_mcs(info["mcs"])
    assert out.channel_uses.item() == info["codewords"] * mcs.symbols_per_codeword == counted["symbols"]
    assert 0 < out.channel_uses.item() <= digital.channel_uses_for(72, 96) == channel_use_budget((3, 72, 96), cbr)
    assert info["payload_bytes"] == len(encode_map(labels[0], 12))


def test_digital_at_high_snr_recovers_the_map_exactly():
    labels = blocky(2, (48, 64), block=4)
    for channel in ("awgn", "rayleigh"):
        digital = DigitalMap(12, 1 / 16, CAMVID.prior_class)
        out = digital.transmit(labels, 40.0, channel, torch.Generator().manual_seed(1))
        assert out.ok.all() and torch.equal(out.labels_hat, labels)


def test_digital_failure_shows_the_fallback_and_says_why():
    labels = blocky(2, (96, 128), block=32)  # budget at CBR 1/64: 576 channel uses
    digital = DigitalMap(12, 1 / 64, fallback_class=3, decode=False)
    out = digital.transmit(labels, torch.tensor([-5.0, 40.0]), "awgn", torch.Generator().manual_seed(0))
    assert out.ok.tolist() == [False, True]
    assert out.details[0]["reason"] == "no reliable MCS fits the budget" and out.channel_uses[0].item() == 0
    assert (out.labels_hat[0] == 3).all() and torch.equal(out.labels_hat[1], labels[1])
    # a map too large for the budget at any MCS: nothing sent
    noisy = torch.randint(12, (1, 96, 128), generator=torch.Generator().manual_seed(0))
    out = digital.transmit(noisy, 40.0, "awgn")
    assert not out.ok.item() and out.details[0]["reason"] == "map does not fit the budget"
    assert out.channel_uses.item() == 0 and (out.labels_hat == 3).all()


def test_adaptive_sends_digitally_where_reliable_and_falls_back_elsewhere():
    """Per map: the digital branch exactly when an MCS fits it reliably (then lossless), the map JSCC otherwise (its
    exact budget); both branches in one batch; the choice uses what the transmitter knows before sending."""
    labels = blocky(2, (96, 128), block=32)  # budget at CBR 1/64: 576 channel uses
    digital = DigitalMap(12, 1 / 64, fallback_class=3, decode=False)
    fallback = MapJSCC(MapJSCCConfig(cbr=1 / 64, width=16, blocks=0))
    adaptive = AdaptiveMap(digital, fallback)
    assert adaptive.channel_uses_for(96, 128) == 576
    out = adaptive.transmit(labels, torch.tensor([-5.0, 40.0]), "awgn", torch.Generator().manual_seed(0))
    assert [d["branch"] for d in out.details] == ["map-jscc", "digital"]
    assert out.channel_uses[0].item() == fallback.channel_uses_for(96, 128) == 576
    assert 0 < out.channel_uses[1].item() <= 576 and torch.equal(out.labels_hat[1], labels[1])
    assert out.ok.all() and out.probs.shape == (2, 12, 96, 128)
    assert torch.allclose(out.probs[1].sum(0), torch.ones(96, 128)) and torch.equal(out.probs[1].argmax(0), labels[1])
    assert adaptive.use_digital(labels[1], 40.0, AWGN()) and not adaptive.use_digital(labels[0], -5.0, AWGN())
    noisy = torch.randint(12, (1, 96, 128), generator=torch.Generator().manual_seed(0))  # never fits: always analog
    assert adaptive.transmit(noisy, 40.0, "awgn").details[0]["branch"] == "map-jscc"
    with pytest.raises(SemcomError, match="must share CBR"):
        AdaptiveMap(DigitalMap(12, 1 / 32, 3), fallback)
    with pytest.raises(SemcomError, match="fallback must be"):
        AdaptiveMap(digital, digital)


def test_digital_mcs_choice_robust_spends_at_least_the_cheapest():
    labels = blocky(1, (96, 128), block=16)
    robust = DigitalMap(12, 1 / 16, 3, decode=False).transmit(labels, 8.0, "awgn", torch.Generator().manual_seed(0))
    cheap = DigitalMap(12, 1 / 16, 3, decode=False, mcs_choice="cheapest").transmit(
        labels, 8.0, "awgn", torch.Generator().manual_seed(0))
    assert robust.ok.item() and cheap.ok.item()
    assert get_mcs(robust.details[0]["mcs"]).spectral_efficiency <= get_mcs(cheap.details[0]["mcs"]).spectral_efficiency
    assert cheap.channel_uses.item() <= robust.channel_uses.item() <= channel_use_budget((3, 96, 128), 1 / 16)


def test_map_codec_round_trip_and_damage():
    labels = blocky(1, (30, 41), block=5)[0]
    data = encode_map(labels, 12)
    h, w, classes, method = HEADER.unpack_from(data)
    assert (h, w, classes) == (30, 41, 12) and method in range(len(METHODS))
    assert torch.equal(decode_map(data, 12), labels)
    with pytest.raises(SemcomError, match="12 classes, not 19"):
        decode_map(data, 19)
    with pytest.raises(SemcomError, match="cannot decode the compressed map"):
        decode_map(data[:HEADER.size] + b"\x00garbage", 12)
    sizes = {}
    for index, name in enumerate(METHODS):  # every coder round-trips and reports damage as a one-line error
        one = encode_map(labels, 12, methods=(name,))
        assert HEADER.unpack_from(one)[3] == index and torch.equal(decode_map(one, 12), labels)
        sizes[name] = len(one)
        with pytest.raises(SemcomError, match=f"cannot decode the compressed map \\({name}\\)") as info:
            decode_map(one[:HEADER.size] + one[HEADER.size:][: len(one) // 3], 12)
        assert "\n" not in str(info.value)
    assert len(data) == min(sizes.values())
    with pytest.raises(SemcomError, match="subset of png, zlib, lzma, jxl"):
        encode_map(labels, 12, methods=("gif",))


def test_jpeg_xl_is_the_smallest_coder_on_camvid_maps():
    try:
        maps = load_camvid("test", images=False, limit=10).labels
    except SemcomError as exc:
        pytest.skip(f"CamVid not available: {exc}")
    chosen = [METHODS[HEADER.unpack_from(encode_map(m, 12))[3]] for m in maps]
    assert chosen.count("jxl") >= 8


def test_analog_recovers_near_exactly_at_40_db_and_degrades_as_snr_falls():
    labels = blocky(4, (72, 96), block=12)
    analog = AnalogOneHot(12, 1 / 16)
    assert analog.factor_for(72, 96) == 6  # blocks of 2 x 2 pooled pixels: only corners can blur
    acc = {}
    for snr in (40.0, 10.0, 0.0, -10.0):
        out = analog.transmit(labels, snr, "awgn", torch.Generator().manual_seed(0))
        acc[snr] = pixel_accuracy(labels, out.labels_hat, 12).item()
    assert acc[40.0] > 0.97
    assert acc[40.0] >= acc[10.0] > acc[0.0] > acc[-10.0]
    assert acc[-10.0] < 0.8


def test_analog_on_rayleigh_and_per_example_snr():
    labels = blocky(2, (48, 64), block=8)
    out = AnalogOneHot(12, 1 / 16).transmit(labels, torch.tensor([40.0, -10.0]), "rayleigh",
                                            torch.Generator().manual_seed(0))
    acc = pixel_accuracy(labels, out.labels_hat, 12, reduction="none")
    assert acc[0] > 0.9 and acc[1] < acc[0]


def test_cleaning_windows_follow_the_snr_and_help_at_low_snr():
    analog = AnalogOneHot(12, 1 / 16)
    assert analog.windows(6, 20.0) == (1, 1)  # high SNR: no cleaning
    assert analog.windows(6, -5.0) == (11, 3)
    assert AnalogOneHot(12, 1 / 16, avg_kernel=5, max_kernel=1).windows(6, -5.0) == (5, 1)
    labels = blocky(4, (72, 96), block=12, classes=4)
    plain = AnalogOneHot(12, 1 / 16, avg_kernel=1, max_kernel=1)
    g = torch.Generator().manual_seed(0)
    received, f = analog.send(labels, -5.0, "awgn", g)
    cleaned = analog.clean(received, (72, 96), f, -5.0).argmax(1)
    raw = plain.clean(received, (72, 96), f, -5.0).argmax(1)
    assert pixel_accuracy(labels, cleaned, 12) > pixel_accuracy(labels, raw, 12) + 0.05


def write_camvid(root, split, count, size=(48, 64), seed=0):
    g = torch.Generator().manual_seed(seed)
    for kind in ("images", "labels"):
        (root / split / kind).mkdir(parents=True, exist_ok=True)
    maps = blocky(count, size, block=8, seed=seed)
    maps[:, :8] = 0  # a sky band, a road band: some structure beyond random blocks
    maps[:, -8:] = 3
    for i in range(count):
        Image.fromarray(maps[i].numpy().astype(np.uint8), mode="L").save(root / split / "labels" / f"m{i}.png")
        Image.fromarray(torch.randint(256, (*size, 3), generator=g).numpy().astype(np.uint8)).save(
            root / split / "images" / f"m{i}.png")
    return root


@pytest.fixture(scope="module")
def camvid_like(tmp_path_factory):
    root = tmp_path_factory.mktemp("camvid")
    write_camvid(root, "train", 6)
    write_camvid(root, "val", 2, seed=1)
    return root


def losses(out):
    return [json.loads(line)["loss"] for line in (out / "train.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("model, drop", [("map-jscc", 0.9), ("map-denoiser", 0.5)])
def test_training_lowers_the_loss_resumes_and_checkpoints_reload(model, drop, camvid_like, tmp_path):
    cfg = MapTrainConfig(out=str(tmp_path / model), model=model, data=str(camvid_like), cbr=1 / 16, steps=60,
                         batch=4, crop=32, width=16, blocks=1, val_count=2, lr=5e-3, warmup=5, log_every=5,
                         eval_every=60, ckpt_every=30, snr_range=(5.0, 20.0))
    seed_everything(cfg.seed)  # the run seeds the same way before it builds the model: this is its initial state
    initial = map_model_from_config(cfg.model_config().to_dict())
    path = train_maps(cfg, log=lambda s: None)
    values = losses(path.parent)
    assert values[-1] < values[0]
    last = json.loads((path.parent / "train.jsonl").read_text().splitlines()[-1])
    assert {"miou_snr5", "acc_snr20", "pixel_acc_train"} <= set(last)
    assert train_maps(cfg, log=lambda s: None) == path  # resumes a finished run: nothing more to do
    trained, meta = load_map_model(path, num_classes=12, kind=model)
    assert meta["step"] == 60 and meta["model_config"]["cbr"] == 1 / 16
    # cross-entropy on the held-out maps at 10 dB, same noise: the trained receiver is clearly better
    val = load_camvid("val", camvid_like, images=False).labels
    analog = AnalogOneHot(12, 1 / 16) if model == "map-denoiser" else None
    with torch.no_grad():
        ce = [F.cross_entropy(receive_logits(m.eval(), analog, val, torch.full((2,), 10.0), "awgn",
                                             torch.Generator().manual_seed(0)), val).item() for m in (initial, trained)]
    assert ce[1] < drop * ce[0]
    labels = blocky(1, (48, 64), block=8, seed=2)
    if model == "map-jscc":
        a = trained.transmit(labels, 10.0, "awgn", torch.Generator().manual_seed(0))
        b = trained.transmit(labels, 10.0, "awgn", torch.Generator().manual_seed(0))
        assert torch.equal(a.probs, b.probs) and a.channel_uses.item() == channel_use_budget((3, 48, 64), 1 / 16)
    else:
        out = AnalogOneHot(12, 1 / 16, denoiser=trained).transmit(labels, 10.0, "awgn")
        assert out.probs.shape == (1, 12, 48, 64) and out.labels_hat.shape == (1, 48, 64)
        with pytest.raises(SemcomError, match="trained at CBR 0.0625, not 0.03125"):
            AnalogOneHot(12, 1 / 32, denoiser=trained)


def test_checkpoint_for_another_class_count_is_refused(tmp_path):
    model = MapJSCC(MapJSCCConfig(num_classes=19, cbr=1 / 32, width=16, blocks=0))
    path = tmp_path / "m19.pt"
    atomic_save({"model_config": model.cfg.to_dict(), "state_dict": model.state_dict()}, path)
    with pytest.raises(SemcomError, match="map-jscc for 19 classes, not 12") as info:
        load_map_model(path, num_classes=12)
    assert "\n" not in str(info.value)
    assert load_map_model(path, num_classes=19)[0].num_classes == 19
    with pytest.raises(SemcomError, match="holds a 'map-jscc' model, not a 'map-denoiser'"):
        load_map_model(path, kind="map-denoiser")
    ckpt = read_checkpoint(path)
    ckpt["state_dict"].pop("encoder.0.weight")
    atomic_save(ckpt, path)
    with pytest.raises(SemcomError, match="does not match its map-jscc config"):
        load_map_model(path)


def test_configs_round_trip_and_reject_unsupported_cbr():
    cfg = MapJSCCConfig(cbr=1 / 64, factor=16, width=32)
    assert cfg.latent_channels == 24 and MapJSCCConfig.from_dict(cfg.to_dict()) == cfg
    assert DenoiserConfig.from_dict(DenoiserConfig().to_dict()) == DenoiserConfig()
    with pytest.raises(SemcomError, match="not a whole number"):
        MapJSCCConfig(cbr=1 / 100)
    with pytest.raises(SemcomError, match="no field"):
        MapJSCCConfig.from_dict({**cfg.to_dict(), "colour": 1})


@pytest.mark.parametrize("labels, match", [
    (torch.full((1, 8, 8), 12), r"class indices 0\.\.11, got 12\.\.12"),
    (torch.full((1, 8, 8), -1), r"class indices 0\.\.11, got -1\.\.-1"),
    (torch.zeros(8, 8, dtype=torch.long), r"shape \[B, H, W\]"),
    (torch.zeros(1, 8, 8), "integer class indices"),
])
def test_bad_maps_are_one_line_errors_for_every_transmitter(labels, match):
    for tx in (MapJSCC(MapJSCCConfig(width=16, blocks=0)), AnalogOneHot(12, 1 / 16), DigitalMap(12, 1 / 16, 3)):
        with pytest.raises(SemcomError, match=match) as info:
            tx.transmit(labels, 10.0, "awgn")
        assert "\n" not in str(info.value)


def test_other_bad_input():
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    with pytest.raises(SemcomError, match="snr_db must lie in"):
        AnalogOneHot(12, 1 / 16).transmit(labels, 100.0, "awgn")
    with pytest.raises(SemcomError, match="no BLER table for a Rician"):
        DigitalMap(12, 1 / 16, 3).transmit(labels, 10.0, "rician")
    with pytest.raises(SemcomError, match="fallback_class"):
        DigitalMap(12, 1 / 16, 12)
    with pytest.raises(SemcomError, match="odd integer"):
        AnalogOneHot(12, 1 / 16, avg_kernel=4)
    with pytest.raises(SemcomError, match="fewer than"):
        AnalogOneHot(12, 1 / 1024).channel_uses_for(8, 8)
    with pytest.raises(SemcomError, match="for 12 classes, not 5"):
        AnalogOneHot(5, 1 / 32, denoiser=MapDenoiser(DenoiserConfig()))
    with pytest.raises(SemcomError, match="unknown map model"):
        MapTrainConfig(out="x", model="unet")


def test_shared_camvid_maps_through_all_three():
    root = shared_path("camvid")
    labels = load_camvid("val", root, limit=2, images=False).labels
    analog = AnalogOneHot(12, 1 / 16).transmit(labels, 40.0, "awgn", torch.Generator().manual_seed(0))
    assert pixel_accuracy(labels, analog.labels_hat, 12, 11) > 0.9
    assert miou(labels, analog.labels_hat, 12, 11) > 0.6
    digital = DigitalMap(12, 1 / 16, CAMVID.prior_class).transmit(labels, 20.0, "awgn",
                                                                  torch.Generator().manual_seed(0))
    assert digital.ok.all() and torch.equal(digital.labels_hat, labels)
    assert (digital.channel_uses <= channel_use_budget((3, 180, 240), 1 / 16)).all()
