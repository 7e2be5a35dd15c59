"""The accuracy-vs-cost sweep: policies x gates x thresholds, the Pareto front and its plot.

The client runs once; each selection (policy + parameters + score) costs one server pass over the
images and one request encoding per image; every gate and threshold is then a cheap recombination.
Thresholds are chosen per gate as quantiles of the client's uncertainty so that the offload rate
sweeps ``offload_rates``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from semcom.schemes.attention_ci.adapters import ViTAdapter
from semcom.schemes.attention_ci.collab import (
    LinkResult, RequestLink, client_pass, combine, masks_for, server_logits, summary, to_uint8,
)
from semcom.schemes.attention_ci.gates import GATES, uncertainty

DEFAULT_SELECTIONS = (
    [("topk", {"k": k}) for k in (8, 16, 24, 32, 48)]
    + [("mass", {"delta": d}) for d in (0.5, 0.7, 0.8, 0.9, 0.95)]
    + [("threshold", {"tau": t}) for t in (0.1, 0.2, 0.3, 0.5)]
    + [("random", {"fraction": f}) for f in (0.25, 0.5, 0.75)]
)
DEFAULT_OFFLOAD_RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def thresholds(unc: torch.Tensor, offload_rates) -> list[float]:
    """Gate thresholds eta giving (about) each offload rate: the (1 - rate) quantile of the uncertainty
    (inf for rate 0, 0 for rate 1; the rows report the offload rate actually reached)."""
    out = []
    for rate in offload_rates:
        if rate <= 0:
            out.append(float("inf"))
        elif rate >= 1:
            out.append(0.0)
        else:
            out.append(max(0.0, float(torch.quantile(unc.double(), 1 - rate))))
    return out


def sweep(client: ViTAdapter, server: ViTAdapter, images: torch.Tensor, labels: torch.Tensor,
          selections=DEFAULT_SELECTIONS, gates=tuple(GATES), offload_rates=DEFAULT_OFFLOAD_RATES, score: str = "cls",
          link: RequestLink | None = None, seed: int = 0, on_selection=None) -> list[dict]:
    """Rows: one per (selection, gate, eta) with ``collab.summary`` fields; plus client-alone and
    server-alone reference rows. ``link`` (default ideal) prices the requests; with a digital link,
    lost requests fall back to the client."""
    link = link or RequestLink("ideal")
    images = to_uint8(images)
    n = len(images)
    cp = client_pass(client, images)
    everyone = torch.ones(n, dtype=torch.bool)
    full = torch.ones(n, cp.scores[score].shape[1], dtype=torch.bool)
    full_sent, _ = link.send(images, full, everyone, client.patch_size, generator=torch.Generator().manual_seed(seed))
    full_bits, full_uses = full_sent.bits.float().mean().item(), full_sent.channel_uses.float().mean().item()
    server_full = server_logits(server, images, full)
    nothing = LinkResult(torch.zeros(n, dtype=torch.int64), torch.zeros(n, dtype=torch.int64), torch.zeros(n, dtype=torch.bool))
    rows = [
        {"scheme": "client alone", **summary(cp.logits.argmax(1), labels, ~everyone, full, nothing, full_bits, full_uses)},
        {"scheme": "server alone (all patches)",
         **summary(combine(cp.logits, server_full, everyone, full_sent.delivered), labels, everyone, full, full_sent,
                   full_bits, full_uses)},
    ]
    for policy, params in selections:
        masks = masks_for(cp.scores[score], policy, torch.Generator().manual_seed(seed), **params)
        s_logits = server_logits(server, images, masks)
        sent, _ = link.send(images, masks, everyone, client.patch_size, generator=torch.Generator().manual_seed(seed))
        for gate in gates:
            unc = uncertainty(cp.logits, gate)
            for rate, eta in zip(offload_rates, thresholds(unc, offload_rates)):
                offloaded = unc > eta
                cost = LinkResult(torch.where(offloaded, sent.bits, 0), torch.where(offloaded, sent.channel_uses, 0),
                                  sent.delivered)
                pred = combine(cp.logits, s_logits, offloaded, sent.delivered)
                rows.append({"scheme": "collaborative", "policy": policy, **params, "score": score, "gate": gate,
                             "eta": eta, "target_offload_rate": rate,
                             **summary(pred, labels, offloaded, masks, cost, full_bits, full_uses)})
        if on_selection:
            on_selection(policy, params)
    return rows


def pareto_front(rows: list[dict], cost: str = "relative_bits") -> list[dict]:
    """The collaborative rows no other row beats on both accuracy (higher) and ``cost`` (lower)."""
    pts = sorted((r for r in rows if r["scheme"] == "collaborative"), key=lambda r: (r[cost], -r["accuracy"]))
    front, best = [], -1.0
    for r in pts:
        if r["accuracy"] > best:
            front.append(r)
            best = r["accuracy"]
    return front


def plot_pareto(rows: list[dict], path: Path, cost: str = "relative_bits") -> None:
    """Accuracy vs cost: every operating point (by policy), the front, and the client/server references."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for policy in sorted({r["policy"] for r in rows if r["scheme"] == "collaborative"}):
        pts = [r for r in rows if r.get("policy") == policy]
        ax.scatter([r[cost] for r in pts], [r["accuracy"] for r in pts], s=8, alpha=0.5, label=policy)
    front = pareto_front(rows, cost)
    ax.plot([r[cost] for r in front], [r["accuracy"] for r in front], "k-", lw=1.5, label="Pareto front")
    for r, marker in zip(rows[:2], ("s", "D")):
        ax.scatter([r[cost] or 0.0], [r["accuracy"]], marker=marker, s=60, edgecolor="k", label=r["scheme"], zorder=5)
    ax.set_xlabel({"relative_bits": "bits sent / bits of offloading every full image",
                   "seed_cost": "fraction offloaded x fraction of patches"}.get(cost, cost))
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
