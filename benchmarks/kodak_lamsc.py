"""LAM-SC on Kodak: channel uses and region quality vs whole-image JSCC and the digital chain, with ablations.

    python benchmarks/kodak_lamsc.py [--limit N] [--out benchmarks/results/kodak_lamsc.json] [--summarize-only]

Grid (issue #3): the 24 Kodak images (never trained on), AWGN at SNR {1, 4, 7, 10, 13} dB, the shipped JSCC
at CBR 1/32 (48 latent maps) before masking, the rate the shipped ASC and receiver were trained for. Schemes:

- ``lamsc``: SLIC knowledge base, 5 largest segments, the shipped ASI scorer, the shipped ASC mask and the shipped
  receiver (a copy of the JSCC fine-tuned end to end through the mask; it codes masked transmissions at both ends);
  the mask's side payload really sent as a 5G LDPC + QAM block (the default ``semcom.digital.side.SideLink``: the
  cheapest MCS predicted to decode with probability >= 0.99; a lost block loses the image), as in every variant;
- ``lamsc-ideal-side``: the same with the side payload counted at an ideal 1 bit per channel use, always delivered
  (the count before issue 20; this variant was called ``lamsc`` then, and the LDPC one ``lamsc-ldpc-side``);
- ``lamsc-plain-decoder``: the same as ``lamsc``, coded by the shipped JSCC itself (no receiver copy);
- ``lamsc-no-asi``: all 5 segments sent (no scorer), with ASC and the receiver;
- ``lamsc-no-asc``: ASI selection, the whole latent sent (no mask) and decoded by the plain decoder;
- ``jscc-c{n}``: the same JSCC sending the whole image with n latent maps (CBR n/1536), quality measured on
  each LAM-SC variant's region of that image; this curve gives the channel uses whole-image JSCC needs for
  the region quality LAM-SC reaches (log-linear interpolation in channel uses) and, the other way round, the
  region PSNR it reaches with LAM-SC's channel uses (where the curve is flat, small PSNR differences move the
  first number a lot; the second shows the same comparison in dB);
- ``shipped-c{n}``: the whole image sent by the JSCC ``semcom`` ships for each CBR n/1536 with a dedicated model
  (``SHIPPED_BY_CBR``: the hybrid JSCC, picked by SNR where a specialist ships), i.e. the stronger whole-image
  baseline of issue #21 (at CBR 1/64, with no dedicated model, the ADJSCC semcom ships there: the ``jscc-c24`` rows,
  ``add_default_points``); the same region quality, and a second savings table (``savings_shipped``) against this
  curve;
- ``lamsc-hybrid``: LAM-SC on the shipped hybrid JSCC at CBR 1/32 (``build_lamsc(jscc="hybrid", asc="blocks")``): the
  same segments, scorer and threshold as ``lamsc`` (so the same region, whose rows score it), the block-rule mask
  instead of the learned ASC, no receiver training;
- ``jscc-c48-tuned``: the control for the receiver: whole-image JSCC at LAM-SC's CBR with a JSCC copy fine-tuned end
  to end with the receiver's budget on whole crops (``lamsc/control.pt``); if it gained as much as the
  receiver, the receiver's gain would be extra training, not LAM-SC;
- ``digital-webp``: WebP + 5G LDPC + QAM at the best MCS for the whole image at LAM-SC's CBR; and
  ``digital-webp-semantic``: the same chain sending LAM-SC's semantic image within LAM-SC's channel uses
  (a separation-based LAM-SC). Every codeword is really decoded.

For ``lamsc-ideal-side`` the savings are also given with its side payload priced on a real 5G LDPC + QAM transport
block (``SideLink.channel_uses``). Prints the tables and writes rows, summary, savings and per-stage seconds to JSON;
``--summarize-only`` recomputes everything after the transmissions from the rows already in ``--out``;
``--variants A,B`` re-runs only those LAM-SC variants (and ``digital-webp-semantic``, whose budget is ``lamsc``'s uses,
when ``lamsc`` is among them) and keeps every other row of ``--out`` (the regions do not depend on the side link).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from itertools import pairwise
from pathlib import Path
from statistics import mean

import torch

from semcom.channels import build_channel
from semcom.data import load_folder
from semcom.digital import DigitalChain
from semcom.digital.side import SideLink
from semcom.jscc.transmitter import DEFAULT_CHECKPOINT, SHIPPED_BY_CBR, JSCCTransmitter, entries_for_cbr
from semcom.metrics import psnr_db
from semcom.schemes.lamsc.evaluate import build_lamsc
from semcom.schemes.lamsc.loaders import load_receiver
from semcom.schemes.lamsc.scheme import region_metrics
from semcom.seeding import fast_cpu_math, make_generator, noise_seed
from semcom.segmentation.segmenter import SlicSegmenter
from semcom.training.checkpoint import shipped_file

REPO = Path(__file__).resolve().parents[1]
SNRS = [1.0, 4.0, 7.0, 10.0, 13.0]
CBR = 1 / 32
SIDE_SUCCESS = 0.99  # predicted success of the side payload when it is priced on a real MCS
CONTROL = f"jscc-c{round(CBR * 1536)}-tuned"  # the receiver's control: whole images at LAM-SC's CBR
JSCC_MAPS = [12, 24, 48, 96, 144, 192]  # the ADJSCC LAM-SC runs on, with n of its latent maps (CBR n/1536)
SHIPPED_CBRS = [1 / 64, 1 / 32, 1 / 16, 1 / 8]  # the shipped default JSCC, where a dedicated model ships for the CBR


def shipped_maps() -> list[int]:
    """Latent maps (CBR x 1536) of the CBRs in ``SHIPPED_CBRS`` with a dedicated shipped model."""
    return [round(c * 1536) for c in SHIPPED_CBRS if entries_for_cbr(SHIPPED_BY_CBR, c)]
VARIANTS = {"lamsc": ("shipped", "shipped", "shipped", "ldpc"), "lamsc-ideal-side": ("shipped", "shipped", "shipped", "ideal"),
            "lamsc-plain-decoder": ("shipped", "shipped", "none", "ldpc"), "lamsc-no-asi": ("none", "shipped", "shipped", "ldpc"),
            "lamsc-no-asc": ("shipped", "none", "none", "ldpc"),  # scorer, asc, receiver, side link (no ASC: none sent)
            "lamsc-hybrid": ("shipped", "blocks", "none", "ldpc")}
HYBRID_VARIANTS = {"lamsc-hybrid"}  # on the shipped hybrid JSCC at CBR 1/32 with the block-rule mask, no receiver
REGION_OF = {"lamsc-hybrid": "lamsc"}  # same segmenter, scorer and threshold as lamsc: the same region (checked)


def region_of(variant: str) -> str:
    """The variant whose region rows (``region_of``) score ``variant``: itself, or the variant with the same region."""
    return REGION_OF.get(variant, variant)


def needed_uses(curve: list[tuple[float, float]], target: float) -> tuple[float, str]:
    """Channel uses whole-image JSCC needs for region PSNR ``target``: log-linear interpolation over (uses, psnr)
    points sorted by uses; ('>', max uses) when even the largest rate stays below the target."""
    pts = sorted(curve)
    if target <= pts[0][1]:
        return pts[0][0], "<="
    for (u0, p0), (u1, p1) in pairwise(pts):
        if p0 <= target <= p1 and p1 > p0:
            t = (target - p0) / (p1 - p0)
            return math.exp(math.log(u0) + t * (math.log(u1) - math.log(u0))), "="
    return pts[-1][0], ">"


def psnr_at_uses(curve: list[tuple[float, float]], uses: float) -> float | None:
    """Region PSNR whole-image JSCC reaches with ``uses`` channel uses: log-linear interpolation between the two
    neighbouring (uses, psnr) points; None outside the curve's range."""
    pts = sorted(curve)
    for (u0, p0), (u1, p1) in pairwise(pts):
        if u0 <= uses <= u1:
            return p0 + (math.log(uses) - math.log(u0)) / (math.log(u1) - math.log(u0)) * (p1 - p0)
    return None


BOOTSTRAP = 2000  # resamples of the 24 images for the confidence intervals (fixed seed: the table is reproducible)


def image_statistics(rows: list[dict], variant: str, snr: float, resamples: int = BOOTSTRAP, seed: int = 0,
                     prefix: str = "jscc-c", maps: list[int] = JSCC_MAPS) -> dict:
    """Per-image and bootstrap statistics of ``variant`` against a whole-image JSCC curve (rows ``prefix`` + n for n in
    ``maps``) on its own regions.

    Per image: the equal-uses gain (the variant's region PSNR minus the curve's, interpolated at the variant's uses on
    that image's curve) and whether it wins (gain > 0). Bootstrap (images resampled with replacement, ``resamples``
    times): 95 % percentile intervals of the mean equal-uses gain and of "fewer channel uses at equal region PSNR"
    computed from the resampled mean curve, with the share of resamples in which that figure is only a lower bound
    (the variant's region PSNR above the whole curve)."""
    mine = {r["image"]: r for r in rows if r["scheme"] == variant and r["region_of"] == variant and r["snr_db"] == snr}
    curves = {m: {r["image"]: r for r in rows if r["scheme"] == f"{prefix}{m}" and r["region_of"] == region_of(variant)
                  and r["snr_db"] == snr} for m in maps}
    images = sorted(mine)
    gains = []
    for im in images:
        at = psnr_at_uses([(curves[m][im]["channel_uses"], curves[m][im]["region_psnr_db"]) for m in maps],
                          mine[im]["channel_uses"])
        gains.append(None if at is None else mine[im]["region_psnr_db"] - at)
    gen = torch.Generator().manual_seed(seed)
    boot_gain, boot_fewer, bounds = [], [], 0
    for _ in range(resamples):
        pick = [images[i] for i in torch.randint(len(images), (len(images),), generator=gen).tolist()]
        curve = [(mean(curves[m][im]["channel_uses"] for im in pick), mean(curves[m][im]["region_psnr_db"] for im in pick))
                 for m in maps]
        uses, psnr = mean(mine[im]["channel_uses"] for im in pick), mean(mine[im]["region_psnr_db"] for im in pick)
        at = psnr_at_uses(curve, uses)
        if at is not None:
            boot_gain.append(psnr - at)
        needed, relation = needed_uses(curve, psnr)
        boot_fewer.append(1 - uses / needed)
        bounds += relation == ">"

    def interval(values: list[float]) -> list[float] | None:
        if not values:
            return None
        v = sorted(values)
        return [v[int(0.025 * (len(v) - 1))], v[round(0.975 * (len(v) - 1))]]

    valid = [g for g in gains if g is not None]
    return {"images": len(images), "wins_equal_uses": sum(g > 0 for g in valid), "images_on_curve": len(valid),
            "gain_db_ci95": interval(boot_gain), "fewer_uses_ci95": interval(boot_fewer),
            "fewer_uses_lower_bound_share": bounds / resamples}


def savings_row(s: dict) -> list[str]:
    """One markdown row of the savings table (the README's)."""
    ci = s.get("gain_db_ci95")
    gain = "-" if s["region_psnr_gain_db"] is None else f"{s['region_psnr_gain_db']:+.2f}" + (
        "" if ci is None else f" [{ci[0]:+.2f}, {ci[1]:+.2f}]")
    at = "-" if s["jscc_region_psnr_at_equal_uses"] is None else f"{s['jscc_region_psnr_at_equal_uses']:.2f}"
    bound = "≥ " if s["relation"] == ">" else ""
    fewer = f"{bound}{100 * s['fewer_uses_than_jscc']:.1f} %"
    if s.get("fewer_uses_ci95"):
        lo, hi = s["fewer_uses_ci95"]
        fewer += f" [{100 * lo:.1f}, {'≥ ' if s['fewer_uses_lower_bound_share'] > 0.025 else ''}{100 * hi:.1f}]"
    needed = ("> " if s["relation"] == ">" else "≤ " if s["relation"] == "<=" else "") + f"{s['jscc_uses_for_equal_region_psnr']:.0f}"
    won = f"{s['wins_equal_uses']}/{s['images_on_curve']}" if "wins_equal_uses" in s else "-"
    return ["|", s["scheme"], "|", f"{s['snr_db']:g}", "|", f"{s['channel_uses']:.0f}", "|", f"{s['region_psnr_db']:.2f}",
            "|", at, "|", gain, "|", won, "|", needed, "|", fewer, "|"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / ".." / "shared" / "data" / "kodak"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "kodak_lamsc.json"))
    parser.add_argument("--summarize-only", action="store_true",
                        help="recompute the summary and savings from the rows already in --out (no transmissions)")
    parser.add_argument("--variants", default=None,
                        help="re-run only these LAM-SC variants (comma-separated), keeping every other row of --out")
    args = parser.parse_args(argv)
    if args.summarize_only:
        saved = json.loads(Path(args.out).read_text())
        config = {**saved["config"], "summarized_by": "python benchmarks/kodak_lamsc.py " + " ".join(argv or sys.argv[1:])}
        return report(saved["rows"], saved["seconds_per_image"], config, args.out)
    fast_cpu_math(args.threads)
    started = time.time()
    images = [(n, x.float() / 255 if x.dtype == torch.uint8 else x.float()) for n, x in load_folder(args.data, args.limit)]
    only = None if args.variants is None else args.variants.split(",")
    kept: list[dict] = []
    if only is not None:
        if set(only) - set(VARIANTS):
            parser.error(f"unknown variant(s) {', '.join(sorted(set(only) - set(VARIANTS)))}; choose from {', '.join(VARIANTS)}")
        saved = json.loads(Path(args.out).read_text())
        if saved["config"]["images"] != [n for n, _ in images] or saved["config"]["seed"] != args.seed:
            parser.error(f"{args.out} holds other images or another seed: run it in full")
        redo = set(only) | ({"digital-webp-semantic"} if "lamsc" in only else set())
        kept = [r for r in saved["rows"] if r["scheme"] not in redo]
    schemes = {name: build_lamsc("awgn", CBR, scorer, asc, receiver=receiver, side_link=side,
                                 jscc="hybrid" if name in HYBRID_VARIANTS else None)
               for name, (scorer, asc, receiver, side) in VARIANTS.items() if only is None or name in only}
    jscc = {m: JSCCTransmitter.from_checkpoint(build_channel("awgn"), DEFAULT_CHECKPOINT, cbr=m / 1536) for m in JSCC_MAPS}
    shipped = {m: JSCCTransmitter.from_checkpoint(build_channel("awgn"), cbr=m / 1536) for m in shipped_maps()}
    control = shipped_file("lamsc/control.pt", "LAM-SC receiver control", "run the control phase of scripts/train_lamsc.sh")
    tuned = JSCCTransmitter(load_receiver(control, jscc[JSCC_MAPS[0]].model)[0], build_channel("awgn"), CBR)
    digital = DigitalChain("webp", "awgn", CBR, decode=True)
    segmenter = SlicSegmenter()
    rows, stage_seconds = [], {name: [] for name in schemes}
    for index, (name, x) in enumerate(images):
        t0 = time.perf_counter()
        segments = segmenter.segments(x)
        segment_seconds = time.perf_counter() - t0
        regions, semantic = {}, {}
        for variant, lamsc in schemes.items():
            for snr in SNRS:
                result = lamsc.transmit(x, snr, make_generator(noise_seed(args.seed, index, snr, CBR)), segments=segments)
                if variant in REGION_OF:  # scored on its twin's region rows: it must be that region
                    twin = schemes.get(REGION_OF[variant])
                    if twin is not None and not torch.equal(result.region, regions.get(REGION_OF[variant],
                                                                                      result.region)):
                        raise SystemExit(f"{variant} selected another region than {REGION_OF[variant]} on {name}")
                else:
                    regions[variant] = result.region
                semantic[(variant, snr)] = (result.semantic, result.channel_uses)
                stage_seconds[variant].append({**result.seconds, "segment": segment_seconds})
                rows.append({"scheme": variant, "region_of": variant, "image": name, "snr_db": snr,
                             "channel_uses": result.channel_uses, "side_uses": result.side_uses,
                             "sent_segments": int(result.selected.sum()), "segments": len(result.segments),
                             "fallback": result.fallback or "", "side_lost": result.side_lost, **result.metrics(x)})
        if only is not None:  # whole-image JSCC and digital-webp rows are kept (the regions do not change)
            rows += [digital_semantic_row(name, index, x, snr, args.seed, semantic[("lamsc", snr)], regions["lamsc"])
                     for snr in (SNRS if "lamsc" in only else [])]
            print(f"{name}: {time.time() - started:.0f} s", file=sys.stderr)
            continue
        for maps, scheme, transmitter in [*((m, f"jscc-c{m}", jscc[m]) for m in JSCC_MAPS), (round(CBR * 1536), CONTROL, tuned),
                                          *((m, f"shipped-c{m}", shipped[m]) for m in shipped)]:
            cbr = maps / 1536
            for snr in SNRS:
                t0 = time.perf_counter()
                tx = transmitter.transmit(x, snr, make_generator(noise_seed(args.seed, index, snr, cbr)))
                seconds = time.perf_counter() - t0
                whole = psnr_db(x, tx.x_hat).item()
                for variant, region in regions.items():
                    rows.append({"scheme": scheme, "region_of": variant, "image": name, "snr_db": snr,
                                 "channel_uses": tx.channel_uses, "seconds": seconds, "psnr_db": whole,
                                 "checkpoint": Path(tx.details.get("checkpoint") or transmitter.checkpoint or control).name,
                                 **region_metrics(x, tx.x_hat, region)})
        for snr in SNRS:
            tx = digital.transmit(x, snr, make_generator(noise_seed(args.seed, index, snr, CBR)))
            for variant, region in regions.items():
                rows.append({"scheme": "digital-webp", "region_of": variant, "image": name, "snr_db": snr,
                             "channel_uses": tx.channel_uses, "ok": tx.ok, **region_metrics(x, tx.x_hat, region)})
            rows.append(digital_semantic_row(name, index, x, snr, args.seed, semantic[("lamsc", snr)], regions["lamsc"]))
        print(f"{name}: {time.time() - started:.0f} s", file=sys.stderr)

    timing = {v: {k: mean(t[k] for t in ts) for k in ts[0]} for v, ts in stage_seconds.items() if ts}
    whole = f"jscc-c{round(CBR * 1536)}"
    if only is not None:
        timing = {**{k: v for k, v in saved["seconds_per_image"].items() if k not in timing}, **timing}
        rows = kept + rows
    else:
        timing[whole] = {"encode+channel+decode": mean(r["seconds"] for r in rows if r["scheme"] == whole)}
    config = {"command": "python benchmarks/kodak_lamsc.py " + " ".join(argv or sys.argv[1:]), "images": [n for n, _ in images],
              "snr_db": SNRS, "cbr": CBR, "control": CONTROL, "jscc_maps": JSCC_MAPS,
              "shipped_maps": shipped_maps(), "jscc_checkpoint": DEFAULT_CHECKPOINT.name, "variants": VARIANTS, "seed": args.seed,
              "threads": args.threads, "torch": torch.__version__, "machine": platform.machine(),
              "wall_seconds": time.time() - started}
    if only is not None:
        config["rerun_variants"] = only
        config["rows_kept_from"] = saved["config"].get("rows_kept_from", saved["config"]["command"])
    return report(rows, timing, config, args.out)


def digital_semantic_row(name: str, index: int, x: torch.Tensor, snr: float, seed: int,
                         semantic: tuple[torch.Tensor, int], region: torch.Tensor) -> dict:
    """The row of the digital chain (WebP + LDPC + QAM) sending LAM-SC's semantic image ``semantic`` = (image, LAM-SC's
    channel uses) at LAM-SC's own channel uses, scored on LAM-SC's region."""
    sem, uses = semantic
    cbr = uses / (3 * x.shape[1] * x.shape[2])
    tx = DigitalChain("webp", "awgn", cbr, decode=True).transmit(sem, snr, make_generator(noise_seed(seed, index, snr, cbr)))
    return {"scheme": "digital-webp-semantic", "region_of": "lamsc", "image": name, "snr_db": snr,
            "channel_uses": tx.channel_uses, "ok": tx.ok, **region_metrics(x, tx.x_hat, region)}


VARIANTS_VS_SHIPPED = ("lamsc", "lamsc-no-asc", "lamsc-hybrid")  # against the shipped curve: the headline, the
# equal-uses ablation and LAM-SC on the shipped hybrid itself


def savings_against(get: dict, rows: list[dict], prefix: str, maps: list[int], variants=tuple(VARIANTS)) -> list[dict]:
    """Per variant and SNR: LAM-SC's region PSNR against the whole-image curve ``prefix`` + n (n in ``maps``) on the
    variant's own region, at equal channel uses and at equal region PSNR, with the per-image statistics."""
    savings = []
    for variant in variants:
        if not any(r["scheme"] == variant for r in rows):  # a variant added after these rows were made
            continue
        region = region_of(variant)
        for snr in SNRS:
            mine = get[(variant, variant, snr)]
            curve = [(get[(f"{prefix}{m}", region, snr)]["channel_uses"], get[(f"{prefix}{m}", region, snr)]["region_psnr_db"])
                     for m in maps]
            uses, relation = needed_uses(curve, mine["region_psnr_db"])
            equal_uses = psnr_at_uses(curve, mine["channel_uses"])
            savings.append({"scheme": variant, "snr_db": snr, "channel_uses": mine["channel_uses"],
                            "region_psnr_db": mine["region_psnr_db"], "jscc_uses_for_equal_region_psnr": uses,
                            "relation": relation, "fewer_uses_than_jscc": 1 - mine["channel_uses"] / uses,
                            "jscc_region_psnr_at_equal_uses": equal_uses,
                            "region_psnr_gain_db": None if equal_uses is None else mine["region_psnr_db"] - equal_uses})
            savings[-1].update(image_statistics(rows, variant, snr, prefix=prefix, maps=maps))
            if "channel_uses_ldpc_side" in mine:
                ldpc = mine["channel_uses_ldpc_side"]
                savings[-1].update({"channel_uses_ldpc_side": ldpc, "fewer_uses_than_jscc_ldpc_side": 1 - ldpc / uses})
    return savings


def add_default_points(rows: list[dict]) -> list[dict]:
    """``rows`` plus, for each CBR of ``SHIPPED_CBRS`` without a dedicated model, the ``jscc-c{n}`` rows renamed
    ``shipped-c{n}`` (``same_as``): at such a CBR what semcom ships *is* that ADJSCC (CBR 1/64: 24 maps), so the
    shipped curve gets its low point, where LAM-SC's channel uses fall, without sending anything again."""
    have = {r["scheme"] for r in rows}
    extra = []
    for cbr in SHIPPED_CBRS:
        m = round(cbr * 1536)
        if not entries_for_cbr(SHIPPED_BY_CBR, cbr) and f"shipped-c{m}" not in have and f"jscc-c{m}" in have:
            extra += [{**r, "scheme": f"shipped-c{m}", "same_as": f"jscc-c{m}"} for r in rows if r["scheme"] == f"jscc-c{m}"]
    return rows + extra


def report(rows: list[dict], timing: dict, config: dict, out: str) -> int:
    """Summary, savings (also with the ASC side payload priced on a real MCS), printed tables and the JSON file."""
    rows = add_default_points([r for r in rows if "same_as" not in r])
    link = SideLink("awgn", SIDE_SUCCESS)  # the MCS rule of the default side link, to price the ideal variant
    for r in rows:  # every row of a variant with ASC (a fallback row has no side payload)
        if r["scheme"] in VARIANTS and VARIANTS[r["scheme"]][1] != "none" and VARIANTS[r["scheme"]][3] == "ideal":
            bits = int(r["side_uses"])  # the side payload went at 1 bit per channel use: bits = uses
            r["channel_uses_ldpc_side"] = r["channel_uses"] - bits + link.channel_uses(bits, r["snr_db"])
    keys = ["channel_uses", "region_psnr_db", "region_ms_ssim", "region_fraction", "psnr_db", "ms_ssim", "side_uses",
            "sent_segments", "ok", "channel_uses_ldpc_side", "side_lost"]
    summary = []
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["scheme"], r["region_of"], r["snr_db"]), []).append(r)
    for (scheme, region_of, snr), rs in groups.items():
        summary.append({"scheme": scheme, "region_of": region_of, "snr_db": snr, "images": len(rs),
                        **{k: mean(float(r[k]) for r in rs) for k in keys if k in rs[0]}})
    get = {(s["scheme"], s["region_of"], s["snr_db"]): s for s in summary}
    savings = savings_against(get, rows, "jscc-c", JSCC_MAPS)
    maps = sorted({int(r["scheme"].removeprefix("shipped-c")) for r in rows if r["scheme"].startswith("shipped-c")})
    shipped = savings_against(get, rows, "shipped-c", maps, VARIANTS_VS_SHIPPED) if len(maps) > 1 else []
    print("\nLAM-SC vs whole-image JSCC on LAM-SC's regions (AWGN, Kodak): the gain at equal channel uses (headline), "
          "images won, and the channel uses saved at equal region PSNR; [95 % bootstrap intervals over images]; "
          "'>=' where the whole JSCC curve stays below LAM-SC (a lower bound)")
    print("| scheme | SNR dB | channel uses | region PSNR dB | JSCC region PSNR at equal uses | gain dB [95 % CI] "
          "| images won | JSCC uses for equal region PSNR | fewer uses [95 % CI] |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in savings:
        print(" ".join(savings_row(s)))
    if shipped:
        print("\nThe same against the JSCC semcom ships for each CBR (the hybrid where one ships, the ADJSCC at 1/64; "
              "lamsc on the ADJSCC, lamsc-hybrid on the hybrid): "
              + ", ".join(f"shipped-c{m}" for m in maps))
        print("| scheme | SNR dB | channel uses | region PSNR dB | JSCC region PSNR at equal uses | gain dB [95 % CI] "
              "| images won | JSCC uses for equal region PSNR | fewer uses [95 % CI] |")
        print("|---|---|---|---|---|---|---|---|---|")
        for s in shipped:
            print(" ".join(savings_row(s)))
    print("\nRegion PSNR dB on LAM-SC's region (channel uses)")
    names = ["lamsc", *[v for v in REGION_OF if REGION_OF[v] == "lamsc"], *[f"jscc-c{m}" for m in JSCC_MAPS], CONTROL,
             *[f"shipped-c{m}" for m in maps], "digital-webp", "digital-webp-semantic"]
    print("| scheme | " + " | ".join(f"{s:g} dB" for s in SNRS) + " |")
    print("|---" * (len(SNRS) + 1) + "|")
    for n in names:
        cells = [get.get((n, "lamsc", snr)) or get.get((n, n, snr)) for snr in SNRS]
        print(f"| {n} | " + " | ".join("-" if c is None else f"{c['region_psnr_db']:.2f} ({c['channel_uses']:.0f})" for c in cells) + " |")
    print("\nWith the ASC side payload on 5G LDPC + QAM (cheapest MCS with predicted success >= "
          f"{SIDE_SUCCESS:g}) instead of 1 bit per channel use")
    print("| scheme | SNR dB | channel uses | fewer uses |")
    print("|---|---|---|---|")
    for s in savings:
        if "channel_uses_ldpc_side" in s:
            print(f"| {s['scheme']} | {s['snr_db']:g} | {s['channel_uses_ldpc_side']:.0f} | {100 * s['fewer_uses_than_jscc_ldpc_side']:.1f} % |")
    print("\nseconds per image and stage:", json.dumps(timing, indent=1))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"config": config, "summary": summary, "savings": savings,
                                    "savings_shipped": shipped, "seconds_per_image": timing, "rows": rows}, indent=1))
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
