"""Where each shipped single-SNR JSCC specialist beats the general model: the SNR intervals of
``semcom.jscc.transmitter.SPECIALISTS_BY_CBR`` (issue #21, "ship specialists and pick by SNR").

    python benchmarks/jscc_pick.py [--cbr 1/16] [--channel awgn|rayleigh] [--snrs -6:16] [--out ...jscc_pick.jsonl]
    python benchmarks/jscc_pick.py --intervals      # the intervals from the saved rows only

Decided on held-out TRAINING photos only (the last 4 of ../shared/data/photos-train by name, never trained on by
the shipped models; Kodak is never used here): every shipped checkpoint for the CBR (the general model of
``SHIPPED_BY_CBR``, each specialist file of ``SPECIALISTS_BY_CBR`` and ``SPECIALISTS_BY_CHANNEL``, and the
rate-adaptive ADJSCC as the low-SNR fallback; or ``--candidates``) sends each photo over ``--channel`` (AWGN, or
fast Rayleigh with zero-forcing) at every integer SNR of ``--snrs`` (the same noise seed per photo for every model),
mean PSNR per (model, SNR). One JSON row per (cbr, channel, model, SNR) replaces that CBR and channel's earlier rows
in ``--out``.

A specialist's interval is the run of consecutive grid SNRs around the SNR it was trained at (the low-SNR
fallback: the grid's lowest SNR) where its mean PSNR is the best of all candidates (at least the general model's and
every other one's), as [first, last + step) in dB
(open below or above where the run reaches the grid's end); ``tests/jscc/test_specialists.py`` checks that the
shipped table is exactly what the committed rows give.
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
OUT = REPO / "benchmarks/results/jscc_pick.jsonl"


def intervals(rows: list[dict], channel: str = "awgn") -> dict[float, list[tuple[float, float, str]]]:
    """cbr -> [(lo, hi, specialist file)] from the rows of this script measured on ``channel`` (rows without a
    channel are AWGN's; see the module docstring)."""
    out: dict[float, list[tuple[float, float, str]]] = {}
    rows = [r for r in rows if r.get("channel", "awgn") == channel]
    for cbr in sorted({r["cbr"] for r in rows}):
        mine = [r for r in rows if r["cbr"] == cbr]
        general = {r["snr_db"]: r["psnr_db"] for r in mine if r["role"] == "general"}
        snrs = sorted(general)
        step = snrs[1] - snrs[0] if len(snrs) > 1 else 1.0
        for name in dict.fromkeys(r["checkpoint"] for r in mine if r["role"] in ("specialist", "low-snr")):
            spec = {r["snr_db"]: r for r in mine if r["checkpoint"] == name}
            first = next(iter(spec.values()))
            # where it is the best of all the candidates measured (the general model and every other one)
            best_other = {s: max([general[s]] + [r["psnr_db"] for r in mine if r["snr_db"] == s
                                                 and r["role"] != "general" and r["checkpoint"] != name])
                          for s in snrs}
            wins = [s for s in snrs if s in spec and spec[s]["psnr_db"] >= best_other[s]]
            # a single-SNR specialist is anchored where it was trained, the low-SNR fallback at the grid's bottom
            trained = snrs[0] if first["role"] == "low-snr" else first["trained_snr_db"]
            centre = min(snrs, key=lambda s: abs(s - trained))
            if centre not in wins:
                continue  # never better than the general model where it was trained: not shipped as a specialist
            lo = hi = snrs.index(centre)
            while lo > 0 and snrs[lo - 1] in wins:
                lo -= 1
            while hi < len(snrs) - 1 and snrs[hi + 1] in wins:
                hi += 1
            upper = snrs[hi] + step if hi < len(snrs) - 1 else float("inf")  # past the grid: still the best measured
            lower = snrs[lo] if lo > 0 else float("-inf")
            out.setdefault(cbr, []).append((lower, upper, name))
    return out


def measure(cbr: float, candidates: list[tuple[str, Path]], snrs: list[float], channel: str = "awgn") -> list[dict]:
    from semcom.channels import build_channel
    from semcom.data import split_train_val
    from semcom.data.images import load_image
    from semcom.jscc.transmitter import JSCCTransmitter
    from semcom.metrics import psnr_db

    _, val_paths = split_train_val(DATA / "photos-train", 4)
    photos = [load_image(p) for p in val_paths]
    rows = []
    for role, path in candidates:
        scheme = JSCCTransmitter.from_checkpoint(build_channel(channel), path, cbr)
        train = scheme.meta.get("train_config") or {}
        lo, hi = (train.get("snr_range") or [None, None])[:2]
        for snr in snrs:
            psnrs = [psnr_db(x[None], scheme.transmit(x, snr, torch.Generator().manual_seed(500 + i)).x_hat[None]).item()
                     for i, x in enumerate(photos)]
            rows.append({"cbr": cbr, "channel": channel, "role": role, "checkpoint": path.name, "snr_db": snr,
                         "psnr_db": round(sum(psnrs) / len(psnrs), 3), "images": len(photos),
                         "trained_snr_db": lo if lo == hi else None, "set": "photos-train held-out (4)"})
            print(f"{path.name:28s} {snr:5.1f} dB  {rows[-1]['psnr_db']:.2f}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cbr", default="1/16")
    parser.add_argument("--snrs", default="-2:20", help="integer SNR grid first:last in dB")
    parser.add_argument("--channel", default="awgn", choices=("awgn", "rayleigh"))
    parser.add_argument("--candidates", default="", help="general.pt,specialist.pt,... (default: the shipped ones, "
                                                         "and the ADJSCC as the low-SNR fallback)")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--intervals", action="store_true", help="print the intervals of the saved rows only")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if not args.intervals:
        from semcom.jscc.transmitter import (
            DEFAULT_CHECKPOINT,
            SPECIALISTS_BY_CBR,
            SPECIALISTS_BY_CHANNEL,
            default_checkpoint,
            entries_for_cbr,
        )
        from semcom.seeding import fast_cpu_math
        from semcom.training.checkpoint import PACKAGE_CHECKPOINTS

        cbr = float(Fraction(args.cbr))
        if args.candidates:
            paths = [Path(p) for p in args.candidates.split(",")]
            candidates = [("general", paths[0])] + [("specialist", p) for p in paths[1:]]
        else:
            general = default_checkpoint(cbr)
            names = [name for table in (SPECIALISTS_BY_CBR, *SPECIALISTS_BY_CHANNEL.values())
                     for _, _, name in entries_for_cbr(table, cbr)]
            candidates = [("general", general)] + [
                ("low-snr" if name == DEFAULT_CHECKPOINT.name else "specialist", PACKAGE_CHECKPOINTS / name)
                for name in dict.fromkeys(names) if name != general.name]
            if general != DEFAULT_CHECKPOINT and DEFAULT_CHECKPOINT.name not in names:
                candidates.append(("low-snr", DEFAULT_CHECKPOINT))
        first, last = (int(v) for v in args.snrs.split(":"))
        fast_cpu_math(2)
        rows = measure(cbr, candidates, [float(s) for s in range(first, last + 1)], args.channel)
        kept = [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.is_file() else []
        kept = [r for r in kept if abs(r["cbr"] - cbr) > 1e-9 or r.get("channel", "awgn") != args.channel]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r) + "\n" for r in kept + rows))
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    for channel in dict.fromkeys(r.get("channel", "awgn") for r in rows):
        for cbr, found in intervals(rows, channel).items():
            for lo, hi, name in found:
                print(f"{channel}, CBR {Fraction(cbr).limit_denominator(1000)}: {name} from {lo:g} dB up to {hi:g} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
