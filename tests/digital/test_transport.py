import math

import pytest
import torch

from semcom.channels import build_channel
from semcom.digital.link import CODEWORD_BITS
from semcom.digital.mcs import CRC_BITS, MCS_TABLE, BlerCurve, BlerTable, codewords_needed, get_mcs, load_bler_table
from semcom.digital.transport import (
    Delivery,
    block_to_bytes,
    bytes_to_block,
    channel_uses_needed,
    mcs_for_payload,
    send_bytes,
)
from semcom.errors import SemcomError

torch.set_num_threads(1)

AWGN = build_channel("awgn")


def random_bytes(num: int, seed: int = 0) -> bytes:
    g = torch.Generator().manual_seed(seed)
    return bytes(torch.randint(0, 256, (num,), generator=g, dtype=torch.uint8).tolist())


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("num_bytes", [0, 1, 117, 118, 500])
def test_block_round_trip_and_zero_padding(num_bytes):
    mcs = get_mcs("qpsk-1/2")  # k = 960 bits = 120 bytes; 117 bytes + CRC fill one codeword exactly
    data = random_bytes(num_bytes)
    codewords = codewords_needed(mcs, 8 * num_bytes)
    block = bytes_to_block(data, mcs, codewords)
    assert block.shape == (codewords, mcs.k) and block.dtype == torch.float32
    assert block.reshape(-1)[8 * num_bytes :].eq(0).all()
    assert block_to_bytes(block, num_bytes) == data
    assert codewords == (1 if num_bytes <= 117 else math.ceil((8 * num_bytes + CRC_BITS) / mcs.k))


def test_send_bytes_high_snr_delivers_identical_bytes():
    mcs = get_mcs("16qam-1/2")  # k = 960, 480 symbols per codeword
    data = random_bytes(250)  # 2000 bits + CRC -> 3 codewords
    delivery = send_bytes(data, mcs, AWGN, "awgn", 20.0, decode=True, generator=gen())
    assert delivery == Delivery(received=data, mcs="16qam-1/2", codewords=3, codewords_failed=0, channel_uses=3 * 480,
                                reason=None)
    assert delivery.ok
    assert delivery.channel_uses == channel_uses_needed(mcs, 8 * len(data))


def test_send_bytes_very_low_snr_fails_with_reason():
    mcs = get_mcs("64qam-5/6")
    data = random_bytes(250)
    delivery = send_bytes(data, mcs, AWGN, "awgn", -5.0, decode=True, generator=gen())
    assert not delivery.ok and delivery.received is None and delivery.reason == "decode failed"
    assert delivery.codewords == codewords_needed(mcs, 8 * 250) == 2
    assert delivery.codewords_failed == 2 and delivery.channel_uses == 2 * mcs.symbols_per_codeword


def test_send_bytes_from_table_follows_the_bler_table():
    table, mcs = load_bler_table(), get_mcs("qpsk-1/2")
    curve = table.curve("awgn", mcs)
    data = random_bytes(400 * mcs.k // 8 - CRC_BITS)  # exactly 400 codewords
    dead = send_bytes(data, mcs, AWGN, "awgn", curve.snr_db[0] - 1.0, decode=False, generator=gen())
    assert dead.reason == "decode failed" and dead.received is None and dead.codewords_failed == dead.codewords == 400
    clean = send_bytes(data, mcs, AWGN, "awgn", curve.snr_db[-1], decode=False, generator=gen())
    assert clean.ok and clean.received == data and clean.codewords_failed == 0
    snr, bler = min(zip(curve.snr_db, curve.envelope()), key=lambda point: abs(point[1] - 0.5))
    assert 0.2 < bler < 0.8
    middle = send_bytes(data, mcs, AWGN, "awgn", snr, decode=False, generator=gen())
    assert abs(middle.codewords_failed / 400 - bler) < 5 * math.sqrt(bler * (1 - bler) / 400)
    again = send_bytes(data, mcs, AWGN, "awgn", snr, decode=False, generator=gen())
    assert again == middle


def test_mcs_for_payload_gets_cheaper_with_snr_and_meets_the_target():
    table, bits = load_bler_table(), 8 * 3000
    uses = []
    for snr in (0.0, 5.0, 10.0, 15.0, 20.0, 30.0):
        mcs = mcs_for_payload(bits, snr, "awgn", 0.9)
        codewords = codewords_needed(mcs, bits)
        assert table.success_probability("awgn", mcs, snr, codewords) >= 0.9
        cheapest = min(channel_uses_needed(m, bits) for m in MCS_TABLE
                       if table.success_probability("awgn", m, snr, codewords_needed(m, bits)) >= 0.9)
        assert channel_uses_needed(mcs, bits) == cheapest
        uses.append(cheapest)
    assert uses == sorted(uses, reverse=True) and uses[-1] < uses[0] / 8
    fading, awgn = (mcs_for_payload(bits, 7.0, channel) for channel in ("rayleigh", "awgn"))
    assert channel_uses_needed(fading, bits) > channel_uses_needed(awgn, bits)


def test_mcs_for_payload_none_and_ties():
    assert mcs_for_payload(8 * 3000, -10.0, "awgn") is None
    # one codeword at any 256-QAM rate takes 240 channel uses: the tie goes to the lower rate
    assert mcs_for_payload(100, 30.0, "awgn") == get_mcs("256qam-3/4")


def test_mcs_for_payload_requires_every_codeword_to_decode():
    curve = BlerCurve(snr_db=(0.0,), codewords=(100,), failed=(1,))  # BLER 0.01 everywhere above 0 dB
    table = BlerTable({"n": CODEWORD_BITS}, {"awgn": {m.name: curve for m in MCS_TABLE}})
    top = get_mcs("256qam-5/6")
    ten, eleven = 10 * top.k - CRC_BITS, 10 * top.k - CRC_BITS + 1
    assert 0.99**10 >= 0.9 > 0.99**11
    assert mcs_for_payload(ten, 10.0, "awgn", 0.9, table) == top
    assert mcs_for_payload(eleven, 10.0, "awgn", 0.9, table) is None  # every MCS needs >= 11 codewords
    assert mcs_for_payload(eleven, 10.0, "awgn", 0.8, table) == top


def test_bad_inputs_raise_semcom_error():
    for bits, match in [(-1, "payload_bits"), (1.5, "payload_bits"), (True, "payload_bits")]:
        with pytest.raises(SemcomError, match=match):
            mcs_for_payload(bits, 10.0, "awgn")
    with pytest.raises(SemcomError, match="snr_db"):
        mcs_for_payload(100, 99.0, "awgn")
    with pytest.raises(SemcomError, match="choose one of awgn, rayleigh"):
        mcs_for_payload(100, 10.0, "rician")
    with pytest.raises(SemcomError, match="target_success"):
        mcs_for_payload(100, 10.0, "awgn", 0.0)
    mcs = get_mcs("qpsk-1/2")
    with pytest.raises(SemcomError, match="data must be bytes"):
        send_bytes("text", mcs, AWGN, "awgn", 10.0)
    with pytest.raises(SemcomError, match="mcs must be an MCS"):
        send_bytes(b"x", "qpsk-1/2", AWGN, "awgn", 10.0)
    with pytest.raises(SemcomError, match="choose one of awgn, rayleigh"):
        send_bytes(b"x", mcs, AWGN, "rician", 10.0)
    with pytest.raises(SemcomError, match="snr_db"):
        send_bytes(b"x", mcs, AWGN, "awgn", float("nan"))
