"""AWGN: measured SNR against the requested one, per-example SNR, determinism, autograd, bad input."""

import math

import pytest
import torch

from semcom.channels import AWGN, normalize_power
from semcom.errors import SemcomError

SNRS_DB = [-20.0, -10.0, 0.0, 10.0, 30.0, 40.0]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def unit_power_symbols(batch: int, n: int, seed: int = 0) -> torch.Tensor:
    return normalize_power(torch.randn(batch, n, dtype=torch.complex64, generator=gen(seed)))


def measured_snr_db(z: torch.Tensor, z_hat: torch.Tensor) -> torch.Tensor:
    """Per-example 10 log10(E|z|^2 / E|z_hat - z|^2), accumulated in float64."""
    z, z_hat = z.to(torch.complex128), z_hat.to(torch.complex128)
    signal = (z.abs() ** 2).mean(dim=1)
    noise = ((z_hat - z).abs() ** 2).mean(dim=1)
    return 10.0 * torch.log10(signal / noise)


@pytest.mark.parametrize("snr_db", [-10.0, 0.0, 10.0, 30.0])
def test_scalar_snr_is_met_within_0p1_db_over_a_million_symbols(snr_db):
    z = unit_power_symbols(4, 250_000)
    z_hat = AWGN()(z, snr_db, gen(1))
    total = 10.0 * math.log10(1.0 / ((z_hat - z).abs() ** 2).double().mean().item())
    assert abs(total - snr_db) < 0.1
    assert (measured_snr_db(z, z_hat) - snr_db).abs().max() < 0.1  # each example on its own


def test_per_example_snr_tensor_gives_each_example_its_own_snr():
    snr_db = torch.tensor(SNRS_DB)
    z = unit_power_symbols(len(SNRS_DB), 1_000_000)
    z_hat = AWGN()(z, snr_db, gen(2))
    error = measured_snr_db(z, z_hat) - snr_db.double()
    assert error.abs().max() < 0.1, error


def test_noise_per_real_element_is_half_the_complex_noise_variance():
    z = torch.zeros(2, 500, 2, 100)  # real layout, all-zero input: output is pure noise
    y = AWGN()(z, torch.tensor([0.0, 10.0]), gen(3))
    per_element = (y.double() ** 2).reshape(2, -1).mean(1)
    torch.testing.assert_close(per_element, torch.tensor([0.5, 0.05], dtype=torch.float64), rtol=0.02, atol=0)


def test_noise_is_circular_and_independent_of_the_signal():
    z = unit_power_symbols(1, 400_000)
    noise = (AWGN()(z, 0.0, gen(4)) - z).to(torch.complex128)
    re, im = noise.real.flatten(), noise.imag.flatten()
    torch.testing.assert_close(re.var(), im.var(), rtol=0.02, atol=0)
    assert abs(re.mean()) < 0.01 and abs(im.mean()) < 0.01
    assert abs((re * im).mean()) < 0.01
    assert abs((noise * z.conj().to(torch.complex128)).mean()) < 0.01


def test_transmit_reports_noise_variance_per_example():
    z = unit_power_symbols(3, 8)
    _, noise_var = AWGN().transmit(z, torch.tensor([-10.0, 0.0, 20.0]), gen())
    torch.testing.assert_close(noise_var, torch.tensor([[10.0], [1.0], [0.01]]))
    _, noise_var = AWGN().transmit(z, 3.0, gen())
    assert noise_var.shape == (3, 1)
    torch.testing.assert_close(noise_var, torch.full((3, 1), 10 ** -0.3))


def test_same_seed_gives_identical_output_and_different_seed_differs():
    z = unit_power_symbols(2, 64)
    channel = AWGN()
    assert torch.equal(channel(z, 5.0, gen(7)), channel(z, 5.0, gen(7)))
    assert not torch.equal(channel(z, 5.0, gen(7)), channel(z, 5.0, gen(8)))
    # without a generator the global RNG is used: successive calls differ
    assert not torch.equal(channel(z, 5.0), channel(z, 5.0))


def test_scalar_and_per_example_snr_broadcast_consistently():
    z = unit_power_symbols(3, 32)
    channel = AWGN()
    reference = channel(z, 7.0, gen(5))
    for snr in (7, torch.tensor(7.0), torch.tensor([7.0]), torch.full((3,), 7.0)):
        assert torch.equal(channel(z, snr, gen(5)), reference)
    # each row of a per-example call equals the scalar call at that row's SNR (same noise draw)
    mixed = channel(z, torch.tensor([-5.0, 7.0, 25.0]), gen(5))
    for row, snr in enumerate((-5.0, 7.0, 25.0)):
        torch.testing.assert_close(mixed[row], channel(z, snr, gen(5))[row])


def test_gradients_flow_through_awgn():
    z = torch.randn(2, 3, 4, dtype=torch.float64, generator=gen(), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: AWGN()(t, torch.tensor([0.0, 10.0]), gen(9)), (z,))
    # additive channel: d(sum y)/dz = 1
    AWGN()(z, 3.0, gen(9)).sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))
    zc = torch.randn(2, 5, dtype=torch.complex128, generator=gen(), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: AWGN()(t, 0.0, gen(9)), (zc,))


@pytest.mark.parametrize(
    "snr_db, message",
    [
        (-20.5, r"\[-20, 40\]"),
        (40.5, r"\[-20, 40\]"),
        (float("nan"), "NaN or inf"),
        (float("inf"), "NaN or inf"),
        (torch.tensor([0.0, 100.0, 0.0]), r"\[-20, 40\]"),
        (torch.tensor([0.0, 10.0]), "2 values but the batch has 3"),
        (torch.zeros(3, 1), "scalar or a 1-D"),
    ],
)
def test_bad_snr_raises_one_line_semcom_error(snr_db, message):
    z = unit_power_symbols(3, 4)
    with pytest.raises(SemcomError, match=message) as info:
        AWGN()(z, snr_db)
    assert "\n" not in str(info.value)


def test_snr_at_range_limits_is_accepted():
    z = unit_power_symbols(2, 4)
    assert AWGN()(z, torch.tensor([-20.0, 40.0]), gen()).shape == z.shape


def test_unexpected_argument_is_a_type_error_not_silence():
    z = unit_power_symbols(1, 4)
    with pytest.raises(TypeError):
        AWGN()(z, snr=10.0)
    with pytest.raises(TypeError):
        AWGN()(z, 10.0, gen(), 3)
