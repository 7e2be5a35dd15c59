"""Policies order words as specified; the scheme sends a caption progressively and reports exact channel uses."""

import pytest
import torch

from semcom.errors import SemcomError
from semcom.schemes.language import POLICIES, LanguageScheme, Orderer
from semcom.schemes.language.parse import parse_words
from semcom.types import Scheme, Transmission

CAPTION = "A black dog is running through the grass ."
WORDS = CAPTION.split()


@pytest.fixture(scope="module")
def orderer():
    return Orderer()


def test_spacy_parse_tags_the_words_one_token_each():
    p = parse_words(WORDS)
    assert p.pos[2] == "NOUN" and p.pos[4] == "VERB" and p.head[4] == 4 and p.children[4] >= 2


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_is_a_permutation(orderer, policy):
    order = orderer.order(policy, WORDS, torch.Generator().manual_seed(0))
    assert sorted(order) == list(range(len(WORDS)))


def test_linguistic_policies(orderer):
    assert [WORDS[i] for i in orderer.order("nouns", WORDS)[:2]] == ["dog", "grass"]
    assert {WORDS[i] for i in orderer.order("nouns-verbs", WORDS)[:3]} == {"dog", "running", "grass"}
    ssc = orderer.order("ssc", WORDS)
    assert WORDS[ssc[0]] == "dog" and "running" in [WORDS[i] for i in ssc[:3]] and WORDS[ssc[-1]] == "."


def test_oracle_first_word_is_the_most_similar_single_word(orderer):
    sims = orderer.sender.similarity(WORDS, CAPTION)
    assert orderer.order("oracle", WORDS)[0] == int(sims.argmax())


def test_unknown_policy_is_a_one_line_error(orderer):
    with pytest.raises(SemcomError, match="unknown policy 'loudest'"):
        orderer.order("loudest", WORDS)
    with pytest.raises(SemcomError, match="unknown policy"):
        LanguageScheme("loudest")


def test_scheme_sends_word_by_word_with_exact_uses(orderer):
    scheme = LanguageScheme("nouns", link="qam16", orderer=orderer)
    assert isinstance(scheme, Scheme) and scheme.task == "text"
    tx = scheme.transmit(CAPTION, 30.0, torch.Generator().manual_seed(0))
    assert isinstance(tx, Transmission) and tx.text == CAPTION and tx.ok and tx.x_hat is None
    assert tx.channel_uses == sum(-(-8 * (1 + len(w.encode())) // 4) for w in WORDS)
    assert tx.details["rounds"][0]["prompt"] == "dog"
    limited = scheme.transmit(CAPTION, 30.0, torch.Generator().manual_seed(0))
    assert limited.channel_uses == tx.channel_uses


def test_round_budget_and_whole_caption_mode(orderer):
    tx = LanguageScheme("ssc", link="ideal", rounds=2, orderer=orderer).transmit(CAPTION, 0.0)
    assert tx.text == "dog running" and len(tx.details["rounds"]) == 2
    whole = LanguageScheme("ssc", link="ldpc", mode="caption", orderer=orderer)
    tx = whole.transmit(CAPTION, 15.0, torch.Generator().manual_seed(0))
    assert len(tx.details["rounds"]) == 1 and tx.text in (CAPTION, "")
    assert tx.channel_uses == 320  # 48 bytes + CRC in one 64-QAM 2/3 codeword at 15 dB


def test_uncoded_low_snr_delivers_corrupted_words_and_emoji_survive_a_clean_link(orderer):
    tx = LanguageScheme("random", link="qam16", orderer=orderer).transmit(CAPTION, 3.0, torch.Generator().manual_seed(0))
    assert not tx.ok and tx.details["corrupted"] > 0 and tx.details["lost"] == 0
    emoji = LanguageScheme("random", link="ideal", orderer=orderer).transmit("un chien 🐶 court", 0.0)
    assert emoji.text == "un chien 🐶 court"


def test_scheme_needs_a_caption_or_a_captioner(orderer):
    with pytest.raises(SemcomError, match="give a caption"):
        LanguageScheme(orderer=orderer).transmit(torch.rand(3, 8, 8), 10.0)
    with pytest.raises(SemcomError, match="empty caption"):
        LanguageScheme(orderer=orderer).transmit("", 10.0)


def test_rounds_to_reach_90_percent_and_its_summary():
    from semcom.schemes.language import reach_summary, rounds_to_reach

    assert rounds_to_reach([0.5, 0.95, 0.8]) == 2 and rounds_to_reach([0.5, 0.89]) is None
    assert rounds_to_reach([0.9]) == 1  # the threshold itself counts
    assert reach_summary([2, None, 4]) == (3.0, pytest.approx(2 / 3))  # the mean leaves out captions never reaching it
    assert reach_summary([None, None]) == (None, 0.0)
    with pytest.raises(SemcomError):
        reach_summary([])


def test_benchmark_summarises_rounds_to_90_with_the_scheme_function():
    import importlib.util
    import types
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "flickr8k_language.py"
    spec = importlib.util.spec_from_file_location("flickr8k_language_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    acc = {("ideal", None, "ssc"): {"sim": [0.5, 1.0], "hits": [2, None, 4], "wer": 0.0, "uses": 30, "words": 6,
                                    "lost": 0, "corrupted": 0}}
    args = types.SimpleNamespace(seed=0, fast=True)
    orderer = types.SimpleNamespace(sender=types.SimpleNamespace(describe=dict))
    result = bench.summarise(acc, {}, 3, args, orderer, 0.0)
    assert result["ldpc_decode"] is False  # --fast: block outcomes drawn from the BLER table, and the JSON says so
    (row,) = result["rows"]
    assert row["rounds_to_90_mean_reached"] == 3.0 and row["reached_90_share"] == pytest.approx(2 / 3)
