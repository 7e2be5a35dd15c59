"""CPU-efficient training study for the core image JSCC (issue #21): recipes at EQUAL process CPU-seconds.

    python benchmarks/jscc_recipes.py [--budget 1200] [--only NAME,NAME] [--eval-only]
                                      [--out benchmarks/results/jscc_recipes.jsonl]

Every recipe trains from scratch (seed 0) on random crops of ../shared/data/photos-train (the last 4 photos by
name held out for validation; Kodak is never trained on) for ``--budget`` process CPU-seconds of training
(``time.process_time``: every thread counted, validation not), checkpoints in runs/recipes/<name>/ (an
interrupted recipe resumes). Then it is measured, with the training-free linear baseline (SoftCast, PCA and
DCT) beside it in the same run:

* validation: the 4 held-out photos (whole images), AWGN, CBR 1/16, SNR 1/4/7/10/13 dB — recipes are
  *chosen* on this;
* Kodak (24 images), AWGN at the same SNRs, and Rayleigh (fast fading, ZF) at 1/7/13 dB — reported only.

One JSON row per (recipe, set, channel, SNR) is appended to ``--out``; recipes already there are skipped
(delete their rows to re-run). The table printed at the end is the README's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from semcom.channels import build_channel
from semcom.data import load_folder, split_train_val
from semcom.data.images import load_image
from semcom.jscc import JSCCConfig
from semcom.jscc.checkpoint import load_jscc
from semcom.jscc.hybrid import HybridConfig
from semcom.jscc.softcast import SoftCast, SoftCastTransmitter, load_softcast
from semcom.jscc.transmitter import JSCCTransmitter
from semcom.jscc.train import TrainConfig, train
from semcom.metrics import psnr_db
from semcom.seeding import fast_cpu_math

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SNRS = [1.0, 4.0, 7.0, 10.0, 13.0]
RAYLEIGH_SNRS = [1.0, 7.0, 13.0]
CBR = 1 / 16

BASE = dict(cbr=(CBR,), batch=32, crop=64, lr=1e-3, lr_min=1e-5, clip=1.0, schedule="late-cosine",
            val_count=4, eval_every=10**9, log_every=100, ckpt_every=200, seed=0, threads=2)
HYBRID = HybridConfig()
# name -> (what it tests, train overrides, model config)
RECIPES: dict[str, tuple[str, dict, object]] = {
    "hybrid-snr-range": ("hybrid (SoftCast-initialised linear path + plain conv paths), SNR U[-2,16] dB",
                         dict(snr_range=(-2.0, 16.0)), HYBRID),
    "hybrid-snr-range-logmse": ("hybrid, SNR U[-2,16] dB, loss = mean log MSE per image (each SNR counts in dB)",
                                dict(snr_range=(-2.0, 16.0), loss="log-mse"), HYBRID),
    "hybrid-b2-snr-range-logmse": ("hybrid with 2 extra residual conv blocks per resolution, SNR U[-2,16], log-MSE",
                                   dict(snr_range=(-2.0, 16.0), loss="log-mse"), HybridConfig(blocks=2)),
    "hybrid-10db": ("the same, trained at 10 dB only", dict(snr_range=(10.0, 10.0)), HYBRID),
    "hybrid-1db": ("the same, trained at 1 dB only", dict(snr_range=(1.0, 1.0)), HYBRID),
    "plain-snr-range": ("plain DeepJSCC (no linear path), SNR U[-2,16] dB", dict(snr_range=(-2.0, 16.0)),
                        HybridConfig(linear=False)),
    "adjscc-snr-range": ("the project's ADJSCC architecture (AF modules, residual GDN stacks), 96 maps, SNR U[-2,16]",
                         dict(snr_range=(-2.0, 16.0)), JSCCConfig(latent_channels=96)),
    "hybrid-w96-snr-range": ("hybrid, conv width 96", dict(snr_range=(-2.0, 16.0)), HybridConfig(width=96)),
    "hybrid-rate-adaptive": ("hybrid, 192 maps, CBR 1/32, 1/16, 1/8 mixed, SNR U[-2,16]",
                             dict(snr_range=(-2.0, 16.0), cbr=(1 / 32, 1 / 16, 1 / 8)), HybridConfig(latent_channels=192)),
    "hybrid-strided-snr-range-logmse": ("hybrid with the strided (full-resolution) conv paths of the floors note, "
                                        "SNR U[-2,16], log-MSE", dict(snr_range=(-2.0, 16.0), loss="log-mse"),
                                        HybridConfig(stem="strided")),
    "hybrid-strided-10db": ("hybrid with the strided conv paths, 10 dB only (the floors note's 20-CPU-minute recipe)",
                            dict(snr_range=(10.0, 10.0)), HybridConfig(stem="strided")),
    "hybrid-crop128-b8": ("hybrid, batches of 8 crops of 128", dict(snr_range=(-2.0, 16.0), crop=128, batch=8), HYBRID),
    "hybrid-lr2e-3": ("hybrid, lr 2e-3 (clipped)", dict(snr_range=(-2.0, 16.0), lr=2e-3), HYBRID),
    "adjscc-lr2e-3": ("ADJSCC architecture at lr 2e-3, clipped", dict(snr_range=(-2.0, 16.0), lr=2e-3),
                      JSCCConfig(latent_channels=96)),
}


def evaluate(model_or_softcast, images, channel_name: str, snrs: list[float]) -> list[tuple[float, float, int]]:
    """(snr, mean PSNR, channel uses of the first image) over ``images`` [(name, x)] through the scheme's deployment
    path (the core transmitters), one noise seed per image."""
    channel = build_channel(channel_name)
    if isinstance(model_or_softcast, SoftCast):
        scheme = SoftCastTransmitter(model_or_softcast, channel, CBR)
    else:
        scheme = JSCCTransmitter(model_or_softcast, channel, CBR)
    out = []
    for snr in snrs:
        txs = [scheme.transmit(x, snr, torch.Generator().manual_seed(1000 + i)) for i, (_, x) in enumerate(images)]
        psnrs = [psnr_db(x[None], tx.x_hat[None].clamp(0, 1)).item() for (_, x), tx in zip(images, txs)]
        out.append((snr, sum(psnrs) / len(psnrs), txs[0].channel_uses))
    return out


def measure(name: str, what: str, model, sets: dict, cpu_s: float | None, steps: int | None) -> list[dict]:
    rows = []
    for set_name, images in sets.items():
        grids = [("awgn", SNRS)] + ([("rayleigh", RAYLEIGH_SNRS)] if set_name == "kodak" else [])
        for channel, snrs in grids:
            for snr, psnr, uses in evaluate(model, images, channel, snrs):
                rows.append({"recipe": name, "what": what, "set": set_name, "channel": channel, "snr_db": snr,
                             "psnr_db": round(psnr, 3), "channel_uses_first": uses, "cpu_seconds": cpu_s, "steps": steps})
    return rows


def done_recipes(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {json.loads(line)["recipe"] for line in path.read_text().splitlines() if line.strip()}


def table(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    get = {(r["recipe"], r["set"], r["channel"], r["snr_db"]): r for r in rows}
    names = list(dict.fromkeys(r["recipe"] for r in rows))
    lines = ["| recipe | CPU-min | steps | val 1 / 4 / 7 / 10 / 13 dB | Kodak AWGN 1 / 4 / 7 / 10 / 13 dB | Kodak Rayleigh 1 / 7 / 13 dB |",
             "|---|---|---|---|---|---|"]
    for n in names:
        first = next(r for r in rows if r["recipe"] == n)
        cells = []
        for set_name, channel, snrs in (("val", "awgn", SNRS), ("kodak", "awgn", SNRS), ("kodak", "rayleigh", RAYLEIGH_SNRS)):
            cells.append(" / ".join(f"{get[(n, set_name, channel, s)]['psnr_db']:.2f}" if (n, set_name, channel, s) in get else "-"
                                    for s in snrs))
        cpu = "-" if first["cpu_seconds"] is None else f"{first['cpu_seconds'] / 60:.1f}"
        lines.append(f"| {n} | {cpu} | {first['steps'] or '-'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=1200.0, help="process CPU-seconds of training per recipe")
    parser.add_argument("--only", default="", help="comma-separated recipe names (default: all, in order)")
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/jscc_recipes.jsonl"))
    parser.add_argument("--runs", default=str(REPO / "runs/recipes"))
    parser.add_argument("--table", action="store_true", help="only print the table of the saved rows")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.table:
        print(table(out))
        return 0
    names = [n for n in args.only.split(",") if n] or list(RECIPES)
    unknown = [n for n in names if n not in RECIPES and n not in ("softcast-pca", "softcast-dct")]
    if unknown:
        print(f"error: unknown recipe(s) {', '.join(unknown)}; choose from {', '.join(RECIPES)}", file=sys.stderr)
        return 2
    fast_cpu_math(2)
    train_paths, val_paths = split_train_val(DATA / "photos-train", 4)
    sets = {"val": [(p.stem, load_image(p)) for p in val_paths], "kodak": load_folder(DATA / "kodak")}
    done = done_recipes(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for kind in ("pca", "dct"):  # the training-free floor, measured in the same run
        name = f"softcast-{kind}"
        if name not in done:
            rows = measure(name, f"linear SoftCast ({kind}), no training", load_softcast(kind), sets, None, None)
            with open(out, "a") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
    for name in names:
        if name in done or name.startswith("softcast"):
            continue
        what, overrides, model_cfg = RECIPES[name]
        cfg = TrainConfig(data=str(DATA / "photos-train"), out=str(Path(args.runs) / name), steps=10**7,
                          cpu_budget_s=args.budget, **{**BASE, **overrides})
        start = time.time()
        last = train(cfg, model_cfg, log=lambda m: print(f"[{name}] {m}", flush=True))
        model, meta = load_jscc(last)
        rows = measure(name, what, model, sets, round(meta["cpu_seconds"], 1), meta["step"])
        with open(out, "a") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        print(f"[{name}] done in {(time.time() - start) / 60:.1f} wall-min", flush=True)
        print(table(out), flush=True)
    print(table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
