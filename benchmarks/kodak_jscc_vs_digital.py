"""Kodak benchmark: learned JSCC vs every digital codec + 5G LDPC + QAM (best MCS) vs the capacity bound.

    python benchmarks/kodak_jscc_vs_digital.py [--workers 2] [--limit N] [--codecs jpeg,webp,...]
                                               [--out benchmarks/results/kodak.json]

Grid (issue #2): AWGN at SNR {1, 4, 7, 10, 13} dB with CBR 1/32, 1/16 and 1/8, and Rayleigh (fast fading,
perfect-CSI ZF) at CBR 1/16. Every digital codeword is really LDPC-decoded. Kodak is never trained on.
Prints one table per (channel, CBR) and writes every row, the summary and the config to JSON.
Rows are saved after every (scheme, channel, CBR) chunk to ``<out>.partial.json``; a re-run with the
same arguments resumes from there (each row is a pure function of its seed, so resuming changes nothing).
``--keep-same-mcs`` re-runs only the digital cells (codec, channel, CBR, SNR) whose MCS the current selection rule
(``semcom.digital.TARGET_SUCCESS``, ``channel_use_budget``) picks differently from the MCS stored in the rows of
``--out``, and keeps every other row: a digital row is a pure function of (image, codec, budget, MCS, seed).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from semcom.data import load_folder
from semcom.digital import available_codecs, channel_use_budget, select_mcs
from semcom.experiments.evaluate import SchemeSpec, summarize, sweep
from semcom.experiments.results import plain_rows
from semcom.seeding import fast_cpu_math

REPO = Path(__file__).resolve().parents[1]
SNRS = [1.0, 4.0, 7.0, 10.0, 13.0]
GRID = [("awgn", 1 / 32), ("awgn", 1 / 16), ("awgn", 1 / 8), ("rayleigh", 1 / 16)]


def table(summary: list[dict], channel: str, cbr: float) -> str:
    rows = [s for s in summary if s["channel"] == channel and s["cbr_target"] == cbr]
    schemes = sorted({s["scheme"] for s in rows}, key=lambda n: (n != "jscc", not n.startswith("softcast"), n.startswith("bound"), n))
    get = {(s["scheme"], s["snr_db"]): s for s in rows}
    digital = [n for n in schemes if n.startswith("digital")]
    bounds = [n for n in schemes if n.startswith("bound")]
    lines = [f"\n{channel}, CBR 1/{round(1 / cbr)}: PSNR dB / MS-SSIM (decoded %)",
             "| scheme | " + " | ".join(f"{s:g} dB" for s in SNRS) + " |", "|---" * (len(SNRS) + 1) + "|"]
    for name in schemes:
        cells = []
        for snr in SNRS:
            s = get.get((name, snr))
            ok = "" if s is None or s["success_rate"] == 1 else f" ({100 * s['success_rate']:.0f}%)"
            cells.append("-" if s is None else f"{s['psnr_db']:.2f} / {s['ms_ssim']:.3f}{ok}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for label, names in (("best digital", digital), ("best bound", bounds)):
        if names:
            best = [max((get[(n, snr)] for n in names if (n, snr) in get), key=lambda s: s["psnr_db"]) for snr in SNRS]
            lines.append(f"| {label} | " + " | ".join(f"{b['psnr_db']:.2f} ({b['scheme'].split('-', 1)[1]})" for b in best) + " |")
    if "jscc" in schemes and bounds:
        gaps = [get[("jscc", snr)]["psnr_db"] - max(get[(n, snr)]["psnr_db"] for n in bounds) for snr in SNRS]
        lines.append("| jscc - best bound | " + " | ".join(f"{g:+.2f}" for g in gaps) + " |")
    if "jscc" in schemes and "softcast-pca" in schemes:
        gaps = [get[("jscc", snr)]["psnr_db"] - get[("softcast-pca", snr)]["psnr_db"] for snr in SNRS]
        lines.append("| jscc - softcast-pca (the linear floor) | " + " | ".join(f"{g:+.2f}" for g in gaps) + " |")
    if "jscc" in schemes and digital:
        gaps = [get[("jscc", snr)]["psnr_db"] - max(get[(n, snr)]["psnr_db"] for n in digital) for snr in SNRS]
        lines.append("| jscc - best digital | " + " | ".join(f"{g:+.2f}" for g in gaps) + " |")
    return "\n".join(lines)


def reused_rows(path: Path, reuse: str, names: list[str], seed: int) -> tuple[list[dict], set[str]]:
    """Rows (and their done chunks) of the schemes named by ``reuse`` from an earlier full run at ``path``."""
    old = json.loads(path.read_text())
    if old["config"]["images"] != names or old["config"]["seed"] != seed:
        raise SystemExit(f"{path} was written for other images or another seed: it cannot be reused")
    labels = {r["scheme"] for r in old["rows"]}
    if reuse.startswith("all-but:"):
        keep = labels - set(reuse.split(":", 1)[1].split(","))
    else:
        keep = set(reuse.split(",")) & labels
    rows = [r for r in old["rows"] if r["scheme"] in keep]
    chunks = {f"{r['scheme']}|{r['channel']}|{r['cbr_target']!r}" for r in rows}
    print(f"reusing {len(rows)} rows of {', '.join(sorted(keep))} from {path}", file=sys.stderr)
    return rows, chunks


def same_mcs_rows(path: Path, images: list, seed: int) -> tuple[list[dict], dict[tuple, list[float]]]:
    """Rows of ``path`` to keep and the digital cells to re-run, {(label, channel, cbr): [snr, ...]}: a digital cell
    is re-run when the MCS the current rule picks for any of its images differs from the one stored in its row."""
    old = json.loads(path.read_text())
    shapes = {n: tuple(x.shape) for n, x in images}
    if old["config"]["images"] != list(shapes) or old["config"]["seed"] != seed:
        raise SystemExit(f"{path} was written for other images or another seed: it cannot be reused")
    stale = set()
    for r in old["rows"]:
        if r["scheme"].startswith("digital-"):
            mcs = select_mcs(r["snr_db"], r["channel"], channel_use_budget(shapes[r["image"]], r["cbr_target"]))
            if (mcs.name if mcs else None) != r["mcs"]:
                stale.add((r["scheme"], r["channel"], r["cbr_target"], r["snr_db"]))
    redo: dict[tuple, list[float]] = {}
    for label, channel, cbr, snr in sorted(stale):
        redo.setdefault((label, channel, cbr), []).append(snr)
    keep = [r for r in old["rows"] if (r["scheme"], r["channel"], r["cbr_target"], r["snr_db"]) not in stale]
    print(f"keeping {len(keep)} rows of {path}; re-running {len(stale)} digital cells", file=sys.stderr)
    return keep, redo


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / ".." / "shared" / "data" / "kodak"))
    parser.add_argument("--codecs", default=",".join(available_codecs()))
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-digital", action="store_true", help="only JSCC and the capacity bounds")
    parser.add_argument("--reuse", default="", help="comma-separated scheme labels whose rows are taken from the existing "
                        "--out file (same images and seed) instead of being recomputed, e.g. 'digital-jpeg,bound-jpeg'; "
                        "'all-but:jscc,softcast-pca' reuses every label except those")
    parser.add_argument("--keep-same-mcs", action="store_true",
                        help="re-run only the digital cells whose MCS the current rule picks differently from --out's rows")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "kodak.json"))
    args = parser.parse_args(argv)
    fast_cpu_math()

    images = load_folder(args.data, args.limit)
    codecs = [c for c in args.codecs.split(",") if c]
    specs = [SchemeSpec("jscc", checkpoint=args.checkpoint), SchemeSpec("softcast", "pca"), SchemeSpec("softcast", "dct")]
    specs += [SchemeSpec("bound", c) for c in codecs]
    if not args.skip_digital:
        specs += [SchemeSpec("digital", c) for c in codecs]
    partial = Path(args.out + ".partial.json")
    names = [n for n, _ in images]
    saved = json.loads(partial.read_text()) if partial.is_file() else {}
    if saved and (saved.get("images") != names or saved.get("seed") != args.seed):
        raise SystemExit(f"{partial} was written for other images or another seed: remove it to start afresh")
    rows, chunks, started = saved.get("rows", []), set(saved.get("chunks", [])), time.time()
    if args.reuse and not saved:
        rows, chunks = reused_rows(Path(args.out), args.reuse, names, args.seed)
    if args.keep_same_mcs:
        if saved.get("keep_same_mcs"):  # resume: the kept rows and the cells re-run so far are in the partial file
            rows, redo, done = saved["rows"], {tuple(k): v for k, v in saved["redo"]}, set(saved["done"])
        else:
            rows, redo = same_mcs_rows(Path(args.out), images, args.seed)
            done = set()
        chunks = {f"{r['scheme']}|{r['channel']}|{r['cbr_target']!r}" for r in rows} | {
            f"{label}|{channel}|{cbr!r}" for label, channel, cbr in redo}
        order = ["digital-jpeg2000", "digital-avif", "digital-webp", "digital-jpegxl", "digital-jpeg"]  # best first
        for label, channel, cbr in sorted(redo, key=lambda k: (order.index(k[0]) if k[0] in order else 9, k[1:])):
            if f"{label}|{channel}|{cbr!r}" in done:
                continue
            t0, snrs = time.time(), redo[(label, channel, cbr)]
            rows += plain_rows(sweep([SchemeSpec("digital", label.split("-", 1)[1])], channel, images, snrs, [cbr],
                                     seed=args.seed, workers=args.workers))
            done.add(f"{label}|{channel}|{cbr!r}")
            partial.write_text(json.dumps({"images": names, "seed": args.seed, "keep_same_mcs": True, "rows": rows,
                                           "redo": [[list(k), v] for k, v in redo.items()], "done": sorted(done)},
                                          default=str))
            print(f"{label:16s} {channel:8s} CBR 1/{round(1 / cbr)} at {snrs} dB: {time.time() - t0:7.1f} s", file=sys.stderr)
    for channel, cbr in GRID:
        for spec in specs:
            key = f"{spec.label}|{channel}|{cbr!r}"
            if key in chunks:
                continue
            t0 = time.time()
            rows += plain_rows(sweep([spec], channel, images, SNRS, [cbr], seed=args.seed, workers=args.workers))
            chunks.add(key)
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps({"images": names, "seed": args.seed, "chunks": sorted(chunks), "rows": rows},
                                          default=str))
            print(f"{spec.label:16s} {channel:8s} CBR 1/{round(1 / cbr)}: {time.time() - t0:7.1f} s", file=sys.stderr)
    summary = summarize(rows)
    for channel, cbr in GRID:
        print(table(summary, channel, cbr))
    timing = {}
    for label in sorted({r["scheme"] for r in rows}):
        secs = [r["seconds"] for r in rows if r["scheme"] == label and r["channel"] == "awgn" and r["cbr_target"] == 1 / 16]
        timing[label] = sum(secs) / len(secs)
    print("\nmean seconds per image (encode + channel + decode, one worker thread, AWGN, CBR 1/16):")
    for label, sec in timing.items():
        print(f"  {label:16s} {sec:.3f}")
    config = {"command": "python benchmarks/kodak_jscc_vs_digital.py " + " ".join(argv or sys.argv[1:]),
              "images": [n for n, _ in images], "snr_db": SNRS, "grid": GRID, "codecs": codecs, "seed": args.seed,
              "workers": args.workers, "torch": torch.__version__, "machine": platform.machine(),
              "cpu_threads_per_worker": 1 if args.workers > 1 else torch.get_num_threads(),
              "wall_seconds_this_run": time.time() - started, "resumed": bool(saved)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"config": config, "summary": summary, "seconds_per_image": timing,
                                         "rows": rows}, indent=1, default=str))
    partial.unlink(missing_ok=True)
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
