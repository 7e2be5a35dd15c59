"""Split-inference benchmark (issue #4): SemanticNN vs its analog variant, ADJSCC, DeepCOD and a digital chain.

    python benchmarks/cifar_splitnn.py [--limit N] [--checkpoints DIR] [--out benchmarks/results/cifar_splitnn.json]
                                       [--variants A,B]   # re-run only these codecs, keep the other rows of --out
                                       [--digital-only]   # re-run only the digital baseline, keep every codec row

CIFAR-10 test set (shared data, JPEG copy), pretrained ResNet-20 split after layer2 (features 32x16x16).
SNR {-6, -3, 0, 3, 7} dB, AWGN and fast Rayleigh (perfect-CSI ZF). Rows: top-1 accuracy, bits per image,
compression vs the float32 features and vs the raw image, complex channel uses per image.
Digital baseline: features quantised to 8 bits + zlib, sent with 5G LDPC + QAM at the best MCS
(a) within the same 768 channel uses as semanticnn-c8b3 and (b) with whatever channel uses the cheapest
reliable MCS needs; "reliable" is the core's one target ``semcom.digital.TARGET_SUCCESS`` (0.99 predicted success),
as for the link-adaptive codecs. Its decode outcomes come from the measured BLER table (``decode=False``) for the
whole set; ``--decode-check N`` also really LDPC-decodes the first N images at 0 and 7 dB to confirm.
The same holds for codecs with the adaptive link (``semanticnn-c8b3-la``: their bits as one LDPC + QAM
block at the cheapest reliable MCS, uncoded when none is), whose decode check joins the digital one.
An image whose payload is lost (or does not fit) counts as a wrong prediction.
Also: device-side latency per image (head + encoder + quantiser + packing, 1 thread) and device parameters.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from semcom.data.cifar import cifar10_test
from semcom.experiments.results import plain_rows
from semcom.schemes.splitnn.checkpoint import CHECKPOINT_DIR, load_semanticnn
from semcom.schemes.splitnn.digital import DigitalFeatureLink
from semcom.schemes.splitnn.evaluate import batches, device_latency, evaluate_checkpoint, row, uncompressed_accuracy
from semcom.schemes.splitnn.link import adaptive_accuracy
from semcom.schemes.splitnn.variants import CIFAR_VARIANTS, Variant, default_split
from semcom.seeding import fast_cpu_math, make_generator

REPO = Path(__file__).resolve().parents[1]
SNRS = [-6.0, -3.0, 0.0, 3.0, 7.0]
CHANNELS = ["awgn", "rayleigh"]
BUDGET = 768  # channel uses of semanticnn-c8b3 (1536 bits, QPSK)


@torch.no_grad()
def digital_rows(split, images, labels, channel, snr, decode=False, seed=0) -> list[dict]:
    link = DigitalFeatureLink(channel, decode=decode)
    out = []
    for budget, name in ((BUDGET, "digital-8bit-zlib@768"), (None, "digital-8bit-zlib")):
        correct, bits, uses, delivered = 0, 0.0, 0.0, 0
        gen = make_generator(seed)
        for x, y in batches(images, labels):
            feats = split.head(x)
            d = link.send(feats, snr, budget, gen)
            pred = split.tail(d.features_hat.to(feats.dtype)).argmax(1)
            correct += ((pred == y) & d.ok).sum().item()
            bits += d.payload_bits.sum().item()
            uses += (d.channel_uses.sum().item() if budget is None else budget * len(y))
            delivered += d.ok.sum().item()
        n = len(images)
        out.append(row(name, channel, snr, 100 * correct / n, bits / n, uses / n, split,
                       delivered=delivered / n, ldpc_decoded=decode, images=n))
    return out


@torch.no_grad()
def adaptive_decode_check(path, split, images, labels, seed=0) -> list[dict]:
    """Rows for an adaptive-link codec with every LDPC block really encoded, sent and decoded (0 and 7 dB)."""
    out = []
    for channel in CHANNELS:
        model, meta = load_semanticnn(path, split=split, medium=channel)
        variant = Variant(**meta["variant"])
        for snr in (0.0, 7.0):
            r = adaptive_accuracy(model, images, labels, snr, channel, variant.clean_snr_db, decode=True, seed=seed)
            out.append(row(variant.name, channel, snr, r.accuracy, model.bits, r.channel_uses, split, mcs=r.mcs,
                           delivered=r.delivered, ldpc_decoded=True, images=len(images)))
    return out


def fmt_table(rows, channel) -> str:
    schemes = list(dict.fromkeys(r["scheme"] for r in rows if r["channel"] == channel))
    get = {(r["scheme"], r["snr_db"]): r for r in rows if r["channel"] == channel and not r.get("ldpc_decoded")}
    lines = [f"\n{channel}: top-1 accuracy % (bits/image, x vs float32 features, channel uses/image)",
             "| scheme | bits | x features | uses | " + " | ".join(f"{s:g} dB" for s in SNRS) + " |",
             "|---" * (len(SNRS) + 4) + "|"]
    for name in schemes:
        ref = next(r for r in rows if r["scheme"] == name and r["channel"] == channel)
        accs = [f"{get[(name, s)]['accuracy']:.2f}" if (name, s) in get else f"{ref['accuracy']:.2f}" for s in SNRS]
        ratio = ref["compression_vs_features"]
        bits = "-" if ref["bits"] is None else f"{ref['bits']:.0f}"
        uses = "-" if ref["channel_uses"] is None else f"{ref['channel_uses']:.0f}"
        if name == "digital-8bit-zlib":
            uses = "/".join(f"{get[(name, s)]['channel_uses']:.0f}" for s in SNRS if (name, s) in get)
        lines.append(f"| {name} | {bits} | {'-' if ratio is None else f'{ratio:.0f}'} | {uses} | " + " | ".join(accs) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--checkpoints", default=str(CHECKPOINT_DIR))
    parser.add_argument("--decode-check", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "cifar_splitnn.json"))
    parser.add_argument("--variants", default=None,
                        help="re-run only these codecs (comma-separated); every other row, the digital baseline and "
                             "the decode check are kept from the existing --out file (same images)")
    parser.add_argument("--digital-only", action="store_true",
                        help="re-run only the digital baseline and its decode check; every codec row, their decode "
                             "checks and the device timings are kept from the existing --out file (same images)")
    args = parser.parse_args(argv)
    if args.digital_only and args.variants is not None:
        parser.error("--digital-only keeps every codec: drop --variants")
    fast_cpu_math(args.threads)
    images, labels = cifar10_test(limit=args.limit)
    split = default_split()
    t0 = time.time()
    base = uncompressed_accuracy(split, images, labels)
    rows = [row("uncompressed", c, None, base, None, None, split) for c in CHANNELS]
    variants = CIFAR_VARIANTS if args.variants is None else tuple(args.variants.split(","))
    unknown = set(variants) - set(CIFAR_VARIANTS)
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(sorted(unknown))}; choose from {', '.join(CIFAR_VARIANTS)}")
    paths = [Path(args.checkpoints) / f"{v}.pt" for v in variants if (Path(args.checkpoints) / f"{v}.pt").is_file()]
    latency, kept = {}, None
    if args.digital_only:
        kept = json.loads(Path(args.out).read_text())
        if kept["config"]["images"] != len(images):
            parser.error(f"{args.out} holds {kept['config']['images']} images, this run {len(images)}: run it in full")
        rows += [r for r in kept["rows"] if r["scheme"] != "uncompressed" and not r["scheme"].startswith("digital-")]
        latency, paths = dict(kept["device"]), []
    elif args.variants is not None:
        kept = json.loads(Path(args.out).read_text())
        if kept["config"]["images"] != len(images):
            parser.error(f"{args.out} holds {kept['config']['images']} images, this run {len(images)}: run it in full")
        rows += [r for r in kept["rows"] if r["scheme"] not in ("uncompressed", *variants)]
        latency = {k: v for k, v in kept["device"].items() if k not in variants}
    for path in paths:
        t = time.time()
        rows += evaluate_checkpoint(path, images, labels, SNRS, CHANNELS, split, args.seed)
        model, meta = load_semanticnn(path, split=split)
        latency[meta["variant"]["name"]] = {**device_latency(model), "train_steps": meta.get("step"),
                                            "train_cpu_hours": meta.get("cpu_hours")}
        print(f"{path.stem}: {time.time() - t:.1f} s", file=sys.stderr)
    if kept is None or args.digital_only:
        for channel in CHANNELS:
            for snr in SNRS:
                rows += digital_rows(split, images, labels, channel, snr, seed=args.seed)
            print(f"digital {channel} done", file=sys.stderr)
        check = [r for c in CHANNELS for snr in (0.0, 7.0)
                 for r in digital_rows(split, images[:args.decode_check], labels[:args.decode_check], c, snr, True, args.seed)]
        if kept is not None:
            check = [r for r in kept["ldpc_decode_check"] if not r["scheme"].startswith("digital-")] + check
    else:
        check = [r for r in kept["ldpc_decode_check"] if r["scheme"] not in variants]
    for path in paths:
        if Variant(**load_semanticnn(path, split=split)[1]["variant"]).link == "adaptive":
            check += adaptive_decode_check(path, split, images[:args.decode_check], labels[:args.decode_check], args.seed)
    order = ["uncompressed", *CIFAR_VARIANTS]
    rows.sort(key=lambda r: order.index(r["scheme"]) if r["scheme"] in order else len(order))  # stable: digital last
    latency = {k: latency[k] for k in CIFAR_VARIANTS if k in latency}
    for channel in CHANNELS:
        print(fmt_table(rows, channel))
    print("\ndevice side (1 thread): " + json.dumps(latency, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    config = {"command": "python benchmarks/cifar_splitnn.py " + " ".join(argv or sys.argv[1:]), "images": len(images),
              "snr_db": SNRS, "channels": CHANNELS, "budget_channel_uses": BUDGET, "seed": args.seed,
              "checkpoints": [str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p) for p in paths],
              "torch": torch.__version__, "machine": platform.machine(), "seconds": time.time() - t0}
    if kept is not None:
        config["rows_kept_from"] = kept["config"].get("rows_kept_from", kept["config"]["command"])
        config["checkpoints"] = sorted(set(config["checkpoints"]) | set(kept["config"]["checkpoints"]))
    Path(args.out).write_text(json.dumps({"config": config, "rows": plain_rows(rows), "ldpc_decode_check": plain_rows(check),
                                          "device": latency}, indent=1))
    print(f"\nwritten {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
