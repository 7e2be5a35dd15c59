"""``semcom train ...``: one command per trainable model (the trainers live with their schemes)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from semcom.cli.common import (
    CHANNEL_HELP, CHECKPOINT_SUFFIXES, RESUME_ANYWAY_HELP, out_console, parse_cbr, parse_cbrs, parse_names,
    parse_number, parse_snr_range, run_training, train_app
)
from semcom.digital.capacity import DIGITAL_CHANNELS
from semcom.errors import SemcomError
from semcom.outputs import check_output_file


@train_app.command("jscc")
def train_jscc(
    data: Path = typer.Option(..., help="Folder of training images (random crops are taken)."),
    out: Path = typer.Option(Path("runs/jscc"), help="Run folder: last.pt, train.jsonl, config.json. Resumes if last.pt exists."),
    cbr: str = typer.Option("1/16,1/8", help="CBRs to train for (one rate-adaptive model covers all of them)."),
    snr_range: str = typer.Option("-2,16", help="Training SNR drawn uniformly from A,B dB."),
    channel: str = typer.Option("awgn", help=CHANNEL_HELP),
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
    loss: str = typer.Option("mse", help="mse | log-mse (mean log MSE per image: each SNR of a mixed batch counts in dB)."),
    init_basis: str = typer.Option("pca", help="hybrid: the linear path starts as SoftCast with this basis: pca (shipped) or a file from 'semcom train softcast'."),
    linear_lr_scale: float = typer.Option(0.05, help="hybrid: learning rate of the linear path relative to --lr."),
    stem: str = typer.Option("unshuffle", help="hybrid/plain: unshuffle (4x4 pixel-unshuffle stem, cheapest step) | "
                                               "strided (four stride-2 convolutions from full resolution)."),
    blocks: int = typer.Option(0, help="hybrid/plain: extra residual conv blocks at each resolution."),
    init_from: Optional[Path] = typer.Option(None, help="Warm start from this JSCC checkpoint's weights."),
    export: Optional[Path] = typer.Option(None, help="Also write a slim float16 copy of the final checkpoint here."),
    resume_anyway: bool = typer.Option(False, "--resume-anyway", help=RESUME_ANYWAY_HELP),
):
    """Train (or resume) a learned image JSCC model. Under torchrun it runs data-parallel."""
    from semcom.jscc.models import JSCCConfig
    from semcom.jscc.train import TrainConfig, train

    lo_hi = parse_snr_range(snr_range)
    w = tuple(int(parse_number(v)) for v in parse_names(widths))
    if model not in ("adjscc", "deepjscc", "hybrid", "plain"):
        raise SemcomError(f"unknown JSCC model {model!r}; choose adjscc, deepjscc, hybrid or plain")
    if model not in ("hybrid", "plain") and (stem != "unshuffle" or blocks):
        raise SemcomError(f"--stem and --blocks are options of --model hybrid|plain, not {model}")
    if model in ("hybrid", "plain"):
        from semcom.jscc.hybrid import HybridConfig

        if len(w) != 1 or linear_path:
            raise SemcomError(f"--model {model} takes one --widths value (e.g. --widths 64) and no --linear-path")
        model_cfg = HybridConfig(width=w[0], latent_channels=latent, linear=(model == "hybrid"), stem=stem,
                                 blocks=blocks)
    else:
        model_cfg = JSCCConfig(widths=w, latent_channels=latent, adaptive=(model == "adjscc"), name=model,
                               linear_path=linear_path)
    cfg = TrainConfig(data=str(data), out=str(out), cbr=tuple(parse_cbrs(cbr)), snr_range=lo_hi,
                      channel=channel, steps=steps, batch=batch, crop=crop, lr=lr, val_count=val_count,
                      eval_every=eval_every, ckpt_every=ckpt_every, seed=seed, device=device, threads=threads,
                      init_from=str(init_from) if init_from else None, clip=clip, schedule=schedule,
                      cpu_budget_s=cpu_budget, init_basis=init_basis, linear_lr_scale=linear_lr_scale, loss=loss)
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
    channel: str = typer.Option("awgn", help=" | ".join(DIGITAL_CHANNELS) + " (a bit channel)"), modulation: str = typer.Option("qpsk"),
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
    snr_range: str = typer.Option("-2,16"), channel: str = typer.Option("awgn", help=CHANNEL_HELP),
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
                           jscc=str(jscc) if jscc else None, asc=str(asc) if asc else None, cbr=parse_cbr(cbr), crop=crop,
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


@train_app.command("patch-jscc")
def train_patch_jscc_cmd(
    out: Path = typer.Option(Path("runs/patch_jscc.pt"), help="Checkpoint to write."),
    data: Optional[Path] = typer.Option(None, help="Folder holding cifar10_train_jpg.zip (default: the shared data folder)."),
    limit: Optional[int] = typer.Option(10000), steps: int = typer.Option(3000), batch: int = typer.Option(64),
    symbols: int = typer.Option(12, help="Real symbols per 4x4 patch (even): 12 = 6 channel uses for 48 values."),
    snr_range: str = typer.Option("-2,15"), channel: str = typer.Option("awgn", help=CHANNEL_HELP), seed: int = typer.Option(0),
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
