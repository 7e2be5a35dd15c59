"""Render the README's result tables (markdown) from the committed benchmark JSON files.

    python benchmarks/readme_tables.py            # prints every table whose JSON exists
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from semcom.schemes.attention_ci.policies import POLICY_PARAM

RESULTS = Path(__file__).resolve().parent / "results"


RECEIVER_CSI = (
    "Receivers on fading (issue #20, item 4): every receiver zero-forces with perfect CSI. The digital demapper, "
    "SoftCast's LMMSE and the hybrid JSCC's LMMSE stage also get each symbol's post-equalisation noise variance "
    "(noise_var/|h|²); the ADJSCC decoder does not (it sees the zero-forced symbols only). All learned models were "
    "trained on AWGN only.")


def kodak(data: dict) -> str:
    summary = data["summary"]
    snrs = data["config"]["snr_db"]
    out = []
    for channel, cbr in data["config"]["grid"]:
        rows = [s for s in summary if s["channel"] == channel and abs(s["cbr_target"] - cbr) < 1e-12]
        get = {(s["scheme"], s["snr_db"]): s for s in rows}
        digital = sorted({s["scheme"] for s in rows if s["scheme"].startswith("digital")})
        bounds = sorted({s["scheme"] for s in rows if s["scheme"].startswith("bound")})
        out.append(f"\n**{channel}, CBR 1/{round(1 / cbr)}** — mean PSNR dB / MS-SSIM over the 24 Kodak images "
                   "(digital: % of images decoded)\n")
        if channel != "awgn":
            out.append(RECEIVER_CSI + "\n")
        out.append("| scheme | " + " | ".join(f"{s:g} dB" for s in snrs) + " |")
        out.append("|---" * (len(snrs) + 1) + "|")
        linear = sorted({s["scheme"] for s in rows if s["scheme"].startswith("softcast")})
        for name in ["jscc", *linear, *digital, *bounds]:
            cells = []
            for snr in snrs:
                s = get.get((name, snr))
                if s is None:
                    cells.append("-")
                    continue
                ok = "" if s["success_rate"] == 1 else f" ({100 * s['success_rate']:.0f}%)"
                cells.append(f"{s['psnr_db']:.2f} / {s['ms_ssim']:.3f}{ok}")
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        for label, names in (("best digital", digital), ("best bound", bounds)):
            best = [max((get[(n, snr)] for n in names), key=lambda s: s["psnr_db"]) for snr in snrs]
            out.append(f"| **{label}** | " + " | ".join(f"{b['psnr_db']:.2f} ({b['scheme'].split('-', 1)[1]})" for b in best) + " |")
        gaps_to = [("jscc − softcast-pca, the linear floor", ["softcast-pca"])] if "softcast-pca" in linear else []
        for label, names in (*gaps_to, ("jscc − best digital", digital), ("jscc − best bound", bounds)):
            gaps = [get[("jscc", snr)]["psnr_db"] - max(get[(n, snr)]["psnr_db"] for n in names) for snr in snrs]
            out.append(f"| {label} (dB) | " + " | ".join(f"{g:+.2f}" for g in gaps) + " |")
    timing = data.get("seconds_per_image", {})
    if timing:
        out.append("\nSeconds per image (encode + channel + decode, one thread per worker, AWGN, CBR 1/16): "
                   + ", ".join(f"{k} {v:.2f}" for k, v in sorted(timing.items(), key=lambda kv: kv[1])) + ".")
    return "\n".join(out)


def splitnn(data: dict) -> str:
    rows = data["rows"]
    snrs = data["config"]["snr_db"]
    out = []
    for channel in data["config"]["channels"]:
        mine = [r for r in rows if r["channel"] == channel]
        names = list(dict.fromkeys(r["scheme"] for r in mine))
        out.append(f"\n**{channel}** — CIFAR-10 test top-1 accuracy % ({data['config']['images']} images)\n")
        out.append("| scheme | bits/image | × vs float32 features | channel uses/image | "
                   + " | ".join(f"{s:g} dB" for s in snrs) + " |")
        out.append("|---" * (len(snrs) + 4) + "|")
        for name in names:
            rs = {r["snr_db"]: r for r in mine if r["scheme"] == name}
            ref = next(iter(rs.values()))
            bits = "-" if ref["bits"] is None else f"{ref['bits']:.0f}"
            if ref.get("analog"):
                bits = "analog"
            ratio = "-" if ref["compression_vs_features"] is None or ref.get("analog") else f"{ref['compression_vs_features']:.0f}"
            uses = [rs[s]["channel_uses"] for s in snrs if s in rs and rs[s]["channel_uses"] is not None]
            uses_txt = "-" if not uses else (f"{uses[0]:.0f}" if len(set(uses)) == 1 else "/".join(f"{u:.0f}" for u in uses))
            accs = [f"{rs[s]['accuracy']:.2f}" if s in rs else f"{ref['accuracy']:.2f}" for s in snrs]
            out.append(f"| {name} | {bits} | {ratio} | {uses_txt} | " + " | ".join(accs) + " |")
    dev = data.get("device", {})
    if dev:
        out.append("\nDevice side per 32×32 image (ResNet-20 up to layer2 + encoder + quantiser + packing, 1 thread): "
                   + ", ".join(f"{k} {v['device_ms']:.2f} ms ({v['device_params']} parameters)" for k, v in dev.items()) + ".")
    return "\n".join(out)


def lamsc(data: dict) -> str:
    get = {(s["scheme"], s["region_of"], s["snr_db"]): s for s in data["summary"]}
    snrs = data["config"]["snr_db"]
    cbr, control = data["config"]["cbr"], data["config"].get("control", "jscc-c96-tuned")
    whole = f"jscc-c{round(cbr * 1536)}"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from kodak_lamsc import savings_row

    out = [f"\n**LAM-SC vs whole-image JSCC on LAM-SC's regions** — Kodak, AWGN, JSCC at CBR 1/{round(1 / cbr)} before "
           "masking; region = the segments LAM-SC sent; channel uses include the mask's side information. Headline: the "
           "region-PSNR gain at equal channel uses, with images won (of those whose uses fall on the JSCC curve); then "
           "the channel uses saved at equal region PSNR. [95 % bootstrap intervals, images resampled]; ≥: a lower bound "
           "(LAM-SC above the whole JSCC curve, up to 192 maps)\n",
           "| scheme | SNR dB | channel uses | region PSNR dB | JSCC region PSNR at equal uses | gain dB [95 % CI] "
           "| images won | JSCC uses for equal region PSNR | fewer uses [95 % CI] |",
           "|---|---|---|---|---|---|---|---|---|"]
    out += [" ".join(savings_row(s)) for s in data["savings"]]
    ldpc = [s for s in data["savings"] if s["scheme"] == "lamsc-ideal-side" and "channel_uses_ldpc_side" in s]
    if ldpc:
        out.append("\nThe ideal-side variant's counts with its side payload priced on the real MCS instead (the cheapest "
                   "with predicted success ≥ 0.99, what `lamsc` really sends): "
                   + " / ".join(f"{s['channel_uses_ldpc_side']:.0f}" for s in ldpc) + " channel uses, "
                   + " / ".join(f"{100 * s['fewer_uses_than_jscc_ldpc_side']:.1f}" for s in ldpc)
                   + " % fewer than whole-image JSCC at equal region PSNR ("
                   + " / ".join(f"{s['snr_db']:g}" for s in ldpc) + " dB).")
    shipped_maps = sorted({int(s["scheme"].removeprefix("shipped-c")) for s in data["summary"]
                           if s["scheme"].startswith("shipped-c")})  # with the default (ADJSCC) point at 1/64
    if data.get("savings_shipped"):
        out.append("\n**The same against the JSCC semcom now ships for each CBR** (the hybrid where one ships, picked "
                   "by SNR; at CBR 1/64 the ADJSCC, which is what semcom ships there: "
                   + ", ".join(f"`shipped-c{m}` = CBR 1/{round(1536 / m)}" for m in shipped_maps)
                   + "); `lamsc` runs on the ADJSCC its mask and receiver were trained on, `lamsc-hybrid` on the "
                   "shipped hybrid itself (block-rule mask, no receiver training)\n")
        out += ["| scheme | SNR dB | channel uses | region PSNR dB | JSCC region PSNR at equal uses | gain dB [95 % CI] "
                "| images won | JSCC uses for equal region PSNR | fewer uses [95 % CI] |", "|---|---|---|---|---|---|---|---|---|"]
        out += [" ".join(savings_row(s)) for s in data["savings_shipped"]]
    variants = [v for v in ("lamsc", "lamsc-hybrid", "lamsc-ideal-side", "lamsc-plain-decoder")
                if v in data["config"]["variants"]]
    names = [*variants, *[f"jscc-c{m}" for m in data["config"]["jscc_maps"]], control,
             *[f"shipped-c{m}" for m in shipped_maps], "digital-webp", "digital-webp-semantic"]
    out.append("\n**Region PSNR dB on LAM-SC's region** (mean channel uses per image in brackets)\n")
    out.append("| scheme | " + " | ".join(f"{s:g} dB" for s in snrs) + " |")
    out.append("|---" * (len(snrs) + 1) + "|")
    for n in names:
        cells = [get.get((n, n if n in variants else "lamsc", snr)) for snr in snrs]
        out.append(f"| {n} | " + " | ".join("-" if c is None else f"{c['region_psnr_db']:.2f} ({c['channel_uses']:.0f})"
                                             for c in cells) + " |")
    t = data["seconds_per_image"]["lamsc"]
    threads = data["config"].get("threads", 2)
    out.append(f"\nSeconds per Kodak image and stage ({threads} thread{'s' if threads != 1 else ''}): " + ", ".join(f"{k} {v:.3f}" for k, v in t.items())
               + f"; whole-image JSCC (CBR 1/{round(1 / cbr)}, encode + channel + decode) "
               f"{data['seconds_per_image'][whole]['encode+channel+decode']:.3f}.")
    return "\n".join(out)



def attention_ci(data: dict) -> str:
    def point(r: dict) -> str:
        p = POLICY_PARAM[r["policy"]]
        score = "" if r["policy"] == "random" else f" ({r.get('score', 'cls')})"
        return f"{r['policy']} {p}={r[p]:g}{score}, {r['gate']} η={r['eta']:.3g}"

    client, server = data["references"]
    out = [f"\n**Ideal link** — CIFAR-10 test set ({data['config']['images']} images); cost = request bits "
           "(zlib'd patch pixels + indices) / bits of offloading every full image; seed cost = fraction offloaded × "
           "mean fraction of patches\n",
           "| operating point | offloaded | patches sent | accuracy % | cost | seed cost |", "|---|---|---|---|---|---|",
           f"| client alone | 0 | - | {client['accuracy']:.2f} | 0 | 0 |",
           f"| server alone (every full image) | 1 | 1 | {server['accuracy']:.2f} | 1 | 1 |"]
    shown = []
    for budget in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0):
        within = [r for r in data["front"] if r["relative_bits"] <= budget]
        if within and within[-1] not in shown:
            shown.append(within[-1])  # the front is sorted by cost: the last is the most accurate
    for r in shown:
        out.append(f"| {point(r)} | {r['offload_rate']:.2f} | {r['patch_fraction']:.2f} | {r['accuracy']:.2f} | "
                   f"{r['relative_bits']:.3f} | {r['seed_cost']:.3f} |")
    out.append(f"\nThe most accurate Pareto-front point (no other point beats it on both accuracy and cost) within each cost "
               f"budget 0.05, 0.1, 0.2, ... 1 ({len(data['front'])} front points in the JSON). Cheapest points:")
    for label, r in data["chosen"].items():
        out.append(f"* {label}: {point(r)} — {r['accuracy']:.2f} % at cost {r['relative_bits']:.3f} "
                   f"({100 * (1 - r['relative_bits']):.1f} % lower than offloading every full image)")
    if data.get("held_out_eta"):
        out.append("\nThe same points with η fixed beforehand (the same offload-rate quantile of the client's uncertainty "
                   "on the 1000 training images the ViTs held out), on the test set:")
        for label, r in data["held_out_eta"].items():
            out.append(f"* {label}: η={r['eta']:.3g} — {r['accuracy']:.2f} % (server {data['references'][1]['accuracy']:.2f} %), "
                       f"{100 * r['offload_rate']:.1f} % offloaded, cost {r['relative_bits']:.3f} "
                       f"({100 * (1 - r['relative_bits']):.1f} % lower)")
    snrs = data["config"]["snr_db"]
    out.append("\n**Through the channels (AWGN)** — accuracy % / channel uses per image, absolute (in brackets: per "
               "offloaded image) and relative to sending every full image over the same link (each link by its own "
               "full-offload cost, so compare links by the absolute figures); share of requests delivered when below 100 %\n")
    out.append("| operating point | link | " + " | ".join(f"{s:g} dB" for s in snrs) + " |")
    out.append("|---|---|" + "---|" * len(snrs))
    links = list(dict.fromkeys(r["link"] for r in data["channels"]))
    for label in data["chosen"]:
        for link in links:
            rows = {r["snr_db"]: r for r in data["channels"] if r["operating_point"] == label and r["link"] == link}
            cells = []
            for snr in snrs:
                r = rows[snr]
                ok = "" if r["delivered_rate"] >= 0.9995 else f", {100 * r['delivered_rate']:.1f} % delivered"
                per = r.get("channel_uses_per_offloaded_image")
                per = "" if per is None else f" ({per:.0f})"
                cells.append(f"{r['accuracy']:.2f} / {r['channel_uses_per_image']:.1f}{per} / {r['relative_channel_uses']:.3f}{ok}")
            out.append(f"| {label} | {link} | " + " | ".join(cells) + " |")
    t = data["latency"]
    out.append(f"\nLatency per 32×32 image (batch 1, 1 thread, all patches): client {t['client_ms']:.2f} ms, "
               f"server {t['server_ms']:.2f} ms.")
    return "\n".join(out)


def photos_effnet(data: dict) -> str:
    """Top-1 agreement with the uncompressed EfficientNet-Lite0, per codec, image set and channel."""
    snrs = data["config"]["snr_db"]
    out = ["**EfficientNet-Lite0 split after block2** — top-1 agreement % with the uncompressed model "
           "(mean channel uses per image in brackets)\n",
           "| codec | bits/image | × vs features | set | channel | " + " | ".join(f"{s:g} dB" for s in snrs) + " |",
           "|---|---|---|---|---|" + "---|" * len(snrs)]
    codecs = [r for r in data["rows"] if r["scheme"] != "uncompressed"]
    for scheme in dict.fromkeys(r["scheme"] for r in codecs):
        for name in dict.fromkeys(r["set"] for r in codecs):
            for channel in data["config"]["channels"]:
                got = {r["snr_db"]: r for r in codecs if (r["scheme"], r["set"], r["channel"]) == (scheme, name, channel)}
                first = next(iter(got.values()))
                cells = [f"{got[s]['accuracy']:.1f} ({got[s]['channel_uses']:.0f})" for s in snrs]
                out.append(f"| {scheme} | {first['bits']:.0f} | {first['compression_vs_features']:.0f} | {name} "
                           f"({first['images']}) | {channel} | " + " | ".join(cells) + " |")
    dev = ", ".join(f"{name} {d['device_ms']:.1f} ms ({d['device_params']} parameters)" for name, d in data["device"].items())
    out.append(f"\nDevice side per 224 px image (head + encoder + quantiser + packing, 1 thread): {dev}.")
    return "\n".join(out)


def main() -> int:
    for name, render in (("kodak.json", kodak), ("kodak_lamsc.json", lamsc), ("cifar_splitnn.json", splitnn),
                         ("photos_splitnn_effnet.json", photos_effnet), ("cifar_attention_ci.json", attention_ci)):
        path = RESULTS / name
        if path.is_file():
            print(f"\n<!-- {name} -->")
            print(render(json.loads(path.read_text())))
    recipes = RESULTS / "jscc_recipes.jsonl"
    if recipes.is_file():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from jscc_recipes import table as recipes_table

        print("\n<!-- jscc_recipes.jsonl -->")
        print(recipes_table(recipes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
