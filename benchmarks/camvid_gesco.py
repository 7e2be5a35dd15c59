"""CamVid benchmark of GESCO (issue 16, seed 001): the label map sent, the image regenerated, against the core's pixel
JSCC and the digital image chain at equal channel uses.

    .venv/bin/python benchmarks/camvid_gesco.py --maps-only --limit 2       # map recovery only, ~1 min
    .venv/bin/python benchmarks/camvid_gesco.py --diffusion runs/gesco-diffusion.pt --segmenter runs/seg.pt [--reuse]

Grid: the CamVid test split (240x180 maps; ``--limit`` keeps the first N by name), map transmitters (digital, analog,
and the learned analog+denoiser / map-jscc / adaptive where a checkpoint for every CBR is given or shipped) x channel {AWGN,
Rayleigh (fast, ZF)} x SNR {-5, 0, 5, 10, 20} dB x CBR {1/64, 1/32, 1/16} of the RGB image. Every scheme gets the same
budget, ``channel_use_budget((3, 180, 240), cbr)`` (the pixel JSCC's count on the padded 192x240 image).

One JSON line per cell in ``--out`` (a config line first):
* ``kind: gesco`` (always): map pixel accuracy and mIoU of the recovered map vs the sent one (pooled over the split,
  void ignored), channel uses, share of maps that arrived; with a diffusion model also, for the generated images,
  the segmenter's mIoU against the true maps, FID-/KID-EffNet against the real test photos (EfficientNet-Lite0
  features: never read as Inception FID), PSNR / MS-SSIM, LPIPS (with ``--lpips``) and sampling seconds per image;
* ``kind: baseline`` (unless ``--maps-only``): the core's pixel JSCC (shipped model for the CBR, ``fit_budget``: its
  side block inside the budget, on the short-codeword side link, row ``jscc-short-side-fit``), the ADJSCC at every CBR
  (no side payload, row ``jscc-adjscc``) and the digital
  image chain (``--baselines``, every codeword LDPC-decoded unless ``--fast``) on the same photos at the same
  resolution and budget, scored the same way (segmenter mIoU, FID-/KID-EffNet, PSNR / MS-SSIM);
* ``kind: ceiling``: the segmenter on the real photos (what a perfect receiver would score);
* ``kind: timing``: sampling seconds per image by DDIM step count (``--timing-steps``) on this machine.

``--reuse`` keeps the cells already in ``--out`` (same key: kind, scheme, channel, CBR, SNR, split, limit, seed,
steps, guidance, diffusion file) and runs only the others; each cell is a pure function of its seed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from semcom.data.camvid import CAMVID, load_camvid
from semcom.digital.chain import channel_use_budget
from semcom.errors import SemcomError
from semcom.experiments.evaluate import SchemeSpec, build_transmitter, run_cell
from semcom.schemes.gesco.evaluate import evaluate_cell, load_distribution_meter, score_images, segmenter_ceiling
from semcom.schemes.gesco.scheme import build_gesco, shipped_diffusion, shipped_map_model
from semcom.seeding import fast_cpu_math, make_generator
from semcom.training.checkpoint import PACKAGE_CHECKPOINTS
from semcom.units import cbr_text

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "camvid_gesco.jsonl"
SNRS = "-5,0,5,10,20"
CBRS = "1/64,1/32,1/16"


def numbers(text: str) -> list[float]:
    from fractions import Fraction

    return [float(Fraction(t.strip())) for t in text.split(",") if t.strip()]


def names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def learned_checkpoints(kind: str, given: str | None, cbrs: list[float]) -> dict[float, str] | None:
    """CBR -> checkpoint for a learned map model (given files matched by their config's CBR, else shipped), or None
    when some CBR has neither."""
    from semcom.training.checkpoint import read_checkpoint

    files = {}
    for path in names(given or ""):
        config = read_checkpoint(path)["model_config"]
        if config.get("name") != kind:
            raise SemcomError(f"{path} holds a {config.get('name')!r}, not a {kind}")
        files[float(config["cbr"])] = path
    out = {}
    for cbr in cbrs:
        path = next((p for c, p in files.items() if abs(c - cbr) < 1e-12), None) or shipped_map_model(kind, cbr)
        if path is None:
            return None
        out[cbr] = str(path)
    return out


def load_done(out: Path, reuse: bool) -> tuple[set, list[dict]]:
    """The keys of the cells already in ``out`` (with ``--reuse``) and those rows."""
    if not out.exists():
        return set(), []
    if not reuse:
        raise SemcomError(f"{out} exists: pass --reuse to keep its finished cells and run the rest, or remove it")
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("kind") != "config"]
    return {tuple(r["key"]) for r in rows if "key" in r}, rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="CamVid folder (default: ../shared/data/camvid)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=None, help="only the first N pairs of the split")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--reuse", action="store_true", help="keep the cells already in --out, run the rest")
    ap.add_argument("--transmitters", default="digital,analog,analog+denoiser,map-jscc,adaptive",
                    help="learned ones without a checkpoint for every CBR are skipped (and said so)")
    ap.add_argument("--map-jscc", default=None, help="map-jscc checkpoints, comma-separated (default: shipped)")
    ap.add_argument("--denoiser", default=None, help="map-denoiser checkpoints, comma-separated (default: shipped)")
    ap.add_argument("--channels", default="awgn,rayleigh")
    ap.add_argument("--snrs", default=SNRS)
    ap.add_argument("--cbrs", default=CBRS)
    ap.add_argument("--diffusion", default="auto", help="checkpoint | none | auto (the shipped one if any)")
    ap.add_argument("--segmenter", default="auto", help="checkpoint | none | auto (the shipped one if any)")
    ap.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the model's)")
    ap.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the model's)")
    ap.add_argument("--timing-steps", default="10,25,50", help="DDIM step counts timed on 3 maps (with a model)")
    ap.add_argument("--baselines", default="jscc,jscc-adjscc,digital-jpeg2000,digital-webp",
                    help="jscc (the shipped model per CBR), jscc-adjscc and/or digital-CODEC rows at the same budget")
    ap.add_argument("--fast", action="store_true", help="digital: outcomes from the BLER table (no LDPC decoding)")
    ap.add_argument("--maps-only", action="store_true", help="map recovery only: no diffusion, baselines, segmenter")
    ap.add_argument("--lpips", default=None, type=Path,
                    help="LPIPS for every image row: torchvision's AlexNet state dict (alexnet.pth; the LPIPS heads "
                         "are torchmetrics' bundled alex.pth); none by default (no weights ship offline)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--table", action="store_true", help="print the tables of the cells already in --out and exit")
    args = ap.parse_args(argv)
    if args.table:
        rows = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
        print(table(rows, sorted({r["snr_db"] for r in rows if "snr_db" in r and r.get("kind") in ("gesco", "baseline")})))
        return 0
    fast_cpu_math(threads=args.threads)
    try:
        return run(args)
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args) -> int:
    snrs, cbrs, channels = numbers(args.snrs), numbers(args.cbrs), names(args.channels)
    for name in [] if args.maps_only else names(args.baselines):
        baseline_spec(name, args.fast)  # an unknown name fails before any work
    diffusion = "none" if args.maps_only else args.diffusion
    if diffusion == "auto":
        diffusion = str(shipped_diffusion()) if shipped_diffusion() else "none"
    segmenter, segmenter_path = None, None
    if not args.maps_only and args.segmenter != "none":
        try:
            from semcom.segmentation.semantic import load_segmenter, shipped_segmenter
        except ImportError:
            load_segmenter = shipped_segmenter = None
        segmenter_path = (shipped_segmenter() if shipped_segmenter and args.segmenter == "auto" else
                          None if args.segmenter == "auto" else args.segmenter)
        if segmenter_path is not None:
            segmenter_path = str(segmenter_path)
            segmenter = load_segmenter(segmenter_path, CAMVID.num_classes, args.device)[0]
    meter_factory = None if args.maps_only else load_distribution_meter()
    lpips = None
    if args.lpips is not None and not args.maps_only:
        from semcom.metrics.lpips import LPIPS

        lpips = LPIPS(args.lpips)
    notes = []
    kinds = []
    learned = {"map-jscc": args.map_jscc, "adaptive": args.map_jscc, "analog+denoiser": args.denoiser}
    checkpoints: dict[str, dict] = {}
    for kind in names(args.transmitters):
        if kind in learned:
            model = "map-denoiser" if kind == "analog+denoiser" else "map-jscc"
            found = learned_checkpoints(model, learned[kind], cbrs)
            if found is None:
                option = "--denoiser" if kind == "analog+denoiser" else "--map-jscc"
                notes.append(f"{kind} skipped: no checkpoint for every CBR (give {option})")
                continue
            checkpoints[kind] = found
        kinds.append(kind)
    if diffusion == "none":
        notes.append("no diffusion model: map recovery only")
    if segmenter is None and not args.maps_only:
        notes.append("no segmenter: no segmenter mIoU")
    if meter_factory is None and not args.maps_only:
        notes.append("no semcom.metrics.distribution: no FID-/KID-EffNet")
    for n in notes:
        print(f"note: {n}", file=sys.stderr)

    pairs = load_camvid(args.split, args.data, limit=args.limit)
    h, w = pairs.labels.shape[-2:]
    done, kept = load_done(args.out, args.reuse)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    base = {"split": args.split, "limit": args.limit, "seed": args.seed, "images": len(pairs)}
    config = {"kind": "config", "command": " ".join(["python benchmarks/camvid_gesco.py", *sys.argv[1:]]),
              **base, "size": [h, w], "snr_db": snrs, "cbr": cbrs, "channels": channels, "transmitters": kinds,
              "diffusion": diffusion, "segmenter": segmenter_path, "steps": args.steps, "guidance": args.guidance,
              "notes": notes, "machine": platform.machine(), "torch": torch.__version__,
              "threads": torch.get_num_threads()}
    started = time.perf_counter()
    tmp = args.out.with_name(args.out.name + ".tmp")  # the kept cells are rewritten whole before any new work
    tmp.write_text("".join(json.dumps(row) + "\n" for row in [config, *kept]))
    tmp.replace(args.out)
    with open(args.out, "a") as f:

        def emit(row: dict) -> None:
            f.write(json.dumps(row, default=str) + "\n")
            f.flush()
            kept.append(row)

        if segmenter is not None:
            key = ["ceiling", segmenter_path, args.split, args.limit]
            if tuple(key) not in done:
                emit({"kind": "ceiling", "key": key, **base, **segmenter_ceiling(
                    segmenter, pairs.images, pairs.labels, CAMVID.num_classes, CAMVID.ignore_index)})
        diffusion_key = None if diffusion == "none" else str(Path(diffusion).resolve())
        for channel in channels:
            for cbr in cbrs:
                budget = channel_use_budget((3, h, w), cbr)
                for kind in kinds:
                    scheme = build_gesco(channel, cbr, kind, checkpoint=checkpoints.get(kind, {}).get(cbr),
                                         diffusion=diffusion, steps=args.steps, guidance=args.guidance,
                                         decode=not args.fast, device=args.device)
                    for snr in snrs:
                        key = ["gesco", kind, channel, cbr, snr, args.split, args.limit, args.seed, scheme.steps,
                               scheme.guidance, diffusion_key]
                        if tuple(key) in done:
                            continue
                        t = time.perf_counter()
                        _, cell = evaluate_cell(scheme, pairs.labels, snr, images=pairs.images,
                                                names=list(pairs.names), seed=args.seed, segmenter=segmenter,
                                                meter_factory=meter_factory, lpips=lpips)
                        emit({"kind": "gesco", "key": key, **base, **cell, "channel_use_budget": budget,
                              "checkpoint": checkpoints.get(kind, {}).get(cbr), "diffusion": diffusion_key,
                              "cell_seconds": time.perf_counter() - t})
                        print(f"gesco-{kind} {channel} CBR {cbr_text(cbr)} {snr:g} dB: map mIoU "
                              f"{cell['map_miou']:.3f}" + (f", seg mIoU {cell['seg_miou']:.3f}"
                                                           if cell.get("seg_miou") is not None else ""),
                              file=sys.stderr)
                if args.maps_only:
                    continue
                for name in names(args.baselines):
                    baseline_cells(name, channel, cbr, snrs, pairs, budget, base, args, segmenter, meter_factory,
                                   done, emit, lpips)
        if diffusion != "none":
            timing_rows(diffusion, pairs, args, done, emit, base)
    print(table(kept, snrs), file=sys.stdout)
    print(f"{len(kept)} rows in {args.out} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


def baseline_spec(name: str, fast: bool) -> tuple[SchemeSpec, str]:
    """(the image scheme, its row name) of a ``--baselines`` entry; SemcomError for an unknown one."""
    # the pixel JSCC at the budget with its side block inside it (fit_budget: on a 240x180 frame one LDPC side block
    # is 11-44 % of the budget at CBR 1/16-1/64, so counting it on top would hand the baseline that many more uses)
    # and on the short-codeword side link (a 16-bit scale then costs 60-120 uses, not 480-960), the cheapest real one
    # jscc-adjscc: the ADJSCC at every CBR, the pixel JSCC without a side payload (no MCS carries the hybrid's scale
    # below about -4 dB, and a lost scale loses its image)
    if name == "jscc":
        spec = SchemeSpec("jscc", side_link="ldpc-short", fit_budget=True)
    elif name == "jscc-adjscc":
        spec = SchemeSpec("jscc", checkpoint=str(PACKAGE_CHECKPOINTS / "adjscc.pt"))
    elif name.startswith("digital-"):
        spec = SchemeSpec("digital", name.split("-", 1)[1], decode=not fast)
    else:
        raise SemcomError(f"unknown baseline {name!r}: jscc, jscc-adjscc or digital-CODEC")
    label = "jscc-adjscc" if name == "jscc-adjscc" else spec.label
    return spec, label


def baseline_cells(name: str, channel: str, cbr: float, snrs, pairs, budget: int, base: dict, args, segmenter,
                   meter_factory, done: set, emit, lpips=None) -> None:
    """The core's pixel JSCC or digital image chain on the photos, scored like GESCO's generated images."""
    spec, label = baseline_spec(name, args.fast)
    sender = build_transmitter(spec, channel, cbr)
    images = [(n, x) for n, x in zip(pairs.names, pairs.images)]
    for snr in snrs:
        key = ["baseline", label, channel, cbr, snr, args.split, args.limit, args.seed]
        if tuple(key) in done:
            continue
        t = time.perf_counter()
        rows = run_cell(spec, channel, images, snr, cbr, args.seed, keep=True, transmitter=sender)
        x_hats = torch.stack([r["x_hat"] for r in rows]).clamp(0, 1)
        scores = score_images(x_hats, pairs.images, pairs.labels, CAMVID.num_classes, CAMVID.ignore_index,
                              segmenter, meter_factory, lpips)
        emit({"kind": "baseline", "key": key, **base, "scheme": label, "channel": channel, "cbr_target": cbr,
              "snr_db": snr, "channel_uses": sum(r["channel_uses"] for r in rows) / len(rows),
              "channel_use_budget": budget, "success_rate": sum(float(r["ok"]) for r in rows) / len(rows),
              "seconds": sum(r["seconds"] for r in rows) / len(rows), **scores,
              "cell_seconds": time.perf_counter() - t})


def timing_rows(diffusion: str, pairs, args, done: set, emit, base: dict) -> None:
    """Sampling seconds per image by DDIM step count (analog map at 10 dB, AWGN, CBR 1/32; the first 3 maps)."""
    for steps in (int(s) for s in names(args.timing_steps)):
        scheme = build_gesco("awgn", 1 / 32, "analog", diffusion=diffusion, steps=steps, guidance=args.guidance,
                             device=args.device)
        key = ["timing", steps, scheme.guidance, str(Path(diffusion).resolve()), args.device]
        if tuple(key) in done:
            continue
        seconds = [scheme.transmit(pairs.labels[i], 10.0, make_generator(i)).details["sampling_seconds"]
                   for i in range(min(3, len(pairs)))]
        emit({"kind": "timing", "key": key, **base, "steps": steps, "guidance": scheme.guidance,
              "device": args.device, "threads": torch.get_num_threads(),
              "sampling_seconds": sum(seconds) / len(seconds)})


def table(rows: list[dict], snrs: list[float]) -> str:
    """Map mIoU (GESCO) and segmenter mIoU (generated images and baselines) per (channel, CBR) and SNR."""
    cells = [r for r in rows if r.get("kind") in ("gesco", "baseline")]
    lines = []
    for channel, cbr in sorted({(r["channel"], r["cbr_target"]) for r in cells}, key=lambda k: (k[0], k[1])):
        part = [r for r in cells if r["channel"] == channel and r["cbr_target"] == cbr]
        lines += [f"\n{channel}, CBR {cbr_text(cbr)}: map mIoU / segmenter mIoU on the received image / PSNR dB",
                  "| scheme | " + " | ".join(f"{s:g} dB" for s in snrs) + " |", "|---" * (len(snrs) + 1) + "|"]
        for scheme in dict.fromkeys(r["scheme"] for r in part):
            got = {r["snr_db"]: r for r in part if r["scheme"] == scheme}

            def cell(r):
                if r is None:
                    return "-"
                parts = [f"{r[k]:.3f}" if r.get(k) is not None else "-" for k in ("map_miou", "seg_miou")]
                return " / ".join(parts) + (f" / {r['psnr_db']:.1f}" if r.get("psnr_db") is not None else "")

            lines.append(f"| {scheme} | " + " | ".join(cell(got.get(s)) for s in snrs) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
