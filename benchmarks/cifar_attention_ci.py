"""Attention-aware collaborative inference on CIFAR-10 (issue #5): Pareto sweep, then real channels.

    python benchmarks/cifar_attention_ci.py [--limit N] [--client PATH --server PATH]
                                            [--out benchmarks/results/cifar_attention_ci.json]

1. Ideal link: client alone, server alone (every full image offloaded) and the sweep over policies x
   gates x offload rates (``sweep.DEFAULT_SELECTIONS``, scored by the client's CLS attention and again by its
   attention rollout); cost = request bits (zlib'd pixels +
   indices) relative to offloading every full image; the Pareto front and its plot (``--plot``).
2. The cheapest front point within 1 point of the server's accuracy, and the cheapest within 2, run again
   at SNR {0, 5, 10} dB over AWGN through (a) the digital link (request bytes as one transport block,
   5G LDPC + QAM at the cheapest MCS reliable at that SNR; outcome drawn from the measured BLER table),
   and (b) the analog link (the shipped learned patch JSCC; the server classifies the noisy patches it
   received), its patch-index mask as one 5G LDPC + QAM side block at the cheapest MCS predicted to decode with
   probability >= 0.99 (``semcom.digital.side``; outcome drawn from the BLER table; a lost mask loses the request),
   and (c) the same analog link with the mask counted at an ideal 1 bit per channel use (``analog-ideal-side``, the
   count before issue 20). A lost request falls back to the client's answer. Costs in absolute channel uses per
   image (over all images and per offloaded image) and relative to sending every full image over the same link
   (each link by its own full-offload cost: compare links by the absolute figures).
   ``--channels-only`` re-runs only this step, keeping steps 1, 3 and 4 from ``--out``.
3. The same two points with their gate threshold fixed beforehand: eta = the same offload-rate quantile of the
   client's uncertainty on the 1000 CIFAR-10 training images the ViTs held out (the last 1000), applied to the
   test set (the sweep's eta are test-set quantiles, i.e. the operating points are chosen on the test set).
4. Latency per image of the client and of the server (all patches), batch 1, 1 thread.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from semcom.data.cifar import cifar10_test, cifar10_train
from semcom.experiments.results import portable_path
from semcom.schemes.attention_ci import OwnViTAdapter, uncertainty
from semcom.schemes.attention_ci.collab import RequestLink, client_pass, run
from semcom.schemes.attention_ci.patch_jscc import AnalogPatchLink, load_patch_jscc, shipped_patch_jscc
from semcom.schemes.attention_ci.policies import POLICY_PARAM
from semcom.schemes.attention_ci.sweep import DEFAULT_SELECTIONS, pareto_front, plot_pareto, sweep, thresholds
from semcom.schemes.attention_ci.train import load_vit, shipped_vit
from semcom.seeding import fast_cpu_math, make_generator

REPO = Path(__file__).resolve().parents[1]
SNRS = [0.0, 5.0, 10.0]


def cheapest_within(front: list[dict], server_acc: float, points: float) -> dict | None:
    ok = [r for r in front if r["accuracy"] >= server_acc - points]
    return min(ok, key=lambda r: r["relative_bits"]) if ok else None


@torch.no_grad()
def latency(adapter, x: torch.Tensor, repeats: int = 50) -> float:
    """Median milliseconds for one image (all patches), after warm-up."""
    times = []
    for i in range(repeats + 5):
        t0 = time.perf_counter()
        adapter.logits_and_attentions(x[i % len(x)][None])
        if i >= 5:
            times.append(1000 * (time.perf_counter() - t0))
    return sorted(times)[len(times) // 2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", default=None)
    parser.add_argument("--server", default=None)
    parser.add_argument("--data", default=None, help="folder holding cifar10_test_jpg (default: shared data)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "cifar_attention_ci.json"))
    parser.add_argument("--plot", default=str(REPO / "benchmarks" / "results" / "cifar_attention_ci_pareto.png"))
    parser.add_argument("--channels-only", action="store_true",
                        help="re-run only the channel step; the ideal-link sweep, the chosen points, the held-out eta "
                             "and the latency are kept from --out (same images and seed)")
    args = parser.parse_args(argv)
    fast_cpu_math(args.threads)
    started = time.time()
    client = OwnViTAdapter(load_vit(args.client or shipped_vit("client"))[0])
    server = OwnViTAdapter(load_vit(args.server or shipped_vit("server"))[0])
    images, labels = cifar10_test(args.data, limit=args.limit)

    kept = json.loads(Path(args.out).read_text()) if args.channels_only else None
    if kept is not None:
        if kept["config"]["images"] != len(images) or kept["config"]["seed"] != args.seed:
            parser.error(f"{args.out} holds another image set or seed: run it in full")
        rows, front, chosen = kept["rows"], kept["front"], kept["chosen"]
    else:
        rows = sweep(client, server, images, labels, seed=args.seed)  # CLS attention (and random)
        attended = [sel for sel in DEFAULT_SELECTIONS if sel[0] != "random"]  # random ignores the scores
        rows += sweep(client, server, images, labels, selections=attended, score="rollout", seed=args.seed)[2:]
        front = pareto_front(rows)
        client_row, server_row = rows[0], rows[1]
        print(f"client alone {client_row['accuracy']:.2f} %, server alone {server_row['accuracy']:.2f} % "
              f"({server_row['bits_per_image']:.0f} bits per full image)")
        print("\nPareto front, ideal link")
        print("| policy | parameter | score | gate | offloaded | patches | accuracy % | x full-image bits | seed cost |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in front:
            p = POLICY_PARAM[r["policy"]]
            print(f"| {r['policy']} | {p}={r[p]:g} | {r['score']} | {r['gate']} | {r['offload_rate']:.2f} | {r['patch_fraction']:.2f} | "
                  f"{r['accuracy']:.2f} | {r['relative_bits']:.3f} | {r['seed_cost']:.3f} |")
        chosen = {}
        for points in (1.0, 2.0):
            best = cheapest_within(front, server_row["accuracy"], points)
            if best is not None:
                chosen[f"within {points:g} point(s) of the server"] = best
        for label, r in chosen.items():
            print(f"\ncheapest {label}: {r['policy']} {POLICY_PARAM[r['policy']]}={r[POLICY_PARAM[r['policy']]]:g} ({r['score']}), {r['gate']} "
                  f"eta={r['eta']:.4g}: accuracy {r['accuracy']:.2f} %, cost {r['relative_bits']:.3f} of full offloading "
                  f"({100 * (1 - r['relative_bits']):.1f} % lower)")
        plot_pareto(rows, Path(args.plot))

    analog_model = load_patch_jscc(shipped_patch_jscc())
    channel_rows = []
    for label, r in chosen.items():
        p = POLICY_PARAM[r["policy"]]
        for snr in SNRS:
            for link in (RequestLink("digital", "awgn", snr), AnalogPatchLink(analog_model, "awgn", snr),
                         AnalogPatchLink(analog_model, "awgn", snr, side_link="ideal")):
                out = run(client, server, images, labels, r["policy"], {p: r[p]}, r["gate"], r["eta"], r["score"],
                          link=link, generator=make_generator(args.seed))
                out.pop("predictions")
                channel_rows.append({"operating_point": label, "policy": r["policy"], p: r[p], "score": r["score"],
                                     "gate": r["gate"],
                                     "eta": r["eta"], "link": link.link, "snr_db": snr, **out})
                print(f"{label:34s} {link.link:18s} {snr:4g} dB: accuracy {out['accuracy']:.2f} %, "
                      f"{out['channel_uses_per_image']:.1f} channel uses/image "
                      f"({out['channel_uses_per_offloaded_image']:.0f} per offloaded image) "
                      f"({out['relative_channel_uses']:.3f} of full offloading), delivered {out['delivered_rate']:.3f}")
    held_out = kept["held_out_eta"] if kept is not None else held_out_eta(client, server, images, labels, chosen, args)
    torch.set_num_threads(1)
    x = images[:64].float() / 255
    timing = kept["latency"] if kept is not None else {"client_ms": latency(client, x), "server_ms": latency(server, x)}
    print(f"\nlatency per image (1 thread): client {timing['client_ms']:.2f} ms, server {timing['server_ms']:.2f} ms")
    config = {"command": "python benchmarks/cifar_attention_ci.py " + " ".join(argv or sys.argv[1:]),
              "images": len(images), "snr_db": SNRS, "seed": args.seed, "threads": args.threads,
              "client": portable_path(args.client or shipped_vit("client"), REPO),
              "server": portable_path(args.server or shipped_vit("server"), REPO),
              "torch": torch.__version__, "machine": platform.machine(), "wall_seconds": time.time() - started,
              "channel_side_link": "analog: ldpc (BLER-table outcome, TARGET_SUCCESS) and ideal (1 bit per use)"}
    if kept is not None:
        config["sweep_kept_from"] = kept["config"].get("sweep_kept_from", kept["config"]["command"])
        config["latency_kept_from"] = kept["config"].get("latency_kept_from", kept["config"]["command"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"config": config, "references": rows[:2], "front": front,
                                         "chosen": chosen, "held_out_eta": held_out, "channels": channel_rows,
                                         "latency": timing,
                                         "rows": rows}, indent=1, default=str))
    print(f"\nwritten {args.out}")
    return 0


def held_out_eta(client, server, images, labels, chosen: dict, args) -> dict:
    """Each chosen point with eta fixed on the ViTs' 1000 held-out training images (same offload-rate quantile),
    evaluated on the test images over the ideal link."""
    train_images, _ = cifar10_train(args.data)
    val = train_images[-1000:]
    val_logits = client_pass(client, val).logits
    out = {}
    for label, r in chosen.items():
        p = POLICY_PARAM[r["policy"]]
        eta = thresholds(uncertainty(val_logits, r["gate"]), [r["target_offload_rate"]])[0]
        res = run(client, server, images, labels, r["policy"], {p: r[p]}, r["gate"], eta, r["score"],
                  generator=make_generator(args.seed))
        res.pop("predictions")
        out[label] = {"eta": eta, **res}
        print(f"{label}, eta fixed on held-out training images ({eta:.4g}): accuracy {res['accuracy']:.2f} %, "
              f"offloaded {res['offload_rate']:.3f}, cost {res['relative_bits']:.3f} "
              f"({100 * (1 - res['relative_bits']):.1f} % lower)")
    return out


if __name__ == "__main__":
    sys.exit(main())
