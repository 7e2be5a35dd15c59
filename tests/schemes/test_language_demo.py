"""The language section of the demo: real link, per-round prompts, similarities and cumulative channel uses."""

from __future__ import annotations

from semcom.schemes.language.demo import CAPTIONS, language_rows, language_section


def test_rows_grow_word_by_word_and_end_at_the_caption_on_a_clean_link():
    rows = language_rows(seed=0, captions=CAPTIONS[:1], policies=("nouns", "random"), snrs=(10.0,))
    words = CAPTIONS[0].split()
    for policy in ("nouns", "random"):
        mine = [r for r in rows if r["policy"] == policy]
        assert [r["round"] for r in mine] == list(range(1, len(words) + 1))
        uses = [r["channel_uses"] for r in mine]
        assert uses == sorted(uses) and uses[0] > 0  # cumulative, every word costs channel uses
        assert mine[-1]["prompt"] == CAPTIONS[0] and mine[-1]["similarity"] > 0.99  # 10 dB: nothing lost
        assert [len(r["prompt"].split()) for r in mine] == list(range(1, len(words) + 1))
    nouns = [r for r in rows if r["policy"] == "nouns"]
    assert nouns[0]["sent"] in ("dog", "grass", "field")  # a noun goes first


def test_section_html_names_every_policy_and_caption(tmp_path):
    html, rows = language_section(tmp_path)
    assert all(c in html for c in CAPTIONS) and "sender-attention" in html and "Mean similarity" in html
    assert {r["snr_db"] for r in rows} == {0.0, 5.0, 10.0}
