"""Bit channels: BSC/BEC statistics and the modulated BitChannel's BER against closed forms."""

import math

import pytest
import torch

from semcom.channels import ERASED, BinaryErasureChannel, BinarySymmetricChannel, BitChannel
from semcom.channels.theory import ber
from semcom.errors import SemcomError

# A BER estimate from E errors has relative standard deviation about 1/sqrt(E); 6400 expected
# errors put the 5 % tolerance at 4 standard deviations.
EXPECTED_ERRORS = 6400
BER_POINTS = [  # (modulation, medium, Es/N0 in dB): closed-form BER about 2e-3 to 0.22
    ("bpsk", "awgn", 0.0), ("bpsk", "awgn", 4.0), ("bpsk", "awgn", 6.0),
    ("qpsk", "awgn", 3.0), ("qpsk", "awgn", 7.0), ("qpsk", "awgn", 9.0),
    ("16qam", "awgn", 8.0), ("16qam", "awgn", 12.0), ("16qam", "awgn", 15.0),
    ("64qam", "awgn", 14.0), ("64qam", "awgn", 18.0), ("64qam", "awgn", 20.0),
    ("bpsk", "rayleigh", 0.0), ("bpsk", "rayleigh", 10.0), ("bpsk", "rayleigh", 20.0),
    ("qpsk", "rayleigh", 10.0), ("qpsk", "rayleigh", 20.0), ("qpsk", "rayleigh", 24.0),
    ("16qam", "rayleigh", 5.0), ("16qam", "rayleigh", 15.0), ("16qam", "rayleigh", 25.0),
    ("64qam", "rayleigh", 20.0), ("64qam", "rayleigh", 28.0),
]  # fmt: skip

_BIT_CHANNELS: dict = {}


def bit_channel(modulation: str, medium: str) -> BitChannel:
    key = (modulation, medium)
    if key not in _BIT_CHANNELS:
        _BIT_CHANNELS[key] = BitChannel(modulation, medium)
    return _BIT_CHANNELS[key]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_bits(shape, seed: int = 0, dtype=torch.int64) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=gen(seed)).to(dtype)


@pytest.mark.parametrize("modulation, medium, snr_db", BER_POINTS)
def test_simulated_ber_matches_closed_form_within_5_percent(modulation, medium, snr_db):
    expected = float(ber(modulation, snr_db, medium))
    assert expected >= 1e-4
    n_bits = math.ceil(EXPECTED_ERRORS / expected / 4 / 12) * 12  # four rows, whole symbols
    bits = random_bits((4, n_bits), seed=1, dtype=torch.uint8)
    received = bit_channel(modulation, medium)(bits, snr_db, gen(2))
    errors = (received != bits).sum().item()
    measured = errors / bits.numel()
    assert abs(measured / expected - 1.0) < 0.05, (measured, expected, errors)


def test_per_example_snr_gives_each_row_its_own_ber():
    snr_db = torch.tensor([0.0, 6.0, 20.0])
    bits = random_bits((3, 400_000), seed=3)
    received = bit_channel("qpsk", "awgn")(bits, snr_db, gen(4))
    measured = (received != bits).double().mean(dim=1)
    expected = torch.from_numpy(ber("qpsk", snr_db.numpy(), "awgn"))
    torch.testing.assert_close(measured[:2], expected[:2], rtol=0.05, atol=0)
    assert measured[2] == 0  # closed form ~1e-23 at 20 dB


def test_theoretical_ber_method_uses_the_channel_medium():
    assert float(BitChannel("16qam", "rayleigh").theoretical_ber(10.0)) == float(ber("16qam", 10.0, "rayleigh"))
    assert float(BitChannel("16qam", "awgn").theoretical_ber(10.0)) == float(ber("16qam", 10.0, "awgn"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.uint8, torch.bool])
@pytest.mark.parametrize("modulation", ["bpsk", "16qam", "64qam"])
def test_bit_channel_keeps_shape_and_dtype_and_drops_padding(modulation, dtype):
    bits = random_bits((2, 13), dtype=dtype)  # 13 is not a multiple of 4 or 6
    received = bit_channel(modulation, "awgn")(bits, 40.0, gen(5))
    assert received.shape == bits.shape and received.dtype == dtype
    assert torch.equal(received, bits)  # 40 dB: no errors for these few symbols


def test_bit_channel_uses_count_whole_symbols():
    bits = torch.zeros(3, 10)
    assert bit_channel("bpsk", "awgn").uses(bits) == 10
    assert bit_channel("qpsk", "awgn").uses(bits) == 5
    assert bit_channel("16qam", "awgn").uses(bits) == 3
    assert bit_channel("64qam", "rayleigh").uses(bits) == 2


def test_bit_channel_is_deterministic_given_a_generator():
    bits = random_bits((2, 600))
    channel = bit_channel("16qam", "rayleigh")
    assert torch.equal(channel(bits, 5.0, gen(6)), channel(bits, 5.0, gen(6)))
    assert not torch.equal(channel(bits, 5.0, gen(6)), channel(bits, 5.0, gen(7)))


@pytest.mark.parametrize("p", [0.01, 0.1, 0.5])
def test_bsc_flip_rate_is_p(p):
    bits = random_bits((4, 250_000), seed=8)
    received = BinarySymmetricChannel(p)(bits, gen(9))
    rate = (received != bits).double().mean().item()
    assert abs(rate - p) < 5.0 * math.sqrt(p * (1 - p) / bits.numel())
    assert ((received == 0) | (received == 1)).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.uint8, torch.bool])
def test_bsc_extremes_and_dtype(dtype):
    bits = random_bits((3, 50), dtype=dtype)
    assert torch.equal(BinarySymmetricChannel(0.0)(bits, gen()), bits)
    flipped = BinarySymmetricChannel(1.0)(bits, gen())
    assert flipped.dtype == dtype and flipped.shape == bits.shape
    assert torch.all(flipped != bits)


@pytest.mark.parametrize("p", [0.05, 0.3])
def test_bec_erasure_rate_is_p_and_other_bits_are_unchanged(p):
    bits = random_bits((4, 250_000), seed=10)
    received = BinaryErasureChannel(p)(bits, gen(11))
    erased = received == ERASED
    rate = erased.double().mean().item()
    assert abs(rate - p) < 5.0 * math.sqrt(p * (1 - p) / bits.numel())
    assert torch.equal(received[~erased], bits[~erased])


@pytest.mark.parametrize(
    "dtype, out_dtype",
    [(torch.float32, torch.float32), (torch.int64, torch.int64), (torch.uint8, torch.int8), (torch.bool, torch.int8)],
)
def test_bec_output_dtype_can_hold_the_erasure_mark(dtype, out_dtype):
    bits = random_bits((2, 40), dtype=dtype)
    all_erased = BinaryErasureChannel(1.0)(bits, gen())
    assert all_erased.dtype == out_dtype and torch.all(all_erased == ERASED)
    none_erased = BinaryErasureChannel(0.0)(bits, gen())
    assert torch.equal(none_erased, bits.to(out_dtype))


def test_bsc_and_bec_are_deterministic_given_a_generator():
    bits = random_bits((2, 500))
    for channel in (BinarySymmetricChannel(0.2), BinaryErasureChannel(0.2)):
        assert torch.equal(channel(bits, gen(12)), channel(bits, gen(12)))
        assert not torch.equal(channel(bits, gen(12)), channel(bits, gen(13)))


def test_binary_channel_uses():
    bits = torch.zeros(3, 17)
    assert BinarySymmetricChannel.uses(bits) == 17
    assert BinarySymmetricChannel(0.1).uses(bits) == 17
    assert BinaryErasureChannel(0.1).uses(bits) == 17
    assert BinaryErasureChannel.uses(torch.zeros(9)) == 9


@pytest.mark.parametrize(
    "bits",
    [
        torch.tensor([[0, 1, 2]]),
        torch.tensor([[0.0, 0.5]]),
        torch.tensor([[0.0, float("nan")]]),
        torch.tensor([[-1, 1]]),
        torch.tensor(1),
        torch.zeros(2, 0),
        [[0, 1]],
    ],
    ids=["two", "half", "nan", "minus-one", "0-d", "empty", "list"],
)
def test_non_binary_bits_raise_semcom_error(bits):
    for channel in (BinarySymmetricChannel(0.1), BinaryErasureChannel(0.1)):
        with pytest.raises(SemcomError) as info:
            channel(bits)
        assert "\n" not in str(info.value)
    with pytest.raises(SemcomError):
        bit_channel("qpsk", "awgn")(bits, 10.0)


def test_bit_channel_needs_batch_by_bits():
    with pytest.raises(SemcomError, match=r"shape \[B, n\]"):
        bit_channel("qpsk", "awgn")(torch.zeros(8), 10.0)
    with pytest.raises(SemcomError, match=r"shape \[B, n\]"):
        bit_channel("qpsk", "awgn")(torch.zeros(2, 2, 4), 10.0)


def test_bit_channel_rejects_bad_snr():
    bits = torch.zeros(2, 8)
    with pytest.raises(SemcomError):
        bit_channel("qpsk", "awgn")(bits, 41.0)
    with pytest.raises(SemcomError):
        bit_channel("qpsk", "awgn")(bits, torch.tensor([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("p", [-0.1, 1.1, float("nan"), float("inf"), "0.1", None])
def test_probability_outside_unit_interval_raises(p):
    for cls in (BinarySymmetricChannel, BinaryErasureChannel):
        with pytest.raises(SemcomError, match="probability"):
            cls(p)


def test_unknown_modulation_or_medium_raises():
    with pytest.raises(SemcomError, match="unknown modulation '8psk'"):
        BitChannel("8psk")
    with pytest.raises(SemcomError, match="unknown bit-channel medium 'rician'"):
        BitChannel("qpsk", "rician")
