"""``semcom eval|sweep attention-ci``: attention-aware collaborative inference on CIFAR-10."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from semcom.cli.common import (
    SNR_COLUMN, FORMAT_HELP, OVERWRITE_HELP, SNR_HELP, Column, check_channel, check_format, eval_app, integer, number,
    parse_snrs, progress_bar, render, saved_note, sweep_app
)
from semcom.experiments.registry import load_ci_models
from semcom.digital.capacity import DIGITAL_CHANNELS
from semcom.errors import SemcomError
from semcom.outputs import atomic_folder, check_output_folder

LINKS = ("digital", "analog")
LINK_HELP = ("With --snr: digital (LDPC + QAM, default) | analog (learned patch JSCC). Without --snr requests travel "
             "over an ideal link (bits counted, no channel).")
EVAL_COLUMNS = [
    Column("link", lambda r: r["link"], key=True), SNR_COLUMN,
    Column("accuracy %", number("accuracy")), Column("offloaded", number("offload_rate", 3)),
    Column("patches", number("patch_fraction", 3)), Column("bits/image", integer("bits_per_image")),
    Column("uses/image", integer("channel_uses_per_image")), Column("seed cost", number("seed_cost", 3)),
    Column("x full", lambda r: "-" if r["relative"] is None else f"{r['relative']:.3f}"),
    Column("delivered", number("delivered_rate", 3)),
]
SWEEP_COLUMNS = [
    Column("policy", lambda r: r["policy_label"], key=True), Column("param", lambda r: r["param_label"], key=True),
    Column("gate", lambda r: r["gate_label"], key=True), Column("accuracy %", number("accuracy")),
    Column("offloaded", number("offload_rate")), Column("patches", number("patch_fraction")),
    Column("x full bits", number("relative_bits", 3)), Column("seed cost", number("seed_cost", 3)),
]


def ci_images(data: Optional[Path], limit: Optional[int]):
    from semcom.data.cifar import cifar10_test

    return cifar10_test(data, limit=limit)


def check_link_options(snr: Optional[str], link: Optional[str], decode: bool, patch_jscc: Optional[Path]) -> str:
    """The link (digital | analog) the options ask for; SemcomError for options the chosen link does not use."""
    if link is not None and link not in LINKS:
        raise SemcomError(f"unknown link {link!r}; choose {' or '.join(LINKS)}")
    if snr is None and (link or decode or patch_jscc):
        raise SemcomError("--link, --decode and --patch-jscc choose how requests cross the channel at each --snr; "
                          "without --snr the link is ideal (request bits counted, no channel): give --snr, or drop them")
    link = link or "digital"
    if link == "digital" and patch_jscc:
        raise SemcomError("--patch-jscc applies to --link analog only")
    return link


@eval_app.command("attention-ci")
def eval_attention_ci(
    policy: str = typer.Option("mass", help="topk | mass | threshold | random"),
    k: Optional[int] = typer.Option(None, help="topk: patches kept."),
    delta: Optional[float] = typer.Option(None, help="mass: attention mass kept, in (0, 1]."),
    tau: Optional[float] = typer.Option(None, help="threshold: keep patches scoring >= tau x the image's maximum."),
    fraction: Optional[float] = typer.Option(None, help="random: fraction of patches kept."),
    gate: str = typer.Option("entropy", help="entropy | min_entropy | margin"),
    eta: float = typer.Option(0.5, help="Offload when the client's uncertainty exceeds eta."),
    score: str = typer.Option("cls", help="cls (last-layer CLS attention) | rollout"),
    snr: Optional[str] = typer.Option(None, help=f"{SNR_HELP} Omit for an ideal link (bits only)."),
    link: Optional[str] = typer.Option(None, help=LINK_HELP),
    channel: str = typer.Option("awgn", help=" | ".join(DIGITAL_CHANNELS)),
    decode: bool = typer.Option(False, help="really LDPC-decode every request (digital) or patch-mask side block (analog; "
                                             "slow) instead of drawing the outcome from the BLER table."),
    patch_jscc: Optional[Path] = typer.Option(None, help="analog link: patch JSCC checkpoint (default: shipped)."),
    client: Optional[Path] = typer.Option(None, help="Client ViT checkpoint (default: shipped)."),
    server: Optional[Path] = typer.Option(None, help="Server ViT checkpoint (default: shipped)."),
    data: Optional[Path] = typer.Option(None, help="Folder holding cifar10_test_jpg (default: the shared data folder)."),
    limit: Optional[int] = typer.Option(None), seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, help="Write results.json / results.csv into this folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    format: str = typer.Option("table", "--format", help=FORMAT_HELP),
):
    """Accuracy and communication cost of one collaborative-inference operating point on CIFAR-10."""
    import torch

    from semcom.experiments.results import write_results
    from semcom.schemes.attention_ci.collab import RequestLink, run
    from semcom.schemes.attention_ci.patch_jscc import AnalogPatchLink, load_patch_jscc, shipped_patch_jscc
    from semcom.schemes.attention_ci.policies import POLICY_PARAM

    link = check_link_options(snr, link, decode, patch_jscc)
    fmt = check_format(format)
    if policy not in POLICY_PARAM:
        raise SemcomError(f"unknown patch policy {policy!r}; valid: {', '.join(POLICY_PARAM)}")
    given = {"k": k, "delta": delta, "tau": tau, "fraction": fraction}
    extra = sorted(name for name, v in given.items() if v is not None and name != POLICY_PARAM[policy])
    if extra:
        raise SemcomError(f"policy {policy} takes --{POLICY_PARAM[policy]}, not --{', --'.join(extra)}")
    value = given[POLICY_PARAM[policy]]
    if value is None:
        raise SemcomError(f"policy {policy} needs --{POLICY_PARAM[policy]}")
    snrs = parse_snrs(snr) if snr else [None]
    if snr:
        check_channel(channel)
    if out:
        out = check_output_folder(out, overwrite)
    client_m, server_m = load_ci_models(client, server)
    images, labels = ci_images(data, limit)
    analog = load_patch_jscc(patch_jscc or shipped_patch_jscc()) if link == "analog" and snr else None
    rows = []
    for s in snrs:
        if s is None:
            carrier = RequestLink("ideal")
        elif analog is not None:
            carrier = AnalogPatchLink(analog, channel, s, side_decode=decode)
        else:
            carrier = RequestLink("digital", channel, s, decode)
        result = run(client_m, server_m, images, labels, policy, {POLICY_PARAM[policy]: value}, gate, eta, score, carrier,
                     torch.Generator().manual_seed(seed))
        result.pop("predictions")
        rows.append({"snr_db": s, "link": carrier.link, "channel": channel if s is not None else None, **result})
    shown = [{**r, "relative": r["relative_bits"] if r["relative_bits"] is not None else r["relative_channel_uses"]}
             for r in rows]
    render(shown if fmt == "table" else rows, EVAL_COLUMNS,
           f"attention-ci {policy}({POLICY_PARAM[policy]}={value:g}) gate {gate} eta {eta:g}, {len(images)} images", fmt)
    if out:
        config = {"command": "semcom eval attention-ci", "argv": sys.argv[1:], "limit": limit, "seed": seed}
        with atomic_folder(out, overwrite) as tmp:
            write_results(tmp, config, rows, rows)
    saved_note(out)


@sweep_app.command("attention-ci")
def sweep_attention_ci(
    out: Path = typer.Option(Path("attention-ci-sweep"), help="Folder for results.json/csv and pareto.png."),
    score: str = typer.Option("cls", help="cls | rollout"),
    snr: Optional[float] = typer.Option(None, help="Price requests on the digital link at this SNR (default: ideal)."),
    channel: str = typer.Option("awgn", help=" | ".join(DIGITAL_CHANNELS)),
    client: Optional[Path] = typer.Option(None), server: Optional[Path] = typer.Option(None),
    data: Optional[Path] = typer.Option(None), limit: Optional[int] = typer.Option(None), seed: int = typer.Option(0),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    format: str = typer.Option("table", "--format", help=FORMAT_HELP),
):
    """Sweep policies x gates x thresholds on CIFAR-10; write the rows, the Pareto front and its plot."""
    from semcom.experiments.results import write_results
    from semcom.schemes.attention_ci.collab import RequestLink
    from semcom.schemes.attention_ci.policies import POLICY_PARAM
    from semcom.schemes.attention_ci.sweep import DEFAULT_SELECTIONS, pareto_front, plot_pareto, sweep

    fmt = check_format(format)
    out = check_output_folder(out, overwrite)
    client_m, server_m = load_ci_models(client, server)
    images, labels = ci_images(data, limit)
    link = RequestLink("ideal") if snr is None else RequestLink("digital", channel, snr)
    with progress_bar() as bar:
        task = bar.add_task("sweep attention-ci", total=len(DEFAULT_SELECTIONS))
        rows = sweep(client_m, server_m, images, labels, score=score, link=link, seed=seed,
                     on_selection=lambda *a: bar.advance(task))
    front = pareto_front(rows)
    shown = [{**r, "policy_label": r["scheme"], "param_label": "", "gate_label": ""} for r in rows[:2]]
    shown += [{**r, "policy_label": r["policy"], "param_label": f"{POLICY_PARAM[r['policy']]}={r[POLICY_PARAM[r['policy']]]:g}",
               "gate_label": r["gate"]} for r in front]
    render(shown if fmt == "table" else rows[:2] + front, SWEEP_COLUMNS,
           f"Pareto front ({len(images)} images, link {link.link})", fmt)
    config = {"command": "semcom sweep attention-ci", "argv": sys.argv[1:], "limit": limit, "seed": seed, "score": score,
              "snr_db": snr, "channel": channel}
    with atomic_folder(out, overwrite) as tmp:
        write_results(tmp, config, rows, front)
        plot_pareto(rows, tmp / "pareto.png")
    saved_note(out)
