"""The short codeword family (240 code bits, ``SHORT_MCS_TABLE``): its own measured BLER table, physically sane next
to the 1,920-bit family and the Shannon limit, chosen only where it is cheaper, and offered to side payloads
(``ldpc-short``) and to words (the language scheme's ``ldpc-short`` link)."""

from __future__ import annotations

import pytest
import torch

from semcom.channels import AWGN
from semcom.digital.capacity import capacity_bits_per_use
from semcom.digital.mcs import (
    CODEWORD_BITS,
    MCS_TABLE,
    SHORT_CODEWORD_BITS,
    SHORT_MCS_TABLE,
    TARGET_SUCCESS,
    get_mcs,
    load_bler_table,
)
from semcom.digital.side import SIDE_LINKS, SideLink, build_side_link, side_link_for
from semcom.digital.transport import channel_uses_needed, mcs_for_payload, send_bytes
from semcom.errors import SemcomError

BOTH = (CODEWORD_BITS, SHORT_CODEWORD_BITS)


def test_short_family_names_and_sizes():
    short = get_mcs("qpsk-1/4-n240")
    assert short in SHORT_MCS_TABLE and short.n == 240 and short.k == 60 and short.symbols_per_codeword == 120
    assert get_mcs("qpsk-1/4").n == CODEWORD_BITS and get_mcs("qpsk-1/4").name == "qpsk-1/4"
    assert [m.rate_name for m in SHORT_MCS_TABLE] == [m.rate_name for m in MCS_TABLE]
    with pytest.raises(SemcomError, match="unknown MCS"):
        get_mcs("qpsk-1/4-n100")
    with pytest.raises(SemcomError, match="no BLER table for 100-bit"):
        load_bler_table(100)
    with pytest.raises(SemcomError, match="measured on 1920-bit codewords"):
        load_bler_table().curve("awgn", get_mcs("qpsk-1/4-n240"))


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_short_codes_need_more_snr_than_long_ones_and_never_beat_capacity(channel):
    """Per MCS: the SNR where BLER first drops below 10 % is above the Shannon limit of its spectral efficiency, and
    not below the 1,920-bit code's (a shorter code has less coding gain; one 0.5 dB grid step of tolerance)."""
    from scipy.optimize import brentq

    long_table, short_table = load_bler_table(), load_bler_table(SHORT_CODEWORD_BITS)
    assert short_table.config["n"] == SHORT_CODEWORD_BITS
    for long, short in zip(MCS_TABLE, SHORT_MCS_TABLE):
        s_short = short_table.curve(channel, short).min_snr_db(0.1)
        s_long = long_table.curve(channel, long).min_snr_db(0.1)
        if s_short is None:  # never below 10 % within the measured range: only allowed where the long code is high
            assert s_long is None or s_long > 20, (short.name, s_long)
            continue
        limit = brentq(lambda s, m=short: capacity_bits_per_use(s, channel) - m.spectral_efficiency, -19.9, 40)
        assert s_short > limit, (short.name, s_short, limit)
        assert s_long is None or s_short >= s_long - 0.5, (short.name, s_short, s_long)


def test_the_short_family_is_chosen_only_where_it_is_cheaper():
    small = mcs_for_payload(16, 4.0, "awgn", lengths=BOTH)
    assert small.n == SHORT_CODEWORD_BITS and channel_uses_needed(small, 16) <= 120
    assert mcs_for_payload(16, 4.0, "awgn").n == CODEWORD_BITS  # the default: the 1,920-bit family only
    for bits, snr in [(16, -1.0), (64, 0.0), (2000, 7.0), (60000, 10.0)]:
        best, long = mcs_for_payload(bits, snr, "awgn", lengths=BOTH), mcs_for_payload(bits, snr, "awgn")
        if long is not None:
            assert best is not None and channel_uses_needed(best, bits) <= channel_uses_needed(long, bits)
            table = load_bler_table(best.n)
            codewords = -(-(bits + 24) // best.k)
            assert table.success_probability("awgn", best, snr, codewords) >= TARGET_SUCCESS


def test_a_short_block_really_decodes_and_the_fast_mode_reads_its_own_table():
    mcs = get_mcs("16qam-1/2-n240")
    data = bytes(range(10))
    d = send_bytes(data, mcs, AWGN(), "awgn", 20.0, True, torch.Generator().manual_seed(0))
    assert d.ok and d.received == data and d.channel_uses == 60 and d.mcs == "16qam-1/2-n240"
    lost = send_bytes(data, mcs, AWGN(), "awgn", -5.0, False, torch.Generator().manual_seed(0))
    assert not lost.ok  # far below the short 16-QAM 1/2 waterfall: the n240 table says BLER 1


def test_ldpc_short_side_link():
    assert "ldpc-short" in SIDE_LINKS
    link = build_side_link("ldpc-short")
    assert link.kind == "ldpc-short" and SideLink().kind == "ldpc"
    assert link.channel_uses(16, 4.0) <= 120 < SideLink().channel_uses(16, 4.0)
    chosen, label = side_link_for(AWGN(), "ldpc-short")
    assert label == "ldpc-short" and chosen.lengths == BOTH
    with pytest.raises(SemcomError, match="codeword lengths"):
        SideLink(lengths=(100,))


def test_words_on_the_short_link_cost_a_short_codeword():
    from semcom.schemes.language import TextLink

    words = [b"\x00dog", b"\x01runs"]
    long = TextLink("ldpc", decode=False).send(words, 10.0, torch.Generator().manual_seed(0))
    short = TextLink("ldpc-short", decode=False).send(words, 10.0, torch.Generator().manual_seed(0))
    assert all(s.channel_uses <= 60 for s in short) and all(lg.channel_uses >= 480 for lg in long)
    assert [s.data for s in short] == words
