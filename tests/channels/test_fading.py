"""Rayleigh/Rician fading: average received SNR, gain statistics, block coherence, equalisers, autograd."""

import math

import pytest
import torch

from semcom.channels import AWGN, CHANNELS, FadingChannel, Rayleigh, Rician, build_channel, normalize_power
from semcom.errors import SemcomError

SNRS_DB = torch.tensor([-10.0, 0.0, 10.0, 30.0])


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def unit_power_symbols(batch: int, n: int, seed: int = 0) -> torch.Tensor:
    return normalize_power(torch.randn(batch, n, dtype=torch.complex64, generator=gen(seed)))


def record_gains(channel: FadingChannel, monkeypatch) -> list:
    """Make ``channel`` keep every h it draws, so tests can see the gains it actually applied."""
    drawn = []
    original = channel.draw_gains

    def recording(*args, **kwargs):
        h = original(*args, **kwargs)
        drawn.append(h)
        return h

    monkeypatch.setattr(channel, "draw_gains", recording)
    return drawn


@pytest.mark.parametrize("k_factor", [0.0, 4.0], ids=["rayleigh", "rician-k4"])
@pytest.mark.parametrize("coherence, block_len", [("fast", None), ("block", 16)])
def test_average_received_snr_matches_request_within_0p1_db(k_factor, coherence, block_len, monkeypatch):
    channel = FadingChannel(k_factor, coherence=coherence, equalizer="none", block_len=block_len)
    drawn = record_gains(channel, monkeypatch)
    z = unit_power_symbols(len(SNRS_DB), 1_000_000)
    y = channel(z, SNRS_DB, gen(1))
    (h,) = drawn
    hz = (h * z).to(torch.complex128)
    signal = (hz.abs() ** 2).mean(dim=1)
    noise = ((y.to(torch.complex128) - hz).abs() ** 2).mean(dim=1)
    measured = 10.0 * torch.log10(signal / noise)
    assert (measured - SNRS_DB.double()).abs().max() < 0.1, measured
    # E|h|^2 = 1, so the average received SNR equals the requested one
    assert abs((h.abs() ** 2).double().mean().item() - 1.0) < 0.01


@pytest.mark.parametrize("k_factor", [0.0, 1.0, 10.0])
def test_gain_statistics_follow_the_rician_model(k_factor):
    channel = Rician(k_factor)
    h = channel.draw_gains(1, 400_000, torch.zeros(1, dtype=torch.complex64), gen(2)).to(torch.complex128)
    los = math.sqrt(k_factor / (k_factor + 1.0))
    torch.testing.assert_close(h.mean(), torch.tensor(los + 0j, dtype=torch.complex128), atol=0.005, rtol=0)
    power = h.abs() ** 2
    assert abs(power.mean().item() - 1.0) < 0.01
    # Var|h|^2 = (1 + 2K) / (1 + K)^2 for Rician fading (1 for Rayleigh)
    expected_var = (1.0 + 2.0 * k_factor) / (1.0 + k_factor) ** 2
    assert abs(power.var().item() / expected_var - 1.0) < 0.03


def test_rayleigh_gain_power_is_exponential():
    h = Rayleigh().draw_gains(1, 400_000, torch.zeros(1, dtype=torch.complex64), gen(3))
    power = (h.abs() ** 2).double().flatten()
    for threshold in (0.1, 1.0, 3.0):
        assert abs((power > threshold).double().mean().item() - math.exp(-threshold)) < 0.005


def test_large_k_factor_approaches_awgn():
    like = torch.zeros(1, dtype=torch.complex64)
    distances = []
    for k in (0.0, 1.0, 10.0, 1e4):
        h = Rician(k).draw_gains(1, 200_000, like, gen(4)).to(torch.complex128)
        measured = ((h - 1.0).abs() ** 2).mean().item()
        expected = 2.0 - 2.0 * math.sqrt(k / (k + 1.0))  # E|h - 1|^2
        assert abs(measured - expected) < 0.02 * expected + 1e-6
        distances.append(measured)
    assert distances == sorted(distances, reverse=True)
    # at K = 1e4 the received signal is AWGN: E|y - z|^2 = noise_var (to within 1 %)
    z = unit_power_symbols(1, 400_000)
    for channel in (Rician(1e4, equalizer="none"), Rician(1e4, equalizer="zf")):
        error = ((channel(z, 10.0, gen(5)) - z).abs() ** 2).double().mean().item()
        awgn_error = ((AWGN()(z, 10.0, gen(5)) - z).abs() ** 2).double().mean().item()
        assert abs(error / 0.1 - 1.0) < 0.01 and abs(awgn_error / 0.1 - 1.0) < 0.01
    # while Rayleigh without equalisation is far from it: E|y - z|^2 = 2 + noise_var
    error = ((Rayleigh(equalizer="none")(z, 10.0, gen(5)) - z).abs() ** 2).double().mean().item()
    assert abs(error - 2.1) < 0.05


def test_block_fading_has_one_gain_per_block():
    like = torch.zeros(1, dtype=torch.complex64)
    h = Rayleigh(coherence="block", block_len=4).draw_gains(3, 10, like, gen(6))
    assert h.shape == (3, 10)
    for start, stop in ((0, 4), (4, 8), (8, 10)):  # last block is partial
        assert torch.all(h[:, start:stop] == h[:, start : start + 1])
    assert torch.all(h[:, 0] != h[:, 4]) and torch.all(h[:, 4] != h[:, 8])
    # default block: one gain per example, different between examples
    h = Rayleigh(coherence="block").draw_gains(3, 7, like, gen(6))
    assert torch.all(h == h[:, :1])
    assert len(set(h[:, 0].tolist())) == 3
    # fast fading: a new gain every symbol
    h = Rayleigh(coherence="fast").draw_gains(1, 50, like, gen(6))
    assert len(set(h[0].tolist())) == 50


def test_block_fading_channel_applies_the_block_gain(monkeypatch):
    channel = Rayleigh(coherence="block", equalizer="none")
    drawn = record_gains(channel, monkeypatch)
    z = unit_power_symbols(2, 64)
    y = channel(z, 40.0, gen(7))
    (h,) = drawn
    assert torch.all(h == h[:, :1])
    # at 40 dB the received symbols are h z up to noise of std 0.01
    assert ((y - h * z).abs() ** 2).mean() < 1e-3
    assert ((y - h[:, :1] * z).abs() ** 2).mean() < 1e-3


@pytest.mark.parametrize("snr_db", [10.0, 30.0])
def test_zero_forcing_output_is_unbiased(snr_db):
    points = torch.tensor([1 + 1j, 1 - 1j, -1 + 1j, -1 - 1j], dtype=torch.complex64) / math.sqrt(2.0)
    index = torch.randint(0, 4, (1, 1_000_000), generator=gen(8))
    z = points[index]
    z_hat = Rayleigh(equalizer="zf")(z, snr_db, gen(9))
    for k, point in enumerate(points):
        ratio = z_hat[index == k].to(torch.complex128).mean() / point
        assert abs(ratio - 1.0) < 0.02, (k, ratio)


@pytest.mark.parametrize("equalizer", ["zf", "mmse"])
@pytest.mark.parametrize("snr_db", [0.0, 10.0])
def test_reported_noise_is_the_true_error_variance_and_unbiased(equalizer, snr_db):
    """Issue 20: the reported per-symbol noise variance must be the error variance of the equaliser's output
    (measured E|z_hat - z|^2 / noise_var_eff = 1 within 5 %), and the output unbiased (E[z_hat | z] = z)."""
    z = unit_power_symbols(1, 400_000)
    z_hat, noise_var_eff = Rayleigh(equalizer=equalizer).transmit(z, snr_db, gen(10))
    err = ((z_hat - z).abs() ** 2).to(torch.float64)
    ratio = (err / noise_var_eff.to(torch.float64)).mean().item()
    assert abs(ratio - 1.0) < 0.05, ratio
    # unbiased: the component of z_hat along z averages to 1
    along = (z_hat * z.conj()).real.to(torch.float64) / (z.abs() ** 2).to(torch.float64)
    assert abs(along.median().item() - 1.0) < 0.01


def test_mmse_equals_zf_for_one_antenna():
    z = unit_power_symbols(2, 1000)
    zf = Rayleigh(equalizer="zf").transmit(z, 5.0, gen(11))
    mmse = Rayleigh(equalizer="mmse").transmit(z, 5.0, gen(11))
    torch.testing.assert_close(mmse[0], zf[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(mmse[1], zf[1])


def test_zero_forcing_noise_and_reported_noise_variance(monkeypatch):
    channel = Rayleigh(equalizer="zf")
    drawn = record_gains(channel, monkeypatch)
    z = unit_power_symbols(2, 500_000)
    snr = torch.tensor([0.0, 20.0])
    z_hat, noise_var_eff = channel.transmit(z, snr, gen(11))
    (h,) = drawn
    noise_var = 10 ** (-snr / 10)
    # noise before equalisation h (z_hat - z) is CN(0, noise_var)
    noise = (h * (z_hat - z)).to(torch.complex128)
    torch.testing.assert_close((noise.abs() ** 2).mean(1), noise_var.double(), rtol=0.01, atol=0)
    # reported per-symbol noise variance is noise_var / |h|^2
    assert noise_var_eff.shape == (2, 500_000)
    torch.testing.assert_close(noise_var_eff, noise_var.reshape(2, 1) / h.abs() ** 2)


def test_same_seed_gives_identical_output_and_different_seed_differs():
    z = unit_power_symbols(2, 64)
    for channel in (Rayleigh(), Rician(3.0, coherence="block"), Rayleigh(equalizer="mmse")):
        assert torch.equal(channel(z, 5.0, gen(12)), channel(z, 5.0, gen(12)))
        assert not torch.equal(channel(z, 5.0, gen(12)), channel(z, 5.0, gen(13)))


def test_per_example_snr_broadcasts(monkeypatch):
    channel = Rayleigh(equalizer="none")
    z = unit_power_symbols(3, 16)
    reference = channel(z, 12.0, gen(14))
    assert torch.equal(channel(z, torch.full((3,), 12.0), gen(14)), reference)
    assert torch.equal(channel(z, torch.tensor([12.0]), gen(14)), reference)
    mixed = channel(z, torch.tensor([0.0, 12.0, 30.0]), gen(14))
    for row, snr in enumerate((0.0, 12.0, 30.0)):
        torch.testing.assert_close(mixed[row], channel(z, snr, gen(14))[row])
    with pytest.raises(SemcomError, match="2 values but the batch has 3"):
        channel(z, torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize(
    "channel",
    [
        Rayleigh(equalizer="zf"),
        Rayleigh(equalizer="mmse"),
        Rician(2.0, equalizer="none"),
        Rayleigh(coherence="block", block_len=2),
    ],
    ids=["rayleigh-zf", "rayleigh-mmse", "rician-none", "block-zf"],
)
def test_gradients_flow_through_fading(channel):
    z = torch.randn(2, 6, dtype=torch.float64, generator=gen(), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: channel(t, torch.tensor([0.0, 10.0]), gen(15)), (z,))


def test_zero_forcing_gradient_is_identity():
    z = torch.randn(2, 8, generator=gen(), requires_grad=True)
    Rayleigh(equalizer="zf")(z, 10.0, gen(16)).sum().backward()
    torch.testing.assert_close(z.grad, torch.ones_like(z))


def test_build_channel_names():
    assert set(CHANNELS) == {"awgn", "rayleigh", "rayleigh-block", "rician"}
    assert isinstance(build_channel("awgn"), AWGN)
    ray = build_channel("rayleigh")
    assert isinstance(ray, Rayleigh) and (ray.coherence, ray.equalizer) == ("fast", "zf")
    assert build_channel("rayleigh-block").coherence == "block"
    ric = build_channel("rician", k_factor=7.0)
    assert isinstance(ric, Rician) and ric.k_factor == 7.0
    with pytest.raises(SemcomError, match="unknown channel 'rayleigh-fast'"):
        build_channel("rayleigh-fast")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Rician(-1.0), "K factor"),
        (lambda: Rician(float("nan")), "K factor"),
        (lambda: Rician(float("inf")), "K factor"),
        (lambda: Rayleigh(coherence="slow"), "unknown coherence"),
        (lambda: Rayleigh(equalizer="ml"), "unknown equalizer"),
        (lambda: Rayleigh(coherence="block", block_len=0), "block_len"),
    ],
)
def test_bad_configuration_raises_semcom_error(make, message):
    with pytest.raises(SemcomError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "z, snr_db",
    [
        (torch.tensor([[1.0, float("nan")]]), 10.0),
        (torch.tensor([[1.0, float("-inf")]]), 10.0),
        (torch.ones(1, 4, dtype=torch.int32), 10.0),
        (torch.ones(1, 4), 45.0),
        (torch.ones(1, 4), float("nan")),
    ],
    ids=["nan", "inf", "int", "snr-high", "snr-nan"],
)
def test_bad_input_raises_semcom_error(z, snr_db):
    for channel in (Rayleigh(), Rician(2.0)):
        with pytest.raises(SemcomError):
            channel(z, snr_db)
