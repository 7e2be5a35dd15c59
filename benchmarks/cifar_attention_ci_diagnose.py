"""Why collaborative inference saves what it saves (issue #5): gate bound and attention informativeness.

    python benchmarks/cifar_attention_ci_diagnose.py [--limit 2000] [--client PATH --server PATH]
                                                     [--out benchmarks/results/cifar_attention_ci_diagnose.json]

1. Gate bound: accuracy when each gate offloads a share of the images with *all* their patches (the best any
   patch policy can do at that offload rate), next to the server alone.
2. Attention informativeness: server accuracy from the k patches the client attends to most, from the k it
   attends to least, and from k random ones, for CLS attention and rollout (and the server's own attention,
   as a reference), k in {16, 32, 48}. Attention that picks the patches that matter puts "top" well above
   "random" and "bottom".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from semcom.data.cifar import cifar10_test
from semcom.schemes.attention_ci import OwnViTAdapter
from semcom.schemes.attention_ci.collab import client_pass, masks_for, server_logits, to_uint8
from semcom.schemes.attention_ci.gates import GATES, uncertainty
from semcom.schemes.attention_ci.train import load_vit, shipped_vit
from semcom.seeding import fast_cpu_math

REPO = Path(__file__).resolve().parents[1]
RATES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
KS = (16, 32, 48)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return 100 * (logits.argmax(1) == labels).float().mean().item()


def gate_bound(client_logits, server_logits_, labels) -> dict:
    """{gate: {rate: accuracy}} when the ``rate`` most uncertain images go to the server with all patches."""
    client_ok, server_ok = client_logits.argmax(1) == labels, server_logits_.argmax(1) == labels
    out = {}
    for gate in GATES:
        order = uncertainty(client_logits, gate).argsort(descending=True)
        out[gate] = {}
        for rate in RATES:
            sent = torch.zeros(len(labels), dtype=torch.bool)
            sent[order[: round(rate * len(labels))]] = True
            out[gate][rate] = 100 * torch.where(sent, server_ok, client_ok).float().mean().item()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", default=None)
    parser.add_argument("--server", default=None)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "cifar_attention_ci_diagnose.json"))
    args = parser.parse_args(argv)
    fast_cpu_math(args.threads)
    client = OwnViTAdapter(load_vit(args.client or shipped_vit("client"))[0])
    server = OwnViTAdapter(load_vit(args.server or shipped_vit("server"))[0])
    images, labels = cifar10_test(limit=args.limit)
    images = to_uint8(images)
    cp, sp = client_pass(client, images), client_pass(server, images)
    result = {"client": accuracy(cp.logits, labels), "server": accuracy(sp.logits, labels),
              "gate_bound": gate_bound(cp.logits, sp.logits, labels), "subsets": {}}
    print(f"client {result['client']:.2f} %, server {result['server']:.2f} % ({len(labels)} images)")
    print("\ngate bound (offloaded images send every patch): accuracy % by offload rate")
    print("| gate | " + " | ".join(f"{r:g}" for r in RATES) + " |")
    for gate, row in result["gate_bound"].items():
        print(f"| {gate} | " + " | ".join(f"{a:.2f}" for a in row.values()) + " |")
    gen = torch.Generator().manual_seed(args.seed)
    print("\nserver accuracy % from k patches: top / bottom by each score, and random")
    for k in KS:
        cells = {"random": accuracy(server_logits(server, images, masks_for(cp.scores["cls"], "random", gen, k=k)), labels)}
        for who, scores in (("client", cp.scores), ("server", sp.scores)):
            for name, s in scores.items():
                cells[f"{who}-{name}-top"] = accuracy(server_logits(server, images, masks_for(s, "topk", k=k)), labels)
                flipped = s.max() - s  # lowest scores first
                cells[f"{who}-{name}-bottom"] = accuracy(server_logits(server, images, masks_for(flipped, "topk", k=k)), labels)
        result["subsets"][k] = cells
        print(f"k={k}: " + ", ".join(f"{name} {a:.1f}" for name, a in cells.items()))
    shown = lambda p: str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p)  # noqa: E731
    config = {"command": "python benchmarks/cifar_attention_ci_diagnose.py " + " ".join(argv or sys.argv[1:]),
              "images": len(labels), "seed": args.seed, "client": args.client or shown(shipped_vit("client")),
              "server": args.server or shown(shipped_vit("server")), "torch": torch.__version__}
    Path(args.out).write_text(json.dumps({"config": config, **result}, indent=1))
    print(f"\nwritten {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
