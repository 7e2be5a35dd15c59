"""The ``semcom`` command line: demo, train, eval, transmit. Each command is callable as ``main(argv)``."""

from __future__ import annotations

import json
import math
import shlex
import sys
from fractions import Fraction
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from semcom.errors import SemcomError
from semcom.outputs import (
    atomic_file, atomic_folder, check_output_file, check_output_folder, check_resume, check_run_folder,
)

app = typer.Typer(add_completion=False, no_args_is_help=True, help="semcom: semantic communication toolkit.")
train_app = typer.Typer(no_args_is_help=True, help="Train a model.")
app.add_typer(train_app, name="train")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluate a scheme over an SNR grid.")
app.add_typer(eval_app, name="eval")
sweep_app = typer.Typer(no_args_is_help=True, help="Sweep a scheme's operating points.")
app.add_typer(sweep_app, name="sweep")
console = Console(stderr=True)
out_console = Console()
OVERWRITE_HELP = ("Write into --out even if it holds files semcom did not write there (results replace files of "
                  "the same name; nothing else is deleted).")
IMAGE_OUT_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".ppm")  # lossless: the file holds exactly what arrived
CHECKPOINT_SUFFIXES = (".pt", ".pth")
INVOCATION = ["semcom"]  # the command line being run, as typed (set by main); shown in the resume hint


def parse_number(text: str) -> float:
    """'7', '-2.5' or '1/16' -> float; SemcomError otherwise."""
    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise SemcomError(f"not a number: {text!r}") from None


def parse_list(text: str, name: str) -> list[float]:
    values = [parse_number(t) for t in text.split(",") if t.strip()]
    if not values:
        raise SemcomError(f"--{name} needs at least one value")
    return values


def parse_snr_range(text: str) -> tuple[float, float]:
    """'A,B' -> (A, B) for the --snr-range options; SemcomError otherwise."""
    values = parse_list(text, "snr-range")
    if len(values) != 2:
        raise SemcomError(f"--snr-range needs two values A,B, got {text!r}")
    return values[0], values[1]


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


def print_summary(summary: list[dict], title: str) -> None:
    table = Table(title=title)
    for col in ("scheme", "channel", "CBR", "SNR dB", "PSNR dB", "MS-SSIM", "decoded", "s/image"):
        table.add_column(col, justify="right")
    for s in sorted(summary, key=lambda s: (s["channel"], s["cbr_target"], s["scheme"], s["snr_db"])):
        table.add_row(s["scheme"], s["channel"], f"{s['cbr_target']:.4g}", f"{s['snr_db']:g}", f"{s['psnr_db']:.2f}",
                      f"{s['ms_ssim']:.4f}", f"{100 * s['success_rate']:.0f}%", f"{s['seconds']:.3f}")
    out_console.print(table)


RESUME_ANYWAY_HELP = "Resume the run in --out even though its settings differ from the ones given now."


def run_training(train_fn, cfg, export: Optional[Path], half: bool = True, resume_anyway: bool = False) -> Path:
    """Run ``train_fn(cfg, log, progress, resume_anyway)`` under a progress bar; optionally export a slim copy of the
    result. The run folder and the export path are checked first; on Ctrl-C it says how to resume."""
    from semcom.training.checkpoint import read_checkpoint, slim_copy

    check_run_folder(cfg.out)
    if export:
        export = check_output_file(export, CHECKPOINT_SUFFIXES, "--export")
    resumed = Path(cfg.out) / "last.pt"
    if resumed.is_file():  # the trainer checks again; this refuses other settings before any data is loaded
        check_resume(read_checkpoint(resumed).get("train_config"), cfg.to_dict(), resumed, resume_anyway,
                     log=lambda msg: None)
    try:
        with progress_bar() as bar:
            task = bar.add_task("train", total=cfg.steps)
            last = train_fn(cfg, log=lambda msg: bar.console.print(msg), resume_anyway=resume_anyway,
                            progress=lambda step, total, loss: bar.update(task, completed=step,
                                                                          description=f"train loss {loss:.4f}"))
    except KeyboardInterrupt:
        console.print(interrupted_message(resumed), highlight=False, soft_wrap=True)
        raise
    if export:
        slim_copy(last, export, half=half)
        out_console.print(f"exported {export}")
    out_console.print(f"checkpoint: {last}")
    return last


def interrupted_message(last: Path) -> str:
    """What to tell a user who pressed Ctrl-C during training: the last checkpoint and the command that resumes."""
    from semcom.training.checkpoint import read_checkpoint

    command = shlex.join(INVOCATION)
    if not last.is_file():
        return f"interrupted before the first checkpoint: nothing to resume; run again with: {command}"
    try:
        step = f" (step {read_checkpoint(last)['step']})"
    except (SemcomError, KeyError):
        step = ""
    return f"interrupted; last checkpoint {last}{step}; resume with: {command}"


def demo_sections() -> list:
    """The schemes' sections of the demo report, in report order (the CLI is the one place that knows every scheme)."""
    from semcom.experiments.demo import DemoSection
    from semcom.schemes.attention_ci.demo import attention_ci_section
    from semcom.schemes.lamsc.demo import lamsc_section
    from semcom.schemes.splitnn.demo import splitnn_section

    return [
        DemoSection("lamsc", "LAM-SC: segment-based semantic transmission", lamsc_section),
        DemoSection("splitnn", "Split inference (SemanticNN)", lambda folder, images, seed: splitnn_section(folder, seed)),
        DemoSection("attention_ci", "Attention-aware collaborative inference",
                    lambda folder, images, seed: attention_ci_section(folder)),
    ]


@app.command()
def demo(
    out: Path = typer.Option(Path("semcom-report"), help="Report folder: new, empty or an earlier semcom report "
                                                         "(whose files are replaced); see --overwrite."),
    snr: str = typer.Option("1,4,7,10,13", help="SNRs in dB, comma-separated."),
    cbr: str = typer.Option("1/16", help="Channel bandwidth ratios, comma-separated (e.g. 1/16,1/8)."),
    channel: str = typer.Option("awgn", help="awgn | rayleigh | rayleigh-block | rician"),
    codecs: str = typer.Option("webp", help="Codecs for the digital chain; the first one also gives the capacity bound."),
    size: int = typer.Option(256, help="Demo images are resized to size x size."),
    checkpoint: Optional[Path] = typer.Option(None, help="JSCC checkpoint (default: the shipped model)."),
    workers: int = typer.Option(2, help="Parallel worker processes."),
    seed: int = typer.Option(0),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
):
    """Offline demo: bundled photos through learned JSCC, the digital chain and the capacity bound."""
    from semcom.experiments.demo import demo_specs, run_demo
    from semcom.experiments.evaluate import build_transmitters, check_grid

    snrs, cbrs = parse_list(snr, "snr"), parse_list(cbr, "cbr")
    check_grid(channel, snrs, cbrs)
    out = check_output_folder(out, overwrite)
    codec_list = [c.strip() for c in codecs.split(",") if c.strip()]
    ckpt = str(checkpoint) if checkpoint else None
    specs = demo_specs(codec_list, ckpt)
    transmitters = build_transmitters(specs, channel, cbrs)
    with progress_bar() as bar:
        task = bar.add_task("demo", total=len(specs) * len(snrs) * len(cbrs))
        path, summary = run_demo(out, snrs, cbrs, channel, codec_list, size, seed, workers, ckpt,
                                 on_cell=lambda rows: bar.advance(task), transmitters=transmitters,
                                 overwrite=overwrite, sections=demo_sections())
    print_summary(summary, "semcom demo (mean over images)")
    out_console.print(f"report written to {path / 'index.html'}")


@train_app.command("jscc")
def train_jscc(
    data: Path = typer.Option(..., help="Folder of training images (random crops are taken)."),
    out: Path = typer.Option(Path("runs/jscc"), help="Run folder: last.pt, train.jsonl, config.json. Resumes if last.pt exists."),
    cbr: str = typer.Option("1/16,1/8", help="CBRs to train for (one rate-adaptive model covers all of them)."),
    snr_range: str = typer.Option("-2,16", help="Training SNR drawn uniformly from A,B dB."),
    channel: str = typer.Option("awgn"),
    model: str = typer.Option("adjscc", help="adjscc (SNR-adaptive) | deepjscc | hybrid (SoftCast-initialised linear "
                                            "path + plain conv paths, see README) | plain (hybrid without the linear path)"),
    widths: str = typer.Option("96,160,192", help="adjscc/deepjscc: feature widths at 1/4, 1/8, 1/16 resolution; "
                                                 "hybrid/plain: one conv width."),
    latent: int = typer.Option(192, help="Latent maps at 1/16 resolution; max CBR = latent/1536."),
    steps: int = typer.Option(12000), batch: int = typer.Option(8), crop: int = typer.Option(128),
    lr: float = typer.Option(1e-3), val_count: int = typer.Option(4, help="Images held out (last by name)."),
    eval_every: int = typer.Option(500), ckpt_every: int = typer.Option(100),
    seed: int = typer.Option(0), device: str = typer.Option("cpu", help="cpu | cuda"), threads: int = typer.Option(0),
    linear_path: bool = typer.Option(False, "--linear-path", help="adjscc/deepjscc: add the linear 16x16-block path to both ends."),
    clip: float = typer.Option(0.0, help="Gradient-norm clipping (0: none)."),
    schedule: str = typer.Option("cosine", help="cosine (warm-up, cosine decay) | late-cosine (constant, cosine over the last 30 %)."),
    cpu_budget: float = typer.Option(0.0, help="Stop after this many process CPU-seconds of training (0: run --steps)."),
    init_basis: str = typer.Option("pca", help="hybrid: the linear path starts as SoftCast with this basis: pca (shipped) or a file from 'semcom train softcast'."),
    linear_lr_scale: float = typer.Option(0.05, help="hybrid: learning rate of the linear path relative to --lr."),
    init_from: Optional[Path] = typer.Option(None, help="Warm start from this JSCC checkpoint's weights."),
    export: Optional[Path] = typer.Option(None, help="Also write a slim float16 copy of the final checkpoint here."),
    resume_anyway: bool = typer.Option(False, "--resume-anyway", help=RESUME_ANYWAY_HELP),
):
    """Train (or resume) a learned image JSCC model. Under torchrun it runs data-parallel."""
    from semcom.jscc.models import JSCCConfig
    from semcom.jscc.train import TrainConfig, train

    lo_hi = parse_snr_range(snr_range)
    w = tuple(int(v) for v in parse_list(widths, "widths"))
    if model not in ("adjscc", "deepjscc", "hybrid", "plain"):
        raise SemcomError(f"unknown JSCC model {model!r}; choose adjscc, deepjscc, hybrid or plain")
    if model in ("hybrid", "plain"):
        from semcom.jscc.hybrid import HybridConfig

        if len(w) != 1 or linear_path:
            raise SemcomError(f"--model {model} takes one --widths value (e.g. --widths 64) and no --linear-path")
        model_cfg = HybridConfig(width=w[0], latent_channels=latent, linear=(model == "hybrid"))
    else:
        model_cfg = JSCCConfig(widths=w, latent_channels=latent, adaptive=(model == "adjscc"), name=model,
                               linear_path=linear_path)
    cfg = TrainConfig(data=str(data), out=str(out), cbr=tuple(parse_list(cbr, "cbr")), snr_range=lo_hi,
                      channel=channel, steps=steps, batch=batch, crop=crop, lr=lr, val_count=val_count,
                      eval_every=eval_every, ckpt_every=ckpt_every, seed=seed, device=device, threads=threads,
                      init_from=str(init_from) if init_from else None, clip=clip, schedule=schedule,
                      cpu_budget_s=cpu_budget, init_basis=init_basis, linear_lr_scale=linear_lr_scale)
    run_training(lambda c, log, progress, resume_anyway: train(c, model_cfg, log=log, progress=progress,
                                                               resume_anyway=resume_anyway), cfg, export,
                 resume_anyway=resume_anyway)


@train_app.command("softcast")
def train_softcast_cmd(
    data: Path = typer.Option(..., help="Folder of training photos (never the test set)."),
    out: Path = typer.Option(..., help="Basis file to write (.safetensors)."),
    components: int = typer.Option(384, help="Principal components kept (CBR up to components/1536)."),
    val_count: int = typer.Option(4, help="Images held out (last by name), as for the learned JSCC."),
):
    """Fit the PCA basis of SoftCast-style linear analog transmission (16x16 RGB blocks); seconds on a CPU."""
    from semcom.jscc.softcast import fit_shipped_basis

    out = check_output_file(out, (".safetensors",))
    basis = fit_shipped_basis(data, out, components, val_count)
    out_console.print(f"PCA basis of {basis.components} components from {basis.meta['blocks']} blocks of "
                      f"{len(basis.meta['files'])} photos written to {out}")


@train_app.command("splitnn")
def train_splitnn_cmd(
    variant: str = typer.Option("semanticnn-c8b3", help="semanticnn-c8b3 | semanticnn-c8b3-snr | semanticnn-c4b2 | analog-c24 | adjscc-c24 | deepcod-c8b3 | semanticnn-c8b3-la | semanticnn-c12b3-la | effnet-block2-c8b3-la | effnet-block2-c24b3-la (EfficientNet-Lite0 on photo crops; -la: train with --snr-range=-6,20)"),
    out: Path = typer.Option(Path("runs/splitnn"), help="Run folder: last.pt, train.jsonl, config.json. Resumes if last.pt exists."),
    data: Optional[Path] = typer.Option(None, help="Folder holding cifar10_train_jpg.zip (default: the shared data folder)."),
    weights: Optional[Path] = typer.Option(None, help="ResNet-20 weights (default: the shared data folder)."),
    limit: Optional[int] = typer.Option(None, help="Use only the first N training images."),
    val_count: int = typer.Option(1000, help="Training images held out for validation (the last N)."),
    stage1_steps: int = typer.Option(300, help="Feature-MSE steps."),
    stage2_steps: int = typer.Option(2000, help="Task-loss steps (cross-entropy / distillation)."),
    batch: int = typer.Option(64), lr: float = typer.Option(2e-3),
    snr_range: str = typer.Option("-6,7", help="Training SNR drawn uniformly from A,B dB."),
    channel: str = typer.Option("awgn", help="awgn | rayleigh"), modulation: str = typer.Option("qpsk"),
    xai_weight: float = typer.Option(0.0, help="Weight of the integrated-gradients alignment loss (stage 2)."),
    eval_every: int = typer.Option(250), ckpt_every: int = typer.Option(100),
    seed: int = typer.Option(0), threads: int = typer.Option(0),
    cache: Optional[Path] = typer.Option(None, help=".npz cache for the decoded CIFAR training set."),
    export: Optional[Path] = typer.Option(None, help="Also write a slim copy of the final checkpoint here."),
    resume_anyway: bool = typer.Option(False, "--resume-anyway", help=RESUME_ANYWAY_HELP),
):
    """Train (or resume) a SemanticNN codec or baseline on the frozen CIFAR-10 ResNet-20 split after layer1."""
    from semcom.schemes.splitnn.train import SplitTrainConfig, train_splitnn

    lo_hi = parse_snr_range(snr_range)
    cfg = SplitTrainConfig(out=str(out), variant=variant, data=str(data) if data else None,
                           weights=str(weights) if weights else None, limit=limit, val_count=val_count,
                           stage1_steps=stage1_steps, stage2_steps=stage2_steps, batch=batch, lr=lr,
                           snr_range=lo_hi, channel=channel, modulation=modulation, xai_weight=xai_weight,
                           eval_every=eval_every, ckpt_every=ckpt_every, seed=seed, threads=threads,
                           cache=str(cache) if cache else None)
    run_training(train_splitnn, cfg, export, half=False, resume_anyway=resume_anyway)


@train_app.command("lamsc")
def train_lamsc_cmd(
    part: str = typer.Option(..., help="scorer (ASI, on occlusion-importance targets or --human-scores) | asc (latent mask) "
                                       "| receiver (a JSCC copy fine-tuned on the ASC's masked latents)"),
    out: Path = typer.Option(..., help="Run folder: last.pt, train.jsonl, config.json, pool.pt. Resumes if last.pt exists."),
    data: Optional[Path] = typer.Option(None, help="Training photos (default: ../shared/data/photos-train)."),
    pool_size: int = typer.Option(400, help="Random crops segmented once for training."),
    pool_crop: int = typer.Option(256), val_count: int = typer.Option(4, help="Last N photos by name held out."),
    human_scores: Optional[Path] = typer.Option(None, help="scorer: CSV image,segment,score of human labels."),
    steps: int = typer.Option(600), batch: int = typer.Option(16), lr: float = typer.Option(1e-3),
    jscc: Optional[Path] = typer.Option(None, help="asc, receiver: the frozen JSCC (default: the shipped model)."),
    asc: Optional[Path] = typer.Option(None, help="receiver: the frozen ASC mask (default: the shipped one)."),
    whole_images: bool = typer.Option(False, help="receiver: control run on whole crops without a mask (fine-tunes the "
                                                   "plain JSCC decoder with the same budget)."),
    train_encoder: bool = typer.Option(False, help="receiver: fine-tune the JSCC copy's encoder too, end to end through "
                                                    "the frozen mask (LAM-SC then encodes masked transmissions with it)."),
    cbr: str = typer.Option("1/32", help="asc, receiver: JSCC rate the mask is trained for."),
    crop: int = typer.Option(128, help="asc: training window (multiple of 16)."),
    snr_range: str = typer.Option("-2,16"), channel: str = typer.Option("awgn"),
    rate_weight: float = typer.Option(5e-4, help="asc: weight of the rate term (fraction of latent positions sent)."),
    seed: int = typer.Option(0), threads: int = typer.Option(0),
    export: Optional[Path] = typer.Option(None, help="Also write a slim copy of the final checkpoint here."),
    resume_anyway: bool = typer.Option(False, "--resume-anyway", help=RESUME_ANYWAY_HELP),
):
    """Train (or resume) LAM-SC's ASI scorer or its ASC latent mask."""
    from semcom.schemes.lamsc.train import LamSCTrainConfig, train_lamsc

    lo_hi = parse_snr_range(snr_range)
    cfg = LamSCTrainConfig(out=str(out), part=part, data=str(data) if data else None, pool_size=pool_size,
                           pool_crop=pool_crop, val_count=val_count,
                           human_scores=str(human_scores) if human_scores else None, steps=steps, batch=batch, lr=lr,
                           jscc=str(jscc) if jscc else None, asc=str(asc) if asc else None, cbr=parse_number(cbr), crop=crop,
                           whole_images=whole_images, train_encoder=train_encoder,
                           snr_range=lo_hi, channel=channel, rate_weight=rate_weight, seed=seed,
                           threads=threads)
    run_training(train_lamsc, cfg, export, half=(part == "receiver"), resume_anyway=resume_anyway)


@train_app.command("vit")
def train_vit_cmd(
    preset: str = typer.Option("client", help="client (dim 96, depth 4) | server (dim 192, depth 6); patch 4 on 32x32"),
    out: Path = typer.Option(Path("runs/vit"), help="Run folder: last.pt, train.jsonl, config.json. Resumes if last.pt exists."),
    data: Optional[Path] = typer.Option(None, help="Folder holding cifar10_train_jpg.zip (default: the shared data folder)."),
    limit: Optional[int] = typer.Option(None), val_count: int = typer.Option(1000),
    steps: int = typer.Option(4000), batch: int = typer.Option(128), lr: float = typer.Option(1e-3),
    teacher_depth: int = typer.Option(56, help="Distil from the CIFAR ResNet-20 or -56 (0: labels only)."),
    kd_weight: float = typer.Option(0.7),
    min_keep: int = typer.Option(0, help="Train on random token subsets of at least this many patches (server)."),
    eval_every: int = typer.Option(250), ckpt_every: int = typer.Option(100),
    seed: int = typer.Option(0), threads: int = typer.Option(0),
    cache: Optional[Path] = typer.Option(None, help=".npz cache for the decoded CIFAR training set."),
    init_from: Optional[Path] = typer.Option(None, help="Warm start from this ViT checkpoint's weights (same preset; "
                                             "fresh optimizer and schedule), e.g. to continue a shipped model."),
    guide: Optional[Path] = typer.Option(None, help="Server: client ViT checkpoint; some batches keep the patches it "
                                         "attends to most instead of random ones (needs --min-keep)."),
    guide_prob: float = typer.Option(0.5, help="Share of batches whose token subset the --guide client picks."),
    guide_score: str = typer.Option("rollout", help="cls | rollout: the client's patch score for --guide."),
    patch_jscc: Optional[Path] = typer.Option(None, help="Server: PatchJSCC checkpoint; some batches see the kept "
                                              "patches as received over the analog link (needs --min-keep)."),
    noise_prob: float = typer.Option(0.3, help="Share of batches sent through --patch-jscc."),
    noise_snr: str = typer.Option("0,15", help="SNR range (dB, AWGN) for --patch-jscc batches."),
    export: Optional[Path] = typer.Option(None, help="Also write a slim float16 copy of the final checkpoint here."),
    resume_anyway: bool = typer.Option(False, "--resume-anyway", help=RESUME_ANYWAY_HELP),
):
    """Train (or resume) the offline client or server ViT for attention-aware collaborative inference."""
    from semcom.schemes.attention_ci.train import ViTTrainConfig, train_vit

    cfg = ViTTrainConfig(out=str(out), preset=preset, data=str(data) if data else None, limit=limit, val_count=val_count,
                         steps=steps, batch=batch, lr=lr, teacher_depth=teacher_depth, kd_weight=kd_weight,
                         min_keep=min_keep, eval_every=eval_every, ckpt_every=ckpt_every, seed=seed, threads=threads,
                         cache=str(cache) if cache else None, init_from=str(init_from) if init_from else None,
                         guide=str(guide) if guide else None, guide_prob=guide_prob, guide_score=guide_score,
                         patch_jscc=str(patch_jscc) if patch_jscc else None, noise_prob=noise_prob,
                         noise_snr=parse_snr_range(noise_snr))
    run_training(train_vit, cfg, export, resume_anyway=resume_anyway)


IMAGE_SCHEMES = {"jscc": "the learned JSCC model", "softcast": "linear analog transmission (SoftCast, PCA or DCT)",
                 "digital": "codec + 5G LDPC + QAM at the best MCS",
                 "bound": "codec at the channel capacity, error-free"}


def image_eval_command(scheme: str):
    """``semcom eval jscc|digital|bound``: one command per image scheme, same options."""

    def command(
        data: Path = typer.Option(..., help="Folder of test images (e.g. ../shared/data/kodak)."),
        snr: str = typer.Option("1,4,7,10,13"), cbr: str = typer.Option("1/16"),
        channel: str = typer.Option("awgn", help="awgn | rayleigh | rayleigh-block | rician"),
        codec: str = typer.Option("jpeg", help="digital/bound: codec name(s), comma-separated."),
        transform: str = typer.Option("pca", help="softcast: pca (shipped basis) | dct (training-free), comma-separated."),
        checkpoint: Optional[Path] = typer.Option(None, help="jscc: checkpoint (default: the shipped model)."),
        fast: bool = typer.Option(False, help="digital: draw decode outcomes from the measured BLER table instead of decoding."),
        limit: Optional[int] = typer.Option(None, help="Use only the first N images."),
        workers: int = typer.Option(1, help="Parallel worker processes over the SNR x CBR grid."),
        seed: int = typer.Option(0),
        out: Optional[Path] = typer.Option(None, help="Write results.json / results.csv into this folder."),
        overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    ):
        from semcom.data import load_folder
        from semcom.experiments.evaluate import SchemeSpec, build_transmitters, check_grid, summarize, sweep
        from semcom.experiments.results import write_results

        snrs, cbrs = parse_list(snr, "snr"), parse_list(cbr, "cbr")
        check_grid(channel, snrs, cbrs)
        if out:
            out = check_output_folder(out, overwrite)
        if scheme == "jscc":
            specs = [SchemeSpec("jscc", checkpoint=str(checkpoint) if checkpoint else None)]
        elif scheme == "softcast":
            specs = [SchemeSpec("softcast", t.strip(), str(checkpoint) if checkpoint else None)
                     for t in transform.split(",") if t.strip()]
        else:
            specs = [SchemeSpec(scheme, c.strip(), decode=not fast) for c in codec.split(",") if c.strip()]
        transmitters = build_transmitters(specs, channel, cbrs)
        images = load_folder(data, limit)
        with progress_bar() as bar:
            task = bar.add_task(f"eval {scheme}", total=len(specs) * len(snrs) * len(cbrs))
            rows = sweep(specs, channel, images, snrs, cbrs, seed=seed, workers=workers,
                         on_cell=lambda r: bar.advance(task), transmitters=transmitters)
        summary = summarize(rows)
        print_summary(summary, f"{scheme} on {data}")
        if out:
            config = {"command": "semcom eval", "argv": sys.argv[1:], "scheme": scheme, "data": str(data),
                      "snr_db": snrs, "cbr": cbrs, "channel": channel, "specs": [s.label for s in specs], "seed": seed,
                      "limit": limit}
            with atomic_folder(out, overwrite) as tmp:
                write_results(tmp, config, rows, summary)
            out_console.print(f"results written to {out}")

    command.__doc__ = f"Evaluate {IMAGE_SCHEMES[scheme]} on an image folder over an SNR x CBR grid."
    return command


for _scheme in IMAGE_SCHEMES:
    eval_app.command(_scheme)(image_eval_command(_scheme))


@eval_app.command("splitnn")
def eval_splitnn(
    checkpoint: list[Path] = typer.Option(None, help="Trained codec(s); default: every shipped splitnn checkpoint."),
    snr: str = typer.Option("-6,-3,0,3,7"),
    channel: str = typer.Option("awgn", help="awgn | rayleigh, or both comma-separated."),
    data: Optional[Path] = typer.Option(None, help="Folder holding cifar10_test_jpg (default: the shared data folder)."),
    weights: Optional[Path] = typer.Option(None, help="ResNet-20 weights (default: the shared data folder)."),
    limit: Optional[int] = typer.Option(None, help="Use only the first N test images (class-balanced)."),
    seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, help="Write results.json / results.csv into this folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
):
    """Top-1 accuracy of split inference (CIFAR-10 test set) through the channel, with bits and channel uses."""
    import torch

    from semcom.data.cifar import cifar10_test
    from semcom.experiments.results import write_results
    from semcom.schemes.splitnn.checkpoint import shipped_checkpoint
    from semcom.schemes.splitnn.evaluate import evaluate_checkpoint, row, uncompressed_accuracy
    from semcom.schemes.splitnn.variants import CIFAR_VARIANTS, default_split
    from semcom.units import check_snr_db

    snrs = parse_list(snr, "snr")
    check_snr_db(torch.tensor(snrs))
    if out:
        out = check_output_folder(out, overwrite)
    channels = [c.strip() for c in channel.split(",") if c.strip()]
    for c in channels:
        if c not in ("awgn", "rayleigh"):
            raise SemcomError(f"unknown channel {c!r} for splitnn; choose awgn or rayleigh")
    paths = list(checkpoint) if checkpoint else [p for p in map(shipped_checkpoint, CIFAR_VARIANTS) if p.is_file()]
    if not paths:
        raise SemcomError("no splitnn checkpoints given and none shipped")
    split = default_split(str(weights) if weights else None)
    images, labels = cifar10_test(data, limit=limit)
    base = uncompressed_accuracy(split, images, labels)
    rows = [row("uncompressed", c, None, base, math.prod(split.feature_shape()) * 32, None, split) for c in channels]
    with progress_bar() as bar:
        task = bar.add_task("eval splitnn", total=len(paths) * len(snrs) * len(channels))
        for path in paths:
            rows += evaluate_checkpoint(path, images, labels, snrs, channels, split, seed, on_cell=lambda r: bar.advance(task))
    table = Table(title=f"split inference on CIFAR-10 test ({len(images)} images)")
    for col in ("scheme", "channel", "SNR dB", "accuracy %", "bits/image", "x vs features", "channel uses"):
        table.add_column(col, justify="right")
    for r in rows:
        ratio = r["compression_vs_features"]
        table.add_row(r["scheme"], r["channel"], "-" if r["snr_db"] is None else f"{r['snr_db']:g}", f"{r['accuracy']:.2f}",
                      "-" if r["bits"] is None else str(r["bits"]), "-" if ratio is None else f"{ratio:.0f}",
                      "-" if r["channel_uses"] is None else str(r["channel_uses"]))
    out_console.print(table)
    if out:
        config = {"command": "semcom eval splitnn", "argv": sys.argv[1:], "checkpoints": [str(p) for p in paths],
                  "snr_db": snrs, "channels": channels, "limit": limit, "seed": seed}
        with atomic_folder(out, overwrite) as tmp:
            write_results(tmp, config, rows, rows)
        out_console.print(f"results written to {out}")


LAMSC_PARTS_HELP = "checkpoint path, 'shipped' (default) or 'none' (ablation without it)"


@eval_app.command("lamsc")
def eval_lamsc(
    data: Path = typer.Option(..., help="Folder of test images (e.g. ../shared/data/kodak)."),
    snr: str = typer.Option("1,4,7,10,13"), channel: str = typer.Option("awgn", help="awgn | rayleigh | rayleigh-block | rician"),
    cbr: Optional[str] = typer.Option(None, help="JSCC rate before masking (default: the ASC's, else 1/16)."),
    scorer: str = typer.Option("shipped", help=f"ASI scorer: {LAMSC_PARTS_HELP}."),
    asc: str = typer.Option("shipped", help=f"ASC mask: {LAMSC_PARTS_HELP}."),
    receiver: str = typer.Option("shipped", help=f"JSCC copy that codes masked latents (used with ASC): {LAMSC_PARTS_HELP} "
                                                 "(none: the plain JSCC decoder)."),
    segmenter: str = typer.Option("slic", help="slic (offline) | sam (needs --sam-model)"),
    sam_model: Optional[str] = typer.Option(None, help="Local folder or hub id of a SAM checkpoint."),
    side_link: str = typer.Option("ideal", help="ASC side payload: ideal (1 bit per channel use, assumed to arrive) | "
                                                "ldpc (really sent as a 5G LDPC + QAM block; awgn, rayleigh)"),
    k: int = typer.Option(5), threshold: float = typer.Option(0.7),
    limit: Optional[int] = typer.Option(None), seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, help="Write results.json / results.csv into this folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
):
    """LAM-SC on an image folder: channel uses, region and whole-image quality per SNR."""
    import torch

    from semcom.data import load_folder
    from semcom.experiments.results import write_results
    from semcom.schemes.lamsc.evaluate import build_lamsc, evaluate_lamsc, summarize_lamsc
    from semcom.units import cbr_text, check_snr_db

    snrs = parse_list(snr, "snr")
    check_snr_db(torch.tensor(snrs))
    if out:
        out = check_output_folder(out, overwrite)
    lamsc = build_lamsc(channel, parse_number(cbr) if cbr else None, scorer, asc, segmenter=segmenter,
                        sam_model=sam_model, k=k, threshold=threshold, receiver=receiver, side_link=side_link)
    images = load_folder(data, limit)
    with progress_bar() as bar:
        task = bar.add_task("eval lamsc", total=len(images) * len(snrs))
        rows = evaluate_lamsc(lamsc, images, snrs, seed, on_image=lambda r: bar.advance(task))
    summary = summarize_lamsc(rows)
    table = Table(title=f"LAM-SC on {data} ({channel}, CBR {cbr_text(lamsc.cbr)} before masking)")
    for col in ("SNR dB", "channel uses", "vs whole-image JSCC", "region PSNR dB", "region MS-SSIM", "PSNR dB",
                "segments sent", "fallbacks", "side lost"):
        table.add_column(col, justify="right")
    for s in summary:
        table.add_row(f"{s['snr_db']:g}", f"{s['channel_uses']:.0f}", f"{s['uses_vs_full_jscc']:.3f}",
                      f"{s['region_psnr_db']:.2f}", f"{s['region_ms_ssim']:.4f}", f"{s['psnr_db']:.2f}",
                      f"{s['sent_segments']:.2f}/{s['segments']:.2f}", str(s["fallbacks"]), str(s["side_losses"]))
    out_console.print(table)
    if out:
        config = {"command": "semcom eval lamsc", "argv": sys.argv[1:], "data": str(data), "snr_db": snrs,
                  "channel": channel, "cbr": lamsc.cbr, "scorer": scorer, "asc": asc, "receiver": receiver,
                  "segmenter": segmenter, "side_link": side_link,
                  "k": k, "threshold": threshold, "limit": limit, "seed": seed}
        with atomic_folder(out, overwrite) as tmp:
            write_results(tmp, config, rows, summary)
        out_console.print(f"results written to {out}")




def load_ci_models(client: Optional[Path], server: Optional[Path]):
    from semcom.schemes.attention_ci import OwnViTAdapter
    from semcom.schemes.attention_ci.train import load_vit, shipped_vit

    return tuple(OwnViTAdapter(load_vit(path or shipped_vit(role))[0]) for path, role in ((client, "client"), (server, "server")))


def ci_images(data: Optional[Path], limit: Optional[int]):
    from semcom.data.cifar import cifar10_test

    return cifar10_test(data, limit=limit)


@train_app.command("patch-jscc")
def train_patch_jscc_cmd(
    out: Path = typer.Option(Path("runs/patch_jscc.pt"), help="Checkpoint to write."),
    data: Optional[Path] = typer.Option(None, help="Folder holding cifar10_train_jpg.zip (default: the shared data folder)."),
    limit: Optional[int] = typer.Option(10000), steps: int = typer.Option(3000), batch: int = typer.Option(64),
    symbols: int = typer.Option(12, help="Real symbols per 4x4 patch (even): 12 = 6 channel uses for 48 values."),
    snr_range: str = typer.Option("-2,15"), channel: str = typer.Option("awgn"), seed: int = typer.Option(0),
):
    """Train the analog patch JSCC used by attention-aware collaborative inference (seconds to minutes on CPU)."""
    from semcom.data.cifar import cifar10_train
    from semcom.schemes.attention_ci.patch_jscc import PatchJSCCConfig, train_patch_jscc

    lo_hi = parse_snr_range(snr_range)
    out = check_output_file(out, CHECKPOINT_SUFFIXES)
    images, _ = cifar10_train(data, limit=limit)
    path = train_patch_jscc(images, out, steps, batch, snr_range=lo_hi, channel=channel,
                            cfg=PatchJSCCConfig(symbols=symbols), seed=seed, log=out_console.print)
    out_console.print(f"checkpoint: {path}")


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
    snr: Optional[str] = typer.Option(None, help="SNRs in dB for the digital/analog link (omit: ideal link, bits only)."),
    link: str = typer.Option("digital", help="With --snr: digital (LDPC + QAM) | analog (learned patch JSCC)."),
    channel: str = typer.Option("awgn", help="awgn | rayleigh"),
    decode: bool = typer.Option(False, help="Really LDPC-decode every request (slow) instead of the BLER table."),
    patch_jscc: Optional[Path] = typer.Option(None, help="analog link: patch JSCC checkpoint (default: shipped)."),
    client: Optional[Path] = typer.Option(None, help="Client ViT checkpoint (default: shipped)."),
    server: Optional[Path] = typer.Option(None, help="Server ViT checkpoint (default: shipped)."),
    data: Optional[Path] = typer.Option(None, help="Folder holding cifar10_test_jpg (default: the shared data folder)."),
    limit: Optional[int] = typer.Option(None), seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, help="Write results.json / results.csv into this folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
):
    """Accuracy and communication cost of one collaborative-inference operating point on CIFAR-10."""
    import torch

    from semcom.experiments.results import write_results
    from semcom.schemes.attention_ci.collab import RequestLink, run
    from semcom.schemes.attention_ci.patch_jscc import AnalogPatchLink, load_patch_jscc, shipped_patch_jscc
    from semcom.schemes.attention_ci.policies import POLICY_PARAM

    if link not in ("digital", "analog"):
        raise SemcomError(f"unknown link {link!r}; choose digital or analog")
    if policy not in POLICY_PARAM:
        raise SemcomError(f"unknown patch policy {policy!r}; valid: {', '.join(POLICY_PARAM)}")
    given = {"k": k, "delta": delta, "tau": tau, "fraction": fraction}
    extra = sorted(name for name, v in given.items() if v is not None and name != POLICY_PARAM[policy])
    if extra:
        raise SemcomError(f"policy {policy} takes --{POLICY_PARAM[policy]}, not --{', --'.join(extra)}")
    value = given[POLICY_PARAM[policy]]
    if value is None:
        raise SemcomError(f"policy {policy} needs --{POLICY_PARAM[policy]}")
    snrs = parse_list(snr, "snr") if snr else [None]
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
            carrier = AnalogPatchLink(analog, channel, s)
        else:
            carrier = RequestLink("digital", channel, s, decode)
        result = run(client_m, server_m, images, labels, policy, {POLICY_PARAM[policy]: value}, gate, eta, score, carrier,
                     torch.Generator().manual_seed(seed))
        result.pop("predictions")
        rows.append({"snr_db": s, "link": carrier.link, "channel": channel if s is not None else None, **result})
    table = Table(title=f"attention-ci {policy}({POLICY_PARAM[policy]}={value:g}) gate {gate} eta {eta:g}, {len(images)} images")
    for col in ("link", "SNR dB", "accuracy %", "offloaded", "patches", "seed cost", "bits/image", "uses/image",
                "x full (bits or uses)", "delivered"):
        table.add_column(col, justify="right")
    for r in rows:
        rel = r["relative_bits"] if r["relative_bits"] is not None else r["relative_channel_uses"]
        table.add_row(r["link"], "-" if r["snr_db"] is None else f"{r['snr_db']:g}", f"{r['accuracy']:.2f}",
                      f"{r['offload_rate']:.3f}", f"{r['patch_fraction']:.3f}", f"{r['seed_cost']:.3f}",
                      f"{r['bits_per_image']:.0f}", f"{r['channel_uses_per_image']:.0f}",
                      "-" if rel is None else f"{rel:.3f}", f"{r['delivered_rate']:.3f}")
    out_console.print(table)
    if out:
        config = {"command": "semcom eval attention-ci", "argv": sys.argv[1:], "limit": limit, "seed": seed}
        with atomic_folder(out, overwrite) as tmp:
            write_results(tmp, config, rows, rows)
        out_console.print(f"results written to {out}")


@sweep_app.command("attention-ci")
def sweep_attention_ci(
    out: Path = typer.Option(Path("attention-ci-sweep"), help="Folder for results.json/csv and pareto.png."),
    score: str = typer.Option("cls", help="cls | rollout"),
    snr: Optional[float] = typer.Option(None, help="Price requests on the digital link at this SNR (default: ideal)."),
    channel: str = typer.Option("awgn"),
    client: Optional[Path] = typer.Option(None), server: Optional[Path] = typer.Option(None),
    data: Optional[Path] = typer.Option(None), limit: Optional[int] = typer.Option(None), seed: int = typer.Option(0),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
):
    """Sweep policies x gates x thresholds on CIFAR-10; write the rows, the Pareto front and its plot."""
    from semcom.experiments.results import write_results
    from semcom.schemes.attention_ci.collab import RequestLink
    from semcom.schemes.attention_ci.policies import POLICY_PARAM
    from semcom.schemes.attention_ci.sweep import DEFAULT_SELECTIONS, pareto_front, plot_pareto, sweep

    out = check_output_folder(out, overwrite)
    client_m, server_m = load_ci_models(client, server)
    images, labels = ci_images(data, limit)
    link = RequestLink("ideal") if snr is None else RequestLink("digital", channel, snr)
    with progress_bar() as bar:
        task = bar.add_task("sweep attention-ci", total=len(DEFAULT_SELECTIONS))
        rows = sweep(client_m, server_m, images, labels, score=score, link=link, seed=seed,
                     on_selection=lambda *a: bar.advance(task))
    front = pareto_front(rows)
    table = Table(title=f"Pareto front ({len(images)} images, link {link.link})")
    for col in ("policy", "param", "gate", "offloaded", "patches", "accuracy %", "x full bits", "seed cost"):
        table.add_column(col, justify="right")
    for r in rows[:2]:
        table.add_row(r["scheme"], "", "", f"{r['offload_rate']:.2f}", f"{r['patch_fraction']:.2f}", f"{r['accuracy']:.2f}",
                      f"{r['relative_bits']:.3f}", f"{r['seed_cost']:.3f}")
    for r in front:
        param = POLICY_PARAM[r["policy"]]
        table.add_row(r["policy"], f"{param}={r[param]:g}", r["gate"], f"{r['offload_rate']:.2f}",
                      f"{r['patch_fraction']:.2f}", f"{r['accuracy']:.2f}", f"{r['relative_bits']:.3f}", f"{r['seed_cost']:.3f}")
    out_console.print(table)
    config = {"command": "semcom sweep attention-ci", "argv": sys.argv[1:], "limit": limit, "seed": seed, "score": score,
              "snr_db": snr, "channel": channel}
    with atomic_folder(out, overwrite) as tmp:
        write_results(tmp, config, rows, front)
        plot_pareto(rows, tmp / "pareto.png")
    out_console.print(f"results written to {out}")


@app.command()
def transmit(
    image: Path = typer.Argument(..., help="Image file to send."),
    scheme: str = typer.Option("jscc", help="jscc | softcast | digital | bound | lamsc"),
    snr: float = typer.Option(10.0, help="SNR in dB."),
    cbr: Optional[str] = typer.Option(None, help="Channel bandwidth ratio (default 1/16; lamsc: its ASC's CBR before masking)."),
    channel: str = typer.Option("awgn"),
    codec: str = typer.Option("jpeg", help="digital/bound: the source codec."),
    transform: str = typer.Option("pca", help="softcast: pca (shipped basis) | dct (training-free)."),
    checkpoint: Optional[Path] = typer.Option(None, help="jscc: a JSCC checkpoint; softcast: a basis file."),
    scorer: str = typer.Option("shipped", help=f"lamsc: ASI scorer, {LAMSC_PARTS_HELP}."),
    asc: str = typer.Option("shipped", help=f"lamsc: ASC mask, {LAMSC_PARTS_HELP}."),
    receiver: str = typer.Option("shipped", help=f"lamsc: JSCC copy that codes masked latents, {LAMSC_PARTS_HELP}."),
    side_link: str = typer.Option("ideal", help="lamsc: ASC side payload, ideal | ldpc (really sent over 5G LDPC + QAM)."),
    seed: int = typer.Option(0),
    out: Path = typer.Option(..., help="Where to write the received image: a .png file (or another lossless format: "
                                       ".bmp, .tif, .ppm); an existing file of that name is replaced."),
):
    """Send one image through a scheme and channel; write what arrived and print its metrics.

    ``--scheme lamsc`` uses the shipped ASI scorer, ASC mask and receiver (``--scorer``/``--asc``/``--receiver``); the
    output is the received semantic image and the printout lists segments, scores and channel uses."""
    from semcom.data import load_image, save_image
    from semcom.experiments.evaluate import SchemeSpec, build_transmitters, check_grid, run_cell

    if scheme not in (*IMAGE_SCHEMES, "lamsc"):
        raise SemcomError(f"unknown scheme {scheme!r}; choose one of {', '.join((*IMAGE_SCHEMES, 'lamsc'))}")
    out = check_output_file(out, IMAGE_OUT_SUFFIXES)
    cbr_value = parse_number(cbr) if cbr is not None else (None if scheme == "lamsc" else 1 / 16)
    check_grid(channel, [snr], [] if cbr_value is None else [cbr_value])
    if scheme == "lamsc":
        row, x_hat = transmit_lamsc(image, snr, channel, cbr_value, scorer, asc, seed, receiver, side_link)
    else:
        kind = {"jscc": None, "softcast": transform}.get(scheme, codec)
        spec = SchemeSpec(scheme, kind, str(checkpoint) if checkpoint else None)
        transmitter = build_transmitters([spec], channel, [cbr_value])[spec]
        x = load_image(image)
        row = run_cell(spec, channel, [(image.stem, x)], snr, cbr_value, seed, keep=True, transmitter=transmitter)[0]
        x_hat = row.pop("x_hat")
    with atomic_file(out) as tmp:
        save_image(x_hat, tmp)
    out_console.print(json.dumps(row, indent=1, default=str))


def transmit_lamsc(image: Path, snr: float, channel: str, cbr: float | None, scorer: str, asc: str, seed: int,
                   receiver: str = "shipped", side_link: str = "ideal"):
    """One image through LAM-SC: (printable row, received semantic image)."""
    from semcom.data import load_image
    from semcom.schemes.lamsc.evaluate import build_lamsc
    from semcom.seeding import make_generator

    lamsc = build_lamsc(channel, cbr, scorer, asc, receiver=receiver, side_link=side_link)
    x = load_image(image)
    result = lamsc.transmit(x, snr, make_generator(seed))
    row = {"scheme": "lamsc", "image": image.stem, "snr_db": snr, "channel": channel, "cbr": lamsc.cbr,
           **result.row(x), "fallback": result.fallback, "selected": result.selected[: len(result.segments)].tolist(),
           "scores": None if result.scores is None else result.scores[: len(result.segments)].tolist(),
           "seconds": result.seconds}
    return row, result.x_hat


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input) instead of raising for known errors."""
    from semcom.seeding import fast_cpu_math

    fast_cpu_math()
    global INVOCATION
    typed = Path(sys.argv[0]).name == "semcom" and argv is None
    INVOCATION = [sys.argv[0] if typed else "semcom", *(sys.argv[1:] if argv is None else argv)]
    try:
        result = app(args=argv, prog_name="semcom", standalone_mode=False)
    except SemcomError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        console.print("aborted")
        return 130
    except typer.TyperException as exc:  # usage errors: unknown command or option, missing argument, ...
        console.print(f"[red]error:[/red] {exc.format_message()} (see --help)", highlight=False, soft_wrap=True)
        return exc.exit_code
    return result if isinstance(result, int) else 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
