from fractions import Fraction

import pytest
import torch

from semcom.channels import AWGN, Rayleigh
from semcom.channels.discrete import BinarySymmetricChannel
from semcom.digital.link import CODEWORD_BITS, DigitalLink
from semcom.errors import SemcomError

torch.set_num_threads(1)


def random_bits(link: DigitalLink, codewords: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (codewords, link.k), generator=g).float()


@pytest.fixture(scope="module")
def qpsk_half():
    return DigitalLink("qpsk", Fraction(1, 2))


def test_codeword_geometry(qpsk_half):
    assert (qpsk_half.k, qpsk_half.n, qpsk_half.symbols_per_codeword) == (960, CODEWORD_BITS, 960)
    link = DigitalLink("256qam", Fraction(5, 6))
    assert (link.k, link.symbols_per_codeword, link.code_rate) == (1600, 240, 1600 / 1920)


def test_llr_sign_convention_matches_decoder(qpsk_half):
    """Demapper LLR > 0 means bit 1, and the decoder reads LLRs with that sign."""
    bits = random_bits(qpsk_half, 4)
    codewords = qpsk_half.encode(bits)
    z = qpsk_half.modulate(codewords)
    assert torch.allclose((z.abs() ** 2).mean(), torch.tensor(1.0), atol=1e-3)
    llr = qpsk_half.demodulate(z, torch.full((4, 1), 0.1))
    assert torch.equal(llr > 0, codewords == 1)
    assert torch.equal(qpsk_half.decode(llr), bits)
    assert not torch.equal(qpsk_half.decode(-llr), bits)


@pytest.mark.parametrize("modulation, rate, channel, snr_db", [
    ("qpsk", Fraction(1, 2), AWGN(), 20.0),
    ("16qam", Fraction(3, 4), AWGN(), 20.0),
    ("64qam", Fraction(5, 6), Rayleigh(), 35.0),
])
def test_high_snr_is_error_free(modulation, rate, channel, snr_db):
    link = DigitalLink(modulation, rate)
    bits = random_bits(link, 12)
    bits_hat, ok = link.send(bits, channel, snr_db, torch.Generator().manual_seed(1))
    assert ok.all() and torch.equal(bits_hat, bits)


@pytest.mark.parametrize("channel", [AWGN(), Rayleigh()])
def test_very_low_snr_fails_and_is_flagged(qpsk_half, channel):
    bits = random_bits(qpsk_half, 12)
    bits_hat, ok = qpsk_half.send(bits, channel, -5.0, torch.Generator().manual_seed(2))
    assert not ok.any()
    assert torch.equal(ok, (bits_hat == bits).all(dim=1))


def test_per_codeword_snr_and_reproducibility(qpsk_half):
    bits = random_bits(qpsk_half, 8)
    snr = torch.tensor([20.0, -5.0] * 4)
    _, ok = qpsk_half.send(bits, AWGN(), snr, torch.Generator().manual_seed(3))
    assert ok.tolist() == [True, False] * 4
    runs = [qpsk_half.send(bits, AWGN(), 0.5, torch.Generator().manual_seed(4))[0] for _ in range(2)]
    assert torch.equal(*runs)


def test_bad_inputs_raise_semcom_error(qpsk_half):
    bits = random_bits(qpsk_half, 2)
    with pytest.raises(SemcomError, match="modulation"):
        DigitalLink("8psk", Fraction(1, 2))
    with pytest.raises(SemcomError, match="multiple of 6"):
        DigitalLink("64qam", Fraction(1, 2), n=1000)
    with pytest.raises(SemcomError, match="whole number"):
        DigitalLink("qpsk", 0.3333)
    with pytest.raises(SemcomError, match="code_rate"):
        DigitalLink("qpsk", 1.5)
    with pytest.raises(SemcomError, match="shape"):
        qpsk_half.send(bits[:, :100], AWGN(), 10.0)
    with pytest.raises(SemcomError, match="0 and 1"):
        qpsk_half.send(bits * 2, AWGN(), 10.0)
    with pytest.raises(SemcomError, match="ComplexChannel"):
        qpsk_half.send(bits, BinarySymmetricChannel(0.1), 10.0)
    with pytest.raises(SemcomError, match="snr_db"):
        qpsk_half.send(bits, AWGN(), float("nan"))


def test_scrambling_gives_a_zero_padded_codeword_the_nominal_power_and_undoes_exactly():
    """A nearly all-zero codeword (a short payload padded with zeros) unscrambled sits on one inner 16-QAM point
    (power 0.2) at well under unit power; scrambled, its symbols have the constellation's unit average power. Descrambling restores the LLRs."""
    link = DigitalLink("16qam", Fraction(1, 2))
    bits = torch.zeros(2, link.k)
    bits[:, :16] = 1.0
    coded = link.encode(bits)
    assert (link.modulate(coded).abs() ** 2).mean() < 0.7  # mostly the inner point (0.2), a few parity ones
    scrambled = link.scramble(coded)
    assert 0.4 < scrambled.mean() < 0.6 and torch.equal(link.scramble(scrambled), coded)
    assert abs((link.modulate(scrambled).abs() ** 2).mean().item() - 1.0) < 0.1
    llr = link.demodulate(link.modulate(scrambled), torch.full((2, 1), 0.05))
    assert torch.equal(link.descramble_llr(llr) > 0, coded == 1)
    bits_hat, ok = link.send(bits, AWGN(), 10.0, torch.Generator().manual_seed(0))
    assert ok.all() and torch.equal(bits_hat, bits)
