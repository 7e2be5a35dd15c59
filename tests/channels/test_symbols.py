"""Pairing real tensors into complex symbols, power normalisation and channel-use counting."""

import pytest
import torch

from semcom.channels import (
    AWGN, RX_LIMIT, PowerNormalize, Rayleigh, complex_uses, limit_received, normalize_power, to_complex,
)
from semcom.errors import SemcomError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape", [(2, 4), (3, 2, 5, 4)])
def test_real_pairing_round_trip_preserves_values_shape_and_dtype(shape, dtype):
    z = torch.randn(shape, generator=gen()).to(dtype)
    zc, restore = to_complex(z)
    per_example = z[0].numel()
    assert zc.shape == (shape[0], per_example // 2)
    assert zc.dtype == (torch.complex128 if dtype == torch.float64 else torch.complex64)
    # consecutive (real, imag) pairs of the flattened example
    flat = z.reshape(shape[0], -1).to(zc.real.dtype)
    assert torch.equal(zc.real, flat[:, 0::2]) and torch.equal(zc.imag, flat[:, 1::2])
    back = restore(zc)
    assert back.shape == z.shape and back.dtype == z.dtype
    assert torch.equal(back, z)


def test_complex_input_is_only_flattened():
    z = torch.randn(2, 3, 4, dtype=torch.complex64, generator=gen())
    zc, restore = to_complex(z)
    assert zc.shape == (2, 12) and zc.dtype == torch.complex64
    assert torch.equal(zc, z.reshape(2, 12))
    assert torch.equal(restore(zc), z)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_channel_output_keeps_real_layout_and_dtype(dtype):
    z = torch.randn(2, 3, 4, 6, generator=gen()).to(dtype)
    for channel in (AWGN(), Rayleigh()):
        y = channel(z, 10.0, gen(1))
        assert y.shape == z.shape and y.dtype == dtype
        assert not torch.equal(y, z)


def test_odd_number_of_real_elements_is_rejected():
    z = torch.randn(2, 3, 5)  # 15 real elements per example
    with pytest.raises(SemcomError, match="even number"):
        to_complex(z)
    with pytest.raises(SemcomError, match="even number"):
        AWGN()(z, 10.0)


@pytest.mark.parametrize(
    "bad",
    [
        torch.ones(2, 4, dtype=torch.int64),
        torch.ones(2, 4, dtype=torch.uint8),
        torch.ones(4),  # no batch dimension
        torch.ones(2, 0),
        torch.tensor([[0.5, float("nan")]]),
        torch.tensor([[0.5, float("inf")]]),
        torch.tensor([[1.0 + 1j, complex(float("nan"), 0.0)]], dtype=torch.complex64),
        [[1.0, 0.0]],
    ],
    ids=["int64", "uint8", "1-D", "empty", "nan", "inf", "complex-nan", "list"],
)
def test_bad_symbols_raise_one_line_semcom_error(bad):
    for fn in (to_complex, normalize_power, lambda z: AWGN()(z, 0.0)):
        with pytest.raises(SemcomError) as info:
            fn(bad)
        assert "\n" not in str(info.value)


def test_normalize_power_gives_unit_power_per_complex_symbol_per_example():
    scales = torch.tensor([1e-3, 1.0, 50.0]).reshape(3, 1, 1)
    z = torch.randn(3, 8, 16, generator=gen()) * scales
    zn = normalize_power(z)
    zc, _ = to_complex(zn)
    power = (zc.abs() ** 2).mean(dim=1)
    torch.testing.assert_close(power, torch.ones(3), rtol=1e-5, atol=0)
    # real view: mean(z**2) = 1/2 per example
    torch.testing.assert_close((zn**2).reshape(3, -1).mean(1), torch.full((3,), 0.5), rtol=1e-5, atol=0)
    # scaling only: direction per example unchanged
    ratio = zn / z
    torch.testing.assert_close(ratio, ratio[:, :1, :1].expand_as(ratio))


def test_normalize_power_complex_input():
    z = torch.randn(4, 100, dtype=torch.complex64, generator=gen()) * torch.arange(1, 5).reshape(4, 1)
    zn = normalize_power(z)
    torch.testing.assert_close((zn.abs() ** 2).mean(1), torch.ones(4), rtol=1e-5, atol=0)
    assert torch.equal(PowerNormalize()(z), zn)


@pytest.mark.parametrize("complex_input", [False, True])
def test_normalize_power_respects_mask(complex_input):
    dtype = torch.complex64 if complex_input else torch.float32
    z = 3.0 * torch.randn(2, 12, dtype=dtype, generator=gen())
    mask = torch.tensor([[1.0] * 8 + [0.0] * 4, [1.0] * 4 + [0.0] * 8])
    zn = normalize_power(z, mask)
    kept = mask.bool()
    assert torch.all(zn[~kept] == 0)
    for b in range(2):
        sent = zn[b][kept[b]]
        symbols = sent.numel() if complex_input else sent.numel() / 2
        power = (sent.abs() ** 2).sum() / symbols
        torch.testing.assert_close(power, torch.tensor(1.0), rtol=1e-5, atol=0)
    # a mask broadcast over the batch gives the same as its expanded version
    row = mask[0]
    torch.testing.assert_close(normalize_power(z, row), normalize_power(z, row.expand(2, 12)))


def test_normalize_power_is_differentiable_and_safe_on_zeros():
    z = torch.randn(2, 6, generator=gen(), requires_grad=True)
    zn = normalize_power(z)
    (zn * torch.arange(6.0)).sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    # scale invariance: the gradient of a normalised output is orthogonal to z per example
    torch.testing.assert_close((z.grad * z.detach()).sum(1), torch.zeros(2), atol=1e-5, rtol=0)
    zeros = normalize_power(torch.zeros(2, 4))
    assert torch.equal(zeros, torch.zeros(2, 4))


def test_channel_uses_counts_complex_symbols_per_example():
    assert complex_uses(torch.zeros(5, 8, 4, 4)) == 64
    assert complex_uses(torch.zeros(5, 10, dtype=torch.complex64)) == 10
    assert AWGN().uses(torch.zeros(2, 3, 2)) == 3
    assert AWGN.uses(torch.zeros(2, 7, dtype=torch.complex64)) == 7
    assert Rayleigh().uses(torch.zeros(1, 16, 2, 2)) == 32



def test_limit_received_clips_each_real_component_and_keeps_layout():
    z = torch.tensor([[1 + 2j, 100 - 3j, -50 - 50j]], dtype=torch.complex64)
    out = limit_received(z)
    assert out.dtype == z.dtype and out.shape == z.shape
    assert torch.equal(out, torch.tensor([[1 + 2j, RX_LIMIT - 3j, -RX_LIMIT - RX_LIMIT * 1j]], dtype=torch.complex64))
    real = torch.tensor([0.5, -9.0, 9.0])
    assert torch.equal(limit_received(real), torch.tensor([0.5, -RX_LIMIT, RX_LIMIT]))


def test_limit_received_almost_never_acts_on_awgn_at_low_snr():
    z = normalize_power(torch.randn(4, 200_000, generator=gen(1)))
    y = AWGN()(z, -2.0, gen(2))
    assert (limit_received(y) != y).float().mean() < 1e-6


def test_normalize_power_with_an_all_zero_mask_has_finite_gradients():
    # a learned mask (straight-through) that drops every element of an example must not poison training
    z = torch.randn(2, 6, generator=gen(), requires_grad=True)
    keep = torch.tensor([[0.0] * 6, [1.0] * 6], requires_grad=True)
    out = normalize_power(z, keep)
    (out * torch.arange(6.0)).sum().backward()
    assert torch.equal(out[0].detach(), torch.zeros(6))
    assert torch.isfinite(z.grad).all() and torch.isfinite(keep.grad).all()
