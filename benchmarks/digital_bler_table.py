"""Measure the block error rate of every MCS on awgn and rayleigh; write the shipped BLER table.

    python benchmarks/digital_bler_table.py [--codewords 100] [--seed 0] [--out PATH] [--n 1920|240]
                                            [--channels awgn rayleigh] [--mcs qpsk-1/2 ...]

Per (channel, MCS) the SNR grid (step 0.5 dB) starts at the Shannon limit of the MCS's spectral
efficiency (AWGN capacity, or Rayleigh ergodic capacity) plus a typical gap (START_GAP_DB), rounded
down to the grid, steps down until every codeword fails, then up from the start until two
consecutive points have no failure. A point first
sends ``--probe`` codewords and stops there if all of them fail (BLER 1 below the waterfall);
otherwise it sends ``--codewords`` in total. Every codeword goes through DigitalLink.send exactly
as in DigitalChain(decode=True). Runs on one thread; prints a summary with the SNR where BLER < 0.1.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch
from scipy.optimize import brentq

from semcom.channels import build_channel
from semcom.digital.capacity import DIGITAL_CHANNELS, capacity_bits_per_use
from semcom.digital.link import CODEWORD_BITS, NUM_ITER
from semcom.digital.mcs import MCS_BY_LENGTH, MCS_TABLE, TABLES, BlerCurve, BlerTable, MCS, get_mcs
from semcom.seeding import make_generator
from semcom.units import SNR_DB_MAX

STEP_DB = 0.5
START_GAP_DB = {"awgn": 1.0, "rayleigh": 2.0}
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/semcom/digital/tables/bler.json"


def shannon_limit_db(mcs: MCS, channel: str) -> float:
    """SNR at which the channel capacity equals the MCS's spectral efficiency."""
    return brentq(lambda s: capacity_bits_per_use(s, channel) - mcs.spectral_efficiency, -19.9, SNR_DB_MAX)


def measure_point(mcs: MCS, channel: str, snr_db: float, codewords: int, probe: int, generator: torch.Generator):
    """Send codewords at one SNR; returns (sent, failed)."""
    link, medium = mcs.link(), build_channel(channel)
    sent = failed = 0
    while sent < codewords:
        batch = probe if sent == 0 else codewords - sent
        bits = torch.randint(0, 2, (batch, mcs.k), generator=generator).float()
        _, ok = link.send(bits, medium, snr_db, generator)
        sent, failed = sent + batch, failed + int((~ok).sum())
        if failed == sent:  # the whole probe failed: below the waterfall
            break
    return sent, failed


def measure_curve(mcs: MCS, channel: str, codewords: int, probe: int, generator: torch.Generator) -> BlerCurve:
    points: dict[float, tuple[int, int]] = {}

    def run(snr: float) -> tuple[int, int]:
        points[snr] = measure_point(mcs, channel, snr, codewords, probe, generator)
        return points[snr]

    start = STEP_DB * ((shannon_limit_db(mcs, channel) + START_GAP_DB[channel]) // STEP_DB)
    snr = start
    while (p := run(snr))[1] < p[0] and snr - STEP_DB >= -20.0:
        snr -= STEP_DB
    snr, zeros = start, int(points[start][1] == 0)
    while zeros < 2 and snr + STEP_DB <= SNR_DB_MAX:
        snr += STEP_DB
        zeros = zeros + 1 if run(snr)[1] == 0 else 0
    grid = sorted(points)
    return BlerCurve(tuple(grid), tuple(points[s][0] for s in grid), tuple(points[s][1] for s in grid))


def main(argv: list[str] | None = None) -> BlerTable:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codewords", type=int, default=100, help="codewords per SNR point (waterfall and above)")
    parser.add_argument("--probe", type=int, default=25, help="codewords first sent per point; stop if all fail")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--channels", nargs="+", default=list(DIGITAL_CHANNELS), choices=DIGITAL_CHANNELS)
    parser.add_argument("--mcs", nargs="+", default=None, help="MCS names (default: the whole ladder for --n)")
    parser.add_argument("--n", type=int, default=CODEWORD_BITS, choices=sorted(MCS_BY_LENGTH),
                        help="codeword length in code bits (240: the short family, tables/bler-n240.json)")
    parser.add_argument("--out", type=Path, default=None, help="default: the shipped table for --n")
    args = parser.parse_args(argv)
    args.out = args.out or DEFAULT_OUT.parent / Path(TABLES[args.n]).name
    args.mcs = args.mcs or [m.name for m in MCS_BY_LENGTH[args.n]]
    torch.set_num_threads(1)
    import sionna

    mcs_list = [get_mcs(name) for name in args.mcs]
    began = time.perf_counter()
    curves: dict[str, dict[str, BlerCurve]] = {}
    for ci, channel in enumerate(args.channels):
        curves[channel] = {}
        for mi, mcs in enumerate(mcs_list):
            t0 = time.perf_counter()
            generator = make_generator(args.seed + 1000 * ci + mi)
            curve = measure_curve(mcs, channel, args.codewords, args.probe, generator)
            if mcs.n != args.n:
                raise SystemExit(f"{mcs.name} has {mcs.n}-bit codewords, not --n {args.n}")
            curves[channel][mcs.rate_name] = curve
            print(
                f"{channel:8s} {mcs.name:11s} {len(curve.snr_db):2d} points "
                f"{curve.snr_db[0]:5.1f}..{curve.snr_db[-1]:5.1f} dB "
                f"{sum(curve.codewords):5d} cw  {time.perf_counter() - t0:6.1f} s",
                flush=True,
            )
    runtime = time.perf_counter() - began
    config = {
        "n": args.n, "num_iter": NUM_ITER, "codewords_per_point": args.codewords,
        "probe_codewords": args.probe, "probe_rule": "a point stops after probe_codewords if all of them failed",
        "seed": args.seed, "snr_step_db": STEP_DB, "start_gap_db": START_GAP_DB,
        "code": "5G NR LDPC (Sionna LDPC5GEncoder, 5G bit interleaver)",
        "decoder": "LDPC5GDecoder, flooding boxplus-phi, hard_out", "demapper": "app", "modulation": "Gray QAM (Sionna)",
        "rayleigh": "fast fading, perfect-CSI ZF, per-symbol noise variance to the demapper",
        "sionna_version": sionna.__version__, "torch_version": torch.__version__, "python": platform.python_version(),
        "threads": 1, "runtime_s": round(runtime, 1),
    }
    table = BlerTable(config, curves)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_json(args.out)
    print(f"\nwrote {args.out} in {runtime:.0f} s\n\nSNR (dB) where BLER < 0.1:")
    print(f"{'MCS':11s} {'bit/use':>7s} " + " ".join(f"{c:>9s}" for c in args.channels))
    for mcs in mcs_list:
        cells = []
        for channel in args.channels:
            snr = curves[channel][mcs.rate_name].min_snr_db(0.1)
            cells.append(f"{snr:9.1f}" if snr is not None else f"{'-':>9s}")
        print(f"{mcs.name:15s} {mcs.spectral_efficiency:7.2f} " + " ".join(cells))
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
