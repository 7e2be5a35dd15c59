"""The checkpoint shipped in the package: loads offline, carries its provenance, and actually works."""


import torch

from semcom.channels import AWGN
from semcom.data import demo_images
from semcom.jscc.transmitter import DEFAULT_CHECKPOINT, JSCCTransmitter
from semcom.metrics import psnr_db
from semcom.seeding import make_generator


def test_shipped_checkpoint_serves_cbr_1_16_and_1_8_and_records_training():
    tx = JSCCTransmitter.from_checkpoint(AWGN(), DEFAULT_CHECKPOINT)
    assert tx.model.channels_for_cbr(1 / 16) == 96 and tx.model.channels_for_cbr(1 / 8) == 192
    assert tx.meta["step"] >= 1000 and tx.meta["cpu_hours"] > 0
    assert tx.meta["train_config"]["data"].endswith("photos-train")  # never Kodak
    assert DEFAULT_CHECKPOINT.stat().st_size < 12e6


def test_shipped_model_quality_rises_with_snr_and_cbr():
    images = [x for _, x in demo_images(128)]

    def psnr(snr, cbr):  # mean over the four bundled photos
        scheme = JSCCTransmitter.from_checkpoint(AWGN(), DEFAULT_CHECKPOINT, cbr)
        return sum(psnr_db(x, scheme.transmit(x, snr, make_generator(0)).x_hat).item() for x in images) / len(images)

    low, high, wide = psnr(1.0, 1 / 16), psnr(13.0, 1 / 16), psnr(13.0, 1 / 8)
    assert low > 20.0
    assert high > low + 1.0
    assert wide > high


def test_shipped_model_serves_the_low_rates_it_was_trained_for():
    # second training stage: CBR 1/64 and 1/32 (24 and 48 latent maps) work, within a few dB of 1/16, and the quality
    # still rises with the rate (the first-stage model, never trained below 1/16, lost ~7 dB at 1/64)
    tx = JSCCTransmitter.from_checkpoint(AWGN(), DEFAULT_CHECKPOINT)
    assert sorted(tx.meta["train_config"]["cbr"]) == [1 / 64, 1 / 32, 1 / 16, 1 / 8]
    images = [x for _, x in demo_images(128)]

    def psnr(cbr):
        scheme = JSCCTransmitter.from_checkpoint(AWGN(), DEFAULT_CHECKPOINT, cbr)
        return sum(psnr_db(x, scheme.transmit(x, 7.0, make_generator(0)).x_hat).item() for x in images) / len(images)

    r64, r32, r16 = psnr(1 / 64), psnr(1 / 32), psnr(1 / 16)
    assert r64 < r32 < r16
    assert r64 > r16 - 3.0


def test_each_cbr_has_its_default_model():
    from semcom.jscc.transmitter import SHIPPED_BY_CBR, default_checkpoint

    assert default_checkpoint(1 / 16).name == SHIPPED_BY_CBR[1 / 16] == "hybrid-cbr16.pt"
    assert default_checkpoint(1 / 16, 7.9).name == "hybrid-cbr16.pt"  # the general model below 8 dB
    assert default_checkpoint(1 / 16, 8.0).name == default_checkpoint(1 / 16, 13.0).name == "hybrid-cbr16-10db.pt"
    assert default_checkpoint(1 / 8).name == SHIPPED_BY_CBR[1 / 8] == "hybrid-cbr8.pt"
    assert default_checkpoint(1 / 32).name == default_checkpoint(1 / 32, 10.0).name == "hybrid-cbr32.pt"
    assert default_checkpoint(3 / 32) == DEFAULT_CHECKPOINT  # no dedicated model: the rate-adaptive ADJSCC
    # fast Rayleigh has its own table (the ADJSCC below the measured crossover); a channel without one uses AWGN's
    assert default_checkpoint(1 / 16, 1.0, "rayleigh") == DEFAULT_CHECKPOINT
    assert default_checkpoint(1 / 16, 1.0, "awgn").name == default_checkpoint(1 / 16, 1.0, "rician").name \
        == "hybrid-cbr16.pt"
    for cbr in (1 / 32, 1 / 16, 1 / 8):
        assert JSCCTransmitter.from_checkpoint(AWGN(), cbr=cbr).model.cfg.name == "hybrid"
    assert JSCCTransmitter.from_checkpoint(AWGN(), cbr=3 / 32).model.cfg.name == "adjscc"


def test_the_transmitter_picks_by_channel_and_snr():
    from semcom.channels import build_channel
    from semcom.jscc.transmitter import channel_key

    assert [channel_key(build_channel(n)) for n in ("awgn", "rayleigh", "rayleigh-block", "rician")] == [
        "awgn", "rayleigh", None, None]
    x = torch.rand(3, 32, 48, generator=torch.Generator().manual_seed(0))
    fading = JSCCTransmitter.from_checkpoint(build_channel("rayleigh"), cbr=1 / 16)
    assert fading.transmit(x, 1.0, make_generator(0)).details["checkpoint"] == "adjscc.pt"
    assert fading.transmit(x, 13.0, make_generator(0)).details["checkpoint"].startswith("hybrid-cbr16")
    plain = JSCCTransmitter.from_checkpoint(AWGN(), cbr=1 / 16)
    assert plain.transmit(x, 1.0, make_generator(0)).details["checkpoint"] == "hybrid-cbr16.pt"


def test_shipped_hybrid_clears_the_linear_floor_and_the_old_model_on_the_demo_photos():
    import pytest

    from semcom.errors import SemcomError
    from semcom.jscc.softcast import SoftCastTransmitter, load_softcast
    from semcom.jscc.transmitter import default_checkpoint

    path = default_checkpoint(1 / 16)
    # the models' pictures: both analog schemes get their side payload on the ideal link (its price and losses on the
    # real one are tests/jscc/test_side_scale.py's)
    hybrid = JSCCTransmitter.from_checkpoint(AWGN(), path, side_link="ideal")
    assert hybrid.meta["train_config"]["data"].endswith("photos-train") and hybrid.meta["cpu_hours"] > 1.0
    assert path.stat().st_size < 6e6
    with pytest.raises(SemcomError, match="not supported"):
        JSCCTransmitter.from_checkpoint(AWGN(), path, 1 / 8)  # a single-rate model refuses other CBRs
    softcast = SoftCastTransmitter(load_softcast("pca"), AWGN(), 1 / 16, side_link="ideal")
    adjscc = JSCCTransmitter.from_checkpoint(AWGN(), DEFAULT_CHECKPOINT, 1 / 16)
    images = [x for _, x in demo_images(256)]

    def psnr(scheme, snr):
        return sum(psnr_db(x, scheme.transmit(x, snr, make_generator(i)).x_hat.clamp(0, 1)).item()
                   for i, x in enumerate(images)) / len(images)

    ours = [psnr(hybrid, s) for s in (1.0, 7.0, 13.0)]
    assert all(o > psnr(softcast, s) for o, s in zip(ours, (1.0, 7.0, 13.0)))
    assert ours[1] > psnr(adjscc, 7.0) and ours[2] > psnr(adjscc, 13.0)
    assert ours[2] > ours[0] + 2.5  # rises with SNR
