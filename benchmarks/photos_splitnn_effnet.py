"""Split inference on a real ImageNet classifier (issue #4): EfficientNet-Lite0 split after block2, no labels.

    python benchmarks/photos_splitnn_effnet.py [--checkpoint PATH ...] [--out benchmarks/results/photos_splitnn_effnet.json]

Default: every shipped EfficientNet-Lite0 codec (effnet-block2-c8b3-la, effnet-block2-c24b3-la).

There are no ImageNet labels here, so the measure is top-1 agreement with the uncompressed model (head and
tail on one machine, no channel) on (a) the 24 Kodak images (never trained on; centre square, resized to
224 px) and (b) 200 scaled 224 px crops of the 4 held-out training photos, at SNR {-6, -3, 0, 3, 7} dB over
AWGN and fast Rayleigh (link-adaptive codec: LDPC + QAM at the cheapest reliable MCS, uncoded below it). Also bits per image, compression vs the float32 split features, channel uses, and
the device-side latency (head + encoder + quantiser + packing, 1 thread).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.data import load_folder
from semcom.data.crops import scaled_crops, split_train_val
from semcom.experiments.results import portable_path
from semcom.schemes.splitnn.checkpoint import load_semanticnn, shipped_checkpoint
from semcom.schemes.splitnn.evaluate import device_latency, row, variant_row
from semcom.schemes.splitnn.train import pseudo_labels
from semcom.schemes.splitnn.variants import Variant
from semcom.seeding import fast_cpu_math, make_generator

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("effnet-block2-c8b3-la", "effnet-block2-c24b3-la")
SHARED = REPO / ".." / "shared" / "data"
SNRS = [-6.0, -3.0, 0.0, 3.0, 7.0]
CHANNELS = ["awgn", "rayleigh"]


def kodak_224(folder: Path) -> torch.Tensor:
    out = []
    for _, x in load_folder(folder):
        x = x.float() / 255 if x.dtype == torch.uint8 else x
        side = min(x.shape[1:])
        top, left = (x.shape[1] - side) // 2, (x.shape[2] - side) // 2
        square = x[:, top:top + side, left:left + side][None]
        out.append(F.interpolate(square, (224, 224), mode="bilinear", antialias=True)[0].clamp(0, 1))
    return (torch.stack(out) * 255).round().to(torch.uint8)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", default=None,
                        help="a codec checkpoint (repeatable; default: the shipped EfficientNet-Lite0 codecs)")
    parser.add_argument("--crops", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "photos_splitnn_effnet.json"))
    args = parser.parse_args(argv)
    fast_cpu_math(2)
    started = time.time()
    sets = {"kodak": kodak_224(SHARED / "kodak")}
    _, held_out = split_train_val(SHARED / "photos-train", 4)
    sets["held-out photo crops"] = scaled_crops(held_out, args.crops, 224, make_generator(args.seed + 11))
    checkpoints = args.checkpoint or [str(shipped_checkpoint(v)) for v in VARIANTS if Path(shipped_checkpoint(v)).is_file()]
    if not checkpoints:
        raise SystemExit("no EfficientNet-Lite0 codec shipped: pass --checkpoint")
    rows, latency, labels = [], {}, {}  # labels: the uncompressed model's top-1 per (model, set), shared by its codecs
    for checkpoint in checkpoints:
        for channel in CHANNELS:
            model, meta = load_semanticnn(checkpoint, medium=channel)
            variant = Variant(**meta["variant"])
            for name, images in sets.items():
                key = (variant.model, name)
                if key not in labels:
                    labels[key] = pseudo_labels(model.split, images)
                if checkpoint == checkpoints[0]:
                    rows.append(row("uncompressed", channel, None, 100.0, None, None, model.split, set=name,
                                    images=len(images)))
                for snr in SNRS:
                    r = variant_row(model, variant, images, labels[key], channel, snr, args.seed)
                    rows.append({**r, "set": name, "images": len(images)})
                    print(f"{variant.name} {channel:8s} {name:22s} {snr:5g} dB: top-1 agreement {r['accuracy']:.1f} %, "
                          f"{r['channel_uses']:.0f} channel uses", file=sys.stderr)
        latency[variant.name] = {**device_latency(model, repeats=50), "bits": model.bits,
                                 "train_steps": meta.get("step"), "train_cpu_hours": meta.get("cpu_hours")}
        print(f"{variant.name}: bits/image {model.bits}, x{rows[-1]['compression_vs_features']:.0f} vs float32 features; "
              f"device {latency[variant.name]['device_ms']:.1f} ms, {latency[variant.name]['device_params']} parameters")
    config = {"command": "python benchmarks/photos_splitnn_effnet.py " + " ".join(argv or sys.argv[1:]),
              "checkpoints": [portable_path(c, REPO) for c in checkpoints], "snr_db": SNRS, "channels": CHANNELS, "seed": args.seed,
              "torch": torch.__version__, "machine": platform.machine(), "seconds": time.time() - started}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"config": config, "rows": rows, "device": latency}, indent=1))
    print(f"written {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
