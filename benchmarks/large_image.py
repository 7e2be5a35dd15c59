"""Large inputs (issue 19, item 8): time and peak memory of ``semcom transmit`` on a 4000x3000 photo, and the
tiled JSCC's PSNR against the whole-image (untiled) one on large images built from Kodak.

The 4000x3000 image is a Kodak photo (kodim23) upsampled with Lanczos; every transmit runs in a fresh process so
its peak resident memory (``ru_maxrss`` of the child) is its own. LAM-SC, which refuses images over its pixel limit,
is also run on the size its error message suggests. The PSNR comparison sends six 1536x1024 mosaics of four Kodak
images each (kodim01-04, 05-08, ...) whole and in tiles of 1024 and 512 pixels at AWGN 1/7/13 dB, CBR 1/16, same
noise seeds. Writes benchmarks/results/large_image.json (under ``--label``).

    .venv/bin/python benchmarks/large_image.py [--schemes jscc,lamsc] [--label after] [--skip-psnr]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "kodak"
RESULTS = ROOT / "benchmarks" / "results" / "large_image.json"


def build_image(folder: Path, size=(4000, 3000), source="kodim23.png") -> Path:
    from PIL import Image

    path = folder / f"large-{size[0]}x{size[1]}.png"
    if not path.exists():
        with Image.open(KODAK / source) as img:
            img.convert("RGB").resize(size, Image.LANCZOS).save(path)
    return path


def run_transmit(image: Path, scheme: str, out_path: Path, extra: list[str]) -> dict:
    """One ``semcom transmit`` in a child process: wall seconds, peak RSS (MiB) and its JSON row."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "semcom"), "transmit", str(image), "--scheme",
                                 scheme, "--snr", "7", "--out", str(out_path), "--json", *extra],
                                stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak resident memory
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0), err.seek(0)
        proc.stdout, proc.stderr = out.read(), err.read()
    peak = usage.ru_maxrss
    row = json.loads(proc.stdout) if proc.returncode == 0 else {"error": proc.stderr.strip().splitlines()[-1:]}
    return {"scheme": scheme, "seconds": round(seconds, 1), "peak_rss_mib": round(peak / 1024),
            "returncode": proc.returncode,
            **{k: row.get(k) for k in ("channel_uses", "psnr_db", "ms_ssim", "error") if k in row}}


def mosaics() -> list[tuple[str, "torch.Tensor"]]:
    import torch

    from semcom.data import load_image

    names = sorted(p.name for p in KODAK.glob("kodim*.png"))
    out = []
    for start in range(0, 24, 4):
        quad = []
        for name in names[start:start + 4]:
            x = load_image(KODAK / name)
            quad.append(x if x.shape[1] < x.shape[2] else x.transpose(1, 2))  # portrait photos turned: 512x768
        out.append((f"kodim{start + 1:02d}-{start + 4:02d}",
                    torch.cat([torch.cat(quad[:2], dim=2), torch.cat(quad[2:], dim=2)], dim=1)))
    return out


def tiled_vs_whole(snrs=(1.0, 7.0, 13.0)) -> dict:
    """Mean PSNR (dB) and channel uses of the shipped JSCC over the mosaics, whole and tiled."""
    from statistics import mean

    from semcom.channels import AWGN
    from semcom.jscc.transmitter import JSCCTransmitter, shared_jscc
    from semcom.metrics import psnr_db
    from semcom.seeding import make_generator, noise_seed

    model, _ = shared_jscc()
    images = mosaics()
    out = {"images": [name for name, _ in images], "size": list(images[0][1].shape[1:]), "snr_db": list(snrs)}
    for label, tile in (("whole", None), ("tile1024", 1024), ("tile512", 512)):
        scheme = JSCCTransmitter(model, AWGN(), 1 / 16, tile=tile)
        psnrs, uses = [], set()
        for snr in snrs:
            values = []
            for index, (_, x) in enumerate(images):
                tx = scheme.transmit(x, snr, make_generator(noise_seed(0, index, snr, 1 / 16)))
                values.append(psnr_db(x, tx.x_hat).item())
                uses.add(tx.channel_uses)
            psnrs.append(round(mean(values), 3))
        out[label] = {"psnr_db": psnrs, "channel_uses": sorted(uses)}
        print(label, out[label], flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemes", default="jscc,lamsc")
    parser.add_argument("--label", default="after")
    parser.add_argument("--work", default="/tmp/semcom-large")
    parser.add_argument("--skip-psnr", action="store_true", help="only the 4000x3000 transmits")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    image = build_image(work)
    rows = []
    for scheme in args.schemes.split(","):
        row = run_transmit(image, scheme, work / f"rx-{scheme}.png", [])
        print(json.dumps(row), flush=True)
        rows.append({"size": "4000x3000", **row})
        if "resize it to" in " ".join(row.get("error") or []):  # refused: run it at the size the message names
            size = tuple(int(v) for v in " ".join(row["error"]).split("resize it to ")[1].split(" ")[0].split("x"))
            row = run_transmit(build_image(work, size), scheme, work / f"rx-{scheme}-small.png", [])
            print(json.dumps(row), flush=True)
            rows.append({"size": f"{size[0]}x{size[1]}", **row})
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[args.label] = {"image": "kodim23 upsampled to 4000x3000 (Lanczos)", "snr_db": 7, "rows": rows,
                           "command": " ".join(["benchmarks/large_image.py", *(argv or sys.argv[1:])])}
    if not args.skip_psnr:
        results[args.label]["tiled_vs_whole"] = tiled_vs_whole()
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
