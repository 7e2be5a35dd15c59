"""Text over the channel: coded words are either right or missing, uncoded 16-QAM corrupts, uses are exact."""

import math

import pytest
import torch

from semcom.digital.mcs import get_mcs
from semcom.errors import SemcomError
from semcom.schemes.language.link import TextLink, decode_word, split_words, word_payload
from semcom.schemes.language.progressive import run_rounds, word_error_rate, word_payloads

WORDS = ["A", "black", "dog", "is", "running", "through", "the", "grass", "."]


def test_split_words_rejects_empty_and_too_long_captions():
    with pytest.raises(SemcomError, match="empty caption"):
        split_words("   ")
    with pytest.raises(SemcomError, match="at most 255"):
        split_words("a " * 256)
    assert split_words("un chien 🐶 court") == ["un", "chien", "🐶", "court"]


def test_word_payload_round_trips_non_ascii():
    assert decode_word(word_payload(2, "🐶"), 3) == (2, "🐶")
    assert decode_word(word_payload(5, "x"), 3) is None  # position out of range: dropped
    assert decode_word(None, 3) is None


def test_ldpc_words_arrive_exactly_at_high_snr_and_uses_are_whole_codewords():
    link = TextLink("ldpc")
    arrivals = link.send(word_payloads(WORDS), 15.0, torch.Generator().manual_seed(0))
    got = [decode_word(a.data, len(WORDS)) for a in arrivals]  # the MCS targets >= 99 % block success
    assert sum(g is not None for g in got) >= 7 and all(g is None or g == (i, w) for i, (g, w) in enumerate(zip(got, WORDS)))
    for a in arrivals:
        assert a.channel_uses == get_mcs(a.mcs).symbols_per_codeword  # one codeword per short word


def test_ldpc_never_delivers_a_wrong_word():
    link = TextLink("ldpc")
    arrivals = link.send(word_payloads(WORDS) * 3, -6.0, torch.Generator().manual_seed(1))
    assert any(a.lost for a in arrivals)  # far below every MCS: blocks fail
    for a, p in zip(arrivals, word_payloads(WORDS) * 3):
        assert a.data is None or a.data == p


def test_uncoded_16qam_corrupts_words_at_low_snr_and_counts_bits_over_four():
    link = TextLink("qam16")
    payloads = word_payloads(WORDS)
    arrivals = link.send(payloads, 4.0, torch.Generator().manual_seed(0))
    assert all(a.channel_uses == math.ceil(8 * len(p) / 4) for a, p in zip(arrivals, payloads))
    assert any(a.data != p for a, p in zip(arrivals, payloads)) and not any(a.lost for a in arrivals)
    clean = link.send(payloads, 30.0, torch.Generator().manual_seed(0))
    assert [a.data for a in clean] == payloads


def test_unknown_link_or_bad_snr_is_a_one_line_error():
    with pytest.raises(SemcomError, match="unknown text link"):
        TextLink("smoke")
    with pytest.raises(SemcomError, match="snr_db"):
        TextLink("qam16").send([b"ab"], float("nan"))


def test_rounds_reveal_words_in_order_and_prompt_keeps_context_order():
    arrivals = TextLink("ideal").send(word_payloads(WORDS), 0.0)
    rounds = run_rounds(WORDS, [2, 7, 4, 0, 1, 3, 5, 6, 8], arrivals)
    assert [r.prompt for r in rounds[:3]] == ["dog", "dog grass", "dog running grass"]
    assert rounds[-1].prompt == " ".join(WORDS)
    assert run_rounds(WORDS, list(range(9)), arrivals, rounds=3)[-1].prompt == "A black dog"
    assert len(run_rounds(WORDS, list(range(9)), arrivals, rounds=50)) == 9  # budget beyond the caption: stops


def test_word_error_rate():
    assert word_error_rate(WORDS, WORDS) == 0
    assert word_error_rate(["a", "b"], ["a"]) == 0.5
    assert word_error_rate(["a", "b"], ["a", "c", "d"]) == 1.0


def test_a_corrupted_position_header_counts_as_corrupted():
    from semcom.schemes.language.link import Arrival

    arrivals = [Arrival(bytes([0]) + b"a", 4), Arrival(bytes([9]) + b"dog", 8)]  # header 9: out of range
    rounds = run_rounds(["a", "dog"], [0, 1], arrivals)
    assert rounds[1].arrived == "dog" and rounds[1].placed is None and rounds[1].corrupted
    assert rounds[-1].prompt == "a"
