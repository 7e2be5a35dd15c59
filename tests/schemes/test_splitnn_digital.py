import struct
import zlib

import pytest
import torch

from semcom.digital.mcs import capacity_bits, codewords_needed, get_mcs, load_bler_table, select_mcs
from semcom.digital.transport import channel_uses_needed, mcs_for_payload
from semcom.errors import SemcomError
from semcom.schemes.splitnn.digital import HEADER, DigitalFeatureLink, decode_features, encode_features

torch.set_num_threads(1)


def features(*shape: int, seed: int = 0) -> torch.Tensor:
    return 3.0 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) + 1.0


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_within_half_step(f_hat: torch.Tensor, f: torch.Tensor) -> None:
    step = (f.max() - f.min()).item() / 255
    assert (f_hat - f).abs().max().item() <= step / 2 + 1e-6 * (1 + f.abs().max().item())


@pytest.mark.parametrize("shape", [(4, 8, 8), (1, 1, 1), (16, 3, 5)])
def test_round_trip_error_is_at_most_half_a_step(shape):
    f = features(*shape)
    data = encode_features(f)
    magic, c, h, w, low, high = HEADER.unpack_from(data)
    assert (magic, (c, h, w), low, high) == (b"SF1", shape, f.min().item(), f.max().item())
    f_hat = decode_features(data, shape)
    assert f_hat.shape == shape and f_hat.dtype == torch.float32
    assert_within_half_step(f_hat, f)
    levels = torch.unique(f_hat)
    assert len(levels) <= 256 and torch.equal(decode_features(encode_features(f_hat), shape), f_hat)


def test_constant_float64_and_sparse_features():
    constant = torch.full((2, 3, 3), -1.25)
    assert torch.equal(decode_features(encode_features(constant), (2, 3, 3)), constant)
    f64 = features(3, 4, 4).double()
    assert_within_half_step(decode_features(encode_features(f64), (3, 4, 4)).double(), f64)
    relu = torch.relu(features(16, 8, 8) - 4.0)  # ~84 % zeros, like split features after a ReLU
    assert len(encode_features(relu)) < HEADER.size + relu.numel() // 2


def test_corrupt_payloads_raise_one_line_errors():
    f = features(4, 8, 8)
    data = encode_features(f)
    header, body = data[: HEADER.size], data[HEADER.size :]
    cases = [
        (b"XF1" + data[3:], "magic"),
        (data[:10], "truncated"),
        (b"", "truncated"),
        (data[:-5], "corrupt"),
        (header + b"\x00garbage, not zlib" * 3, "zlib error"),
        (header + zlib.compress(bytes(100)), "exactly 256 levels"),
        (header + zlib.compress(bytes(300)), "exactly 256 levels"),
        (data + b"\x00", "exactly 256 levels"),
        (struct.pack("<3s3H2f", b"SF1", 4, 8, 8, 1.0, float("nan")) + body, "min"),
    ]
    for bad, match in cases:
        with pytest.raises(SemcomError, match=match) as info:
            decode_features(bad, (4, 8, 8))
        assert "\n" not in str(info.value)
    with pytest.raises(SemcomError, match=r"shape \(4, 8, 8\), expected \(4, 8, 9\)"):
        decode_features(data, (4, 8, 9))
    with pytest.raises(SemcomError, match="expected_shape"):
        decode_features(data, (4, 64))
    with pytest.raises(SemcomError, match="bytes"):
        decode_features(data.hex(), (4, 8, 8))


def test_bad_features_raise():
    for bad, match in [
        (features(4, 8, 8).index_put((torch.tensor([0]),), torch.tensor(float("nan"))), "NaN"),
        (torch.full((2, 2, 2), float("inf")), "NaN or inf"),
        (torch.tensor([[[1e300]]], dtype=torch.float64), "float32 range"),
        (features(8, 8), r"\[C, H, W\]"),
        (torch.zeros(0, 4, 4), "non-empty"),
        (torch.ones(2, 2, 2, dtype=torch.int64), "float"),
        ([[[1.0]]], "torch.Tensor"),
    ]:
        with pytest.raises(SemcomError, match=match):
            encode_features(bad)


def test_link_high_snr_no_budget_really_decodes():
    f = features(2, 4, 8, 8)
    out = DigitalFeatureLink("awgn", decode=True).send(f, 20.0, None, gen())
    assert out.ok.tolist() == [True, True] and out.reasons == [None, None]
    assert out.features_hat.shape == f.shape
    for i in range(2):
        assert_within_half_step(out.features_hat[i], f[i])
        bits = int(out.payload_bits[i])
        assert bits == 8 * len(encode_features(f[i]))
        mcs = mcs_for_payload(bits, 20.0, "awgn", 0.9)
        assert out.mcs[i] == mcs.name and out.channel_uses[i] == channel_uses_needed(mcs, bits)
    assert out.payload_bits.dtype == out.channel_uses.dtype == torch.int64


def test_link_budget_too_small_or_snr_too_low():
    f = features(2, 4, 8, 8)
    link = DigitalFeatureLink("awgn", decode=True)
    small = link.send(f, 30.0, 300, gen())  # one 256-QAM codeword: 1576 bits < ~2270 bits of payload
    assert small.mcs == [select_mcs(30.0, "awgn", 300).name] * 2
    assert capacity_bits(get_mcs(small.mcs[0]), 300) < int(small.payload_bits.min())
    assert small.reasons == ["payload does not fit budget"] * 2 and not small.ok.any()
    assert torch.equal(small.features_hat, torch.zeros_like(f)) and small.channel_uses.eq(0).all()
    for budget, snr in [(100, 30.0), (None, -10.0)]:
        out = link.send(f, snr, budget, gen())
        assert out.reasons == ["no MCS fits"] * 2 and out.mcs == [None, None]
        assert not out.ok.any() and out.features_hat.eq(0).all() and out.channel_uses.eq(0).all()


def test_link_from_table_with_budget_and_per_example_snr():
    f = features(4, 16, 8, 8)
    out = DigitalFeatureLink("rayleigh", decode=False).send(f, 25.0, 20_000, gen())
    assert out.ok.all()
    mcs = select_mcs(25.0, "rayleigh", 20_000)
    assert out.mcs == [mcs.name] * 4
    for i in range(4):
        assert_within_half_step(out.features_hat[i], f[i])
        uses = codewords_needed(mcs, int(out.payload_bits[i])) * mcs.symbols_per_codeword
        assert out.channel_uses[i] == uses <= 20_000
    mixed = DigitalFeatureLink("awgn", decode=False).send(f[:2], torch.tensor([30.0, -10.0]), None, gen())
    assert mixed.ok.tolist() == [True, False] and mixed.reasons == [None, "no MCS fits"]


def test_link_from_table_loses_payloads_as_the_table_predicts():
    """With a lax target the chosen MCS often fails; lost examples are zeros but still spent channel uses."""
    f = features(32, 4, 8, 8)
    link = DigitalFeatureLink("awgn", decode=False, target_success=0.05)
    bits = 8 * len(encode_features(f[0]))
    mcs = mcs_for_payload(bits, 9.0, "awgn", 0.05)
    assert 0.3 < load_bler_table().success_probability("awgn", mcs, 9.0, codewords_needed(mcs, bits)) < 0.8
    out = link.send(f, 9.0, None, gen())
    assert 0 < int(out.ok.sum()) < 32
    assert set(out.reasons) == {None, "decode failed"}
    lost = ~out.ok
    assert out.features_hat[lost].eq(0).all() and out.channel_uses[lost].gt(0).all()
    assert [r is None for r in out.reasons] == out.ok.tolist()


def test_link_bad_inputs():
    link = DigitalFeatureLink("awgn", decode=False)
    with pytest.raises(SemcomError, match=r"\[B, C, H, W\]"):
        link.send(features(4, 8, 8), 10.0, None)
    with pytest.raises(SemcomError, match="channel_uses"):
        link.send(features(1, 4, 8, 8), 10.0, -1)
    with pytest.raises(SemcomError, match="snr_db"):
        link.send(features(2, 4, 8, 8), torch.tensor([1.0, 2.0, 3.0]), None)
    with pytest.raises(SemcomError, match="NaN"):
        link.send(torch.full((1, 2, 2, 2), float("nan")), 10.0, None)
    with pytest.raises(SemcomError, match="choose one of awgn, rayleigh"):
        DigitalFeatureLink("rician")
    with pytest.raises(SemcomError, match="target_success"):
        DigitalFeatureLink("awgn", target_success=2.0)
