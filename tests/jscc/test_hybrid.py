"""The hybrid JSCC (SoftCast-initialised linear path + conv paths): starts as SoftCast, rate-adaptive, trains."""

from __future__ import annotations

import pytest
import torch

from semcom.channels import AWGN, build_channel
from semcom.errors import SemcomError
from semcom.jscc.checkpoint import load_jscc
from semcom.jscc.hybrid import HybridConfig, HybridJSCC
from semcom.jscc.softcast import SoftCast, dct_basis, fit_pca
from semcom.metrics import psnr_db
from semcom.training.checkpoint import atomic_save


@pytest.fixture(scope="module")
def basis():
    gen = torch.Generator().manual_seed(0)
    low = torch.rand(6, 3, 16, 16, generator=gen)
    images = torch.nn.functional.interpolate(low, size=(96, 96), mode="bicubic", align_corners=False).clamp(0, 1)
    return fit_pca(list(images), components=192, stride=4)


def smooth_batch(seed: int, n: int = 2, size: int = 64) -> torch.Tensor:
    low = torch.rand(n, 3, size // 8, size // 8, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(low, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)


@pytest.mark.parametrize("snr_db", [1.0, 10.0, 30.0])
def test_at_initialisation_it_is_softcast(basis, snr_db):
    model = HybridJSCC(HybridConfig())
    model.init_linear(basis)
    x = smooth_batch(1, n=4)
    ours = psnr_db(x, model.transmit_batch(x, snr_db, AWGN(), 1 / 16, torch.Generator().manual_seed(2))["x_hat"]).mean()
    ref = psnr_db(x, SoftCast(basis).transmit_batch(x, snr_db, AWGN(), 1 / 16, torch.Generator().manual_seed(2))["x_hat"]).mean()
    assert ours.item() == pytest.approx(ref.item(), abs=0.35)  # same scheme, noise drawn in another order


def test_noise_free_at_initialisation_matches_softcast_exactly(basis):
    model = HybridJSCC(HybridConfig())
    model.init_linear(basis)
    x = smooth_batch(3)
    ours = model.transmit_batch(x, 40.0, AWGN(), 1 / 16, torch.Generator().manual_seed(0))["x_hat"]
    ref = SoftCast(basis).transmit_batch(x, 40.0, AWGN(), 1 / 16, torch.Generator().manual_seed(0))["x_hat"]
    assert psnr_db(ref, ours).min().item() > 38


def test_rate_adaptive_prefixes_and_channel_uses(basis):
    model = HybridJSCC(HybridConfig(latent_channels=192))
    model.init_linear(basis)
    x = smooth_batch(4, size=48)
    psnrs = []
    for cbr, maps in ((1 / 32, 48), (1 / 16, 96), (1 / 8, 192)):
        out = model.transmit_batch(x, 20.0, AWGN(), cbr, torch.Generator().manual_seed(1))
        assert int(out["channel_uses"][0]) == maps * 9 // 2 + 16  # 3x3 latent positions, 16 side bits
        assert torch.count_nonzero(out["z"][:, maps:]) == 0
        psnrs.append(psnr_db(x, out["x_hat"]).mean().item())
    assert psnrs == sorted(psnrs)
    with pytest.raises(SemcomError, match="not supported"):
        model.channels_for_cbr(1 / 4)


def test_fading_is_finite_and_training_steps_reduce_the_loss(basis):
    model = HybridJSCC(HybridConfig(width=16))
    model.init_linear(basis)
    out = model.transmit_batch(smooth_batch(5), 0.0, build_channel("rayleigh"), 1 / 16, torch.Generator().manual_seed(0))
    assert torch.isfinite(out["x_hat"]).all()
    x = smooth_batch(6, n=8)
    opt = torch.optim.Adam(model.param_groups(3e-3, 0.05))
    losses = []
    model.train()
    for step in range(30):
        res = model(x, 10.0, AWGN(), 1 / 16, torch.Generator().manual_seed(0))  # one noise draw: overfit it
        loss = (res["x_hat"] - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.9 * losses[0], losses


def test_plain_variant_has_no_linear_path():
    model = HybridJSCC(HybridConfig(linear=False, width=8))
    assert model.linear_parameters() == []
    out = model.transmit_batch(smooth_batch(7), 5.0, AWGN(), 1 / 16)
    assert out["x_hat"].shape == (2, 3, 64, 64)
    with pytest.raises(SemcomError, match="needs the linear path"):
        HybridConfig(linear=False, conv=False)


def test_init_refuses_a_basis_it_cannot_use():
    with pytest.raises(SemcomError, match="pca basis"):
        HybridJSCC(HybridConfig()).init_linear(dct_basis())


def test_checkpoint_round_trip_and_other_architecture(tmp_path, basis):
    model = HybridJSCC(HybridConfig(width=8))
    model.init_linear(basis)
    atomic_save({"model_config": model.cfg.to_dict(), "state_dict": model.state_dict()}, tmp_path / "h.pt")
    back, _ = load_jscc(tmp_path / "h.pt")
    x = smooth_batch(8)
    a = model.transmit_batch(x, 10.0, AWGN(), 1 / 16, torch.Generator().manual_seed(0))["x_hat"]
    b = back.transmit_batch(x, 10.0, AWGN(), 1 / 16, torch.Generator().manual_seed(0))["x_hat"]
    assert torch.equal(a, b)
    atomic_save({"model_config": HybridConfig(width=16).to_dict(), "state_dict": model.state_dict()}, tmp_path / "bad.pt")
    with pytest.raises(SemcomError, match="does not match"):
        load_jscc(tmp_path / "bad.pt")


def test_extra_residual_blocks_keep_the_softcast_start_and_the_old_layout(basis):
    deep = HybridJSCC(HybridConfig(width=8, blocks=2))
    deep.init_linear(basis)
    x = smooth_batch(9)
    ours = deep.transmit_batch(x, 40.0, AWGN(), 1 / 16, torch.Generator().manual_seed(0))["x_hat"]
    ref = SoftCast(basis).transmit_batch(x, 40.0, AWGN(), 1 / 16, torch.Generator().manual_seed(0))["x_hat"]
    assert psnr_db(ref, ours).min().item() > 38
    assert sum(p.numel() for p in deep.parameters()) > sum(p.numel() for p in HybridJSCC(HybridConfig(width=8)).parameters())
    # blocks=0 keeps the parameter names of checkpoints written before the option existed
    assert "dec_conv.8.weight" in HybridJSCC(HybridConfig(width=8)).state_dict()


@pytest.mark.parametrize("blocks", [0, 1])
def test_strided_stem_starts_as_softcast_and_trains(basis, blocks):
    model = HybridJSCC(HybridConfig(width=8, stem="strided", blocks=blocks))
    model.init_linear(basis)
    x = smooth_batch(5, size=48)  # not a multiple of 16 after cropping below: padded like the other stem
    x = x[..., :40, :44]
    ours = model.transmit_batch(x, 40.0, AWGN(), 1 / 16, torch.Generator().manual_seed(0))["x_hat"]
    ref = SoftCast(basis).transmit_batch(x, 40.0, AWGN(), 1 / 16, torch.Generator().manual_seed(0))["x_hat"]
    assert ours.shape == x.shape and psnr_db(ref, ours).min().item() > 38
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model.train()
    before = None
    for _ in range(2):
        out = model(x, torch.tensor([10.0, 10.0]), AWGN(), [1 / 16, 1 / 16], torch.Generator().manual_seed(1))
        loss = (out["x_hat"] - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        before = before or [p.detach().clone() for p in model.dec_conv.parameters()]
        opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.dec_conv.parameters()))  # the zeroed tail learns


def test_unknown_stem_is_refused():
    with pytest.raises(SemcomError, match="stem"):
        HybridConfig(stem="pyramid")


def test_a_transmitter_without_a_checkpoint_picks_the_shipped_specialist_by_snr(tmp_path, basis, monkeypatch):
    """Specialists are used inside their SNR interval only (lowest bound inclusive), the general model elsewhere and
    whenever a specialist's file is missing; ``details`` names the file each transmission used."""
    import semcom.jscc.transmitter as transmitter

    for name, width in (("general.pt", 8), ("high.pt", 16)):
        model = HybridJSCC(HybridConfig(width=width))
        model.init_linear(basis)
        atomic_save({"model_config": model.cfg.to_dict(), "state_dict": model.state_dict()}, tmp_path / name)
    monkeypatch.setattr(transmitter, "PACKAGE_CHECKPOINTS", tmp_path)
    monkeypatch.setattr(transmitter, "SHIPPED_BY_CBR", {1 / 16: "general.pt"})
    monkeypatch.setattr(transmitter, "SPECIALISTS_BY_CBR", {1 / 16: ((8.0, 20.0, "high.pt"), (-9.0, -5.0, "gone.pt"))})
    assert transmitter.default_checkpoint(1 / 16) == tmp_path / "general.pt"
    assert [transmitter.default_checkpoint(1 / 16, s).name for s in (-6.0, 7.9, 8.0, 19.9, 20.0)] == [
        "general.pt", "general.pt", "high.pt", "high.pt", "general.pt"]
    assert transmitter.default_checkpoint(1 / 8, 10.0) == transmitter.DEFAULT_CHECKPOINT

    auto = transmitter.JSCCTransmitter.from_checkpoint(AWGN(), cbr=1 / 16)
    fixed = transmitter.JSCCTransmitter.from_checkpoint(AWGN(), tmp_path / "general.pt", 1 / 16)
    high = transmitter.JSCCTransmitter.from_checkpoint(AWGN(), tmp_path / "high.pt", 1 / 16)
    assert auto.by_snr and not fixed.by_snr and "by SNR" in auto.describe()["checkpoint"]
    x = smooth_batch(10, n=1)[0]

    def sent(scheme, snr):
        return scheme.transmit(x, snr, torch.Generator().manual_seed(3))

    assert sent(auto, 10.0).details["checkpoint"] == "high.pt"
    assert torch.equal(sent(auto, 10.0).x_hat, sent(high, 10.0).x_hat)
    assert sent(auto, 4.0).details["checkpoint"] == "general.pt"
    assert torch.equal(sent(auto, 4.0).x_hat, sent(fixed, 4.0).x_hat)
    assert sent(fixed, 10.0).details["checkpoint"] == "general.pt"  # a given checkpoint is always used
