"""``semcom eval language`` and the text path of ``semcom transmit --scheme language``: a caption sent word by word
(or whole) over a real link; what arrives each round and how close the receiver's prompt is to the full caption."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from semcom.cli.common import (
    CHANNEL_COLUMN, FORMAT_HELP, SNR_COLUMN, Column, check_format, eval_app, number, out_console,
    parse_names, parse_snrs, progress_bar, render
)
from semcom.digital.capacity import DIGITAL_CHANNELS
from semcom.errors import SemcomError

POLICY_HELP = ("random | nouns | nouns-verbs | ssc | sender-attention | receiver-attention | both-attention | oracle | "
               "skd, comma-separated, or all")
LINK_HELP = "ldpc (5G LDPC + QAM, a failed block is a missing word) | qam16 (uncoded, corrupts words) | ideal"
COLUMNS = [Column("policy", lambda r: r["policy"], key=True), CHANNEL_COLUMN, SNR_COLUMN,
           Column("sim r1", lambda r: f"{r['similarity_by_round'][0]:.3f}"),
           Column("sim final", number("similarity", 3)), Column("rounds to 90%", number("rounds_to_90", 2)),
           Column("WER", number("wer", 3)), Column("uses/round", number("channel_uses_per_round", 1))]


def read_captions(captions: Path | None, limit: int | None) -> list[str]:
    """Captions from a text file (one per line), a Flickr8k folder (test split, first caption each) or, by
    default, the shared data folder's flickr8k_captions ($SEMCOM_DATA or ../shared/data)."""
    from semcom.schemes.language.captions import flickr8k_captions

    if captions is not None and captions.is_file():
        lines = [line.strip() for line in captions.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines:
            raise SemcomError(f"no captions in {captions}")
        return lines[:limit]
    from semcom.data.sources import shared_subdir

    root = captions or shared_subdir("flickr8k_captions")
    if not root.is_dir():
        raise SemcomError(f"no captions at {root}: give --captions FILE (one caption per line) or a Flickr8k folder")
    return [c for _, c in flickr8k_captions(root, "test", limit)]


def parse_policies(text: str) -> list[str]:
    from semcom.schemes.language.policies import POLICIES, check_policy

    names = parse_names(text)
    return list(POLICIES) if names == ["all"] else [check_policy(p) for p in names]


@eval_app.command("language")
def eval_language(
    policy: str = typer.Option("all", help=POLICY_HELP),
    snr: str = typer.Option("0,5,10", help="SNR grid in dB (Es/N0); ignored by --link ideal."),
    rounds: Optional[int] = typer.Option(None, help="Round budget (default: one round per word)."),
    link: str = typer.Option("ldpc", help=LINK_HELP),
    channel: str = typer.Option("awgn", help=" | ".join(DIGITAL_CHANNELS)),
    mode: str = typer.Option("word", help="word (one word per round) | caption (the whole caption at once)"),
    captions: Optional[Path] = typer.Option(None, help="A text file, one caption per line, or a Flickr8k captions "
                                                       "folder (default: the shared Flickr8k test captions)."),
    limit: Optional[int] = typer.Option(20, help="Use only the first N captions."),
    seed: int = typer.Option(0),
    format: str = typer.Option("table", "--format", help=FORMAT_HELP),
):
    """Similarity of the received prompt to the full caption per round, rounds to 90 %, WER and channel uses."""
    import torch

    from semcom.schemes.language import LanguageScheme, Orderer, word_error_rate

    fmt, policies = check_format(format), parse_policies(policy)
    snrs = [0.0] if link == "ideal" else parse_snrs(snr)
    texts = read_captions(captions, limit)
    orderer, rows = Orderer(), []
    with progress_bar() as bar:
        task = bar.add_task("eval language", total=len(policies) * len(snrs) * len(texts))
        for p in policies:
            scheme = LanguageScheme(p, link, channel, rounds, mode, orderer=orderer)
            for s in snrs:
                budget = rounds or max(len(t.split()) for t in texts)
                curve, final, to90, wer, uses, sent = [0.0] * budget, 0.0, 0.0, 0.0, 0, 0
                for i, text in enumerate(texts):
                    tx = scheme.transmit(text, s, torch.Generator().manual_seed(seed * 100003 + i))
                    sims = orderer.sender.similarity([r["prompt"] for r in tx.details["rounds"]], text).tolist()
                    for r in range(budget):
                        curve[r] += sims[min(r, len(sims) - 1)]
                    final += sims[-1]
                    to90 += next((r + 1 for r, v in enumerate(sims) if v >= 0.9), len(text.split()) + 1)
                    wer += word_error_rate(text.split(), tx.text.split())
                    uses, sent = uses + tx.channel_uses, sent + len(tx.details["rounds"])
                    bar.advance(task)
                n = len(texts)
                rows.append({"scheme": "language", "policy": p, "link": link, "mode": mode, "channel": channel,
                             "snr_db": None if link == "ideal" else s, "captions": n,
                             "similarity_by_round": [round(v / n, 4) for v in curve], "similarity": final / n,
                             "rounds_to_90": to90 / n, "wer": wer / n, "channel_uses_per_round": uses / sent,
                             "seed": seed})
    render(rows, COLUMNS, f"language-oriented transmission of {len(texts)} captions over {link}", fmt)


def transmit_text(text: str, policy: str, link: str, rounds: int | None, mode: str, channel: str, snr_db: float,
                  seed: int, as_json: bool) -> None:
    """``semcom transmit --scheme language``: send ``text`` and print what arrives each round."""
    from semcom.schemes.language import LanguageScheme
    from semcom.seeding import make_generator

    scheme = LanguageScheme(policy or "ssc", link or "ldpc", channel, rounds, mode or "word")
    tx = scheme.transmit(text, snr_db, make_generator(seed))
    row = {"scheme": "language", "snr_db": snr_db, "channel": channel, "channel_uses": tx.channel_uses, "ok": tx.ok,
           "received": tx.text, "seed": seed, **scheme.describe(), **tx.details}
    if as_json:
        out_console.out(json.dumps(row, indent=1, default=str), highlight=False)
        return
    lines = [f"language ({row['policy']}, {row['link']}) over {channel} at {snr_db:g} dB: {tx.channel_uses} channel uses"]
    for i, r in enumerate(tx.details["rounds"], 1):
        moved = "" if r["lost"] or r["placed"] == r["position"] else (
            ", dropped: position header out of range" if r["placed"] is None else f", misplaced at {r['placed']}")
        fate = "lost" if r["lost"] else (f"corrupted -> {r['arrived']!r}{moved}" if r["corrupted"] else "ok")
        lines.append(f"round {i}: sent {r['sent']!r} ({fate}, {r['channel_uses']} uses) -> {r['prompt']!r}")
    lines.append(f"received: {tx.text!r} ({tx.details['lost']} lost, {tx.details['corrupted']} corrupted)")
    out_console.print("\n".join(lines), highlight=False, soft_wrap=True, markup=False)


def transmit_text_command(caption_file: Path | None, text: str | None, policy, link, rounds, mode, channel: str,
                          snr: str, seed: int, out, as_json: bool) -> None:
    """The checks of ``semcom transmit --scheme language`` (exactly one of --text and a caption file), then send."""
    from semcom.cli.common import check_channel

    if out is not None:
        raise SemcomError("--out does not apply to --scheme language: it prints the text that arrives")
    if (text is None) == (caption_file is None):
        raise SemcomError("--scheme language sends text: give --text \"...\" or a caption file (not both)")
    if caption_file is not None:
        if not caption_file.is_file():
            raise SemcomError(f"no caption file {caption_file}")
        try:
            text = caption_file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SemcomError(f"{caption_file} is not UTF-8 text (--scheme language sends a caption)") from None
    if link is not None and link not in ("ldpc", "qam16", "ideal"):
        raise SemcomError(f"unknown text link {link!r}; choose ldpc, qam16 or ideal")
    snrs = parse_snrs(snr)
    if len(snrs) != 1:
        raise SemcomError(f"transmit sends at one SNR, got {snr!r} (use 'semcom eval language' for a grid)")
    transmit_text(text, policy, link, rounds, mode, check_channel(channel), snrs[0], seed, as_json)
