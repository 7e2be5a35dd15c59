"""GESCO on the command line (issue 16): ``semcom train gesco --part maps|denoiser|diffusion|segmenter``, ``semcom
eval gesco`` (map recovery per transmitter, and with a diffusion model the generated images: segmenter mIoU against
the true map, FID-/KID-EffNet, PSNR/MS-SSIM, sampling time) and the label-map path of ``semcom transmit --scheme
gesco`` (a label-map PNG, or a photo with ``--labels MAP.png``; writes the generated image)."""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Optional

import typer

from semcom.cli.common import (
    CHANNEL_HELP, CHECKPOINT_SUFFIXES, FORMAT_HELP, OVERWRITE_HELP, RESUME_ANYWAY_HELP, SNR_HELP, Column,
    check_channel, check_format, cbr_cell, console, eval_app, integer, number, out_console, parse_cbr, parse_cbrs,
    parse_names, parse_snr_range, parse_snrs, progress_bar, refuse_inapplicable, render, run_training, saved_note,
    snr_cell, train_app
)
from semcom.errors import SemcomError
from semcom.outputs import check_output_file, check_output_folder, check_run_folder

PARTS = ("maps", "denoiser", "diffusion", "segmenter")
CORRUPTIONS = ("blob", "digital", "analog", "analog+denoiser", "map-jscc")
CAMVID_SIZE = (180, 240)
"""(H, W) of the shared CamVid maps: the size GESCO sends a map at, so the size corrupted training maps are sent at."""
TRANSMITTER_HELP = ("digital | analog | analog+denoiser | map-jscc | adaptive (digital where it is reliable within the "
                    "budget, else the map JSCC)")


# ---- semcom train gesco ------------------------------------------------------------------------------------------

@train_app.command("gesco")
def train_gesco_cmd(
    part: str = typer.Option(..., help="maps (the learned map JSCC) | denoiser (the analog one-hot map's learned "
                                       "receiver) | diffusion (the generative receiver) | segmenter (the CamVid "
                                       "segmenter the evaluation scores generated images with)"),
    out: Optional[Path] = typer.Option(None, help="Run folder (default runs/gesco-PART): last.pt, train.jsonl, "
                                                  "config.json. Resumes if last.pt exists."),
    data: Optional[Path] = typer.Option(None, help="CamVid folder (default: ../shared/data/camvid); only train (and "
                                                   "a few val pairs for validation) is used."),
    steps: Optional[int] = typer.Option(None, help="Training steps (default: the part's own)."),
    batch: Optional[int] = typer.Option(None), lr: Optional[float] = typer.Option(None),
    cpu_budget: float = typer.Option(0.0, help="Stop after this many process CPU-seconds of training (0: run "
                                               "--steps)."),
    threads: int = typer.Option(0), seed: int = typer.Option(0),
    device: str = typer.Option("cpu", help="cpu | cuda"),
    limit: Optional[int] = typer.Option(None, help="Use only the first N train pairs."),
    cbr: Optional[str] = typer.Option(None, help="maps, denoiser: the CBR trained for (default 1/32); diffusion: the "
                                                 "--corrupt-with transmitter's CBR."),
    snr_range: Optional[str] = typer.Option(None, help="maps, denoiser; diffusion with --corrupt-with: training SNRs "
                                                       "drawn uniformly from A,B dB (default -5,20)."),
    channel: Optional[str] = typer.Option(None, help=f"maps, denoiser; diffusion with --corrupt-with: {CHANNEL_HELP} "
                                                     "(default awgn)."),
    crop: Optional[int] = typer.Option(None, help="maps, denoiser: square crop side (0: whole maps)."),
    width: Optional[int] = typer.Option(None, help="maps, denoiser: model width."),
    blocks: Optional[int] = typer.Option(None, help="maps, denoiser: residual blocks."),
    config: Optional[str] = typer.Option(None, help="diffusion: the model config (default camvid-cpu)."),
    p_noisy: Optional[float] = typer.Option(None, help="diffusion: share of maps corrupted (default 0.3)."),
    p_drop: Optional[float] = typer.Option(None, help="diffusion: label dropout for guidance (default 0.2)."),
    corrupt_with: Optional[str] = typer.Option(None, help="diffusion: how maps are corrupted, blob (random class "
                                                          "blobs + noise, default) | digital | analog | "
                                                          "analog+denoiser | map-jscc (maps really sent at the "
                                                          "CamVid size through that transmitter at --cbr, "
                                                          "--channel, an SNR from --snr-range)."),
    corrupt_checkpoint: Optional[Path] = typer.Option(None, help="diffusion: the --corrupt-with map-jscc or "
                                                                 "analog+denoiser model (default: the shipped one)."),
    eval_every: Optional[int] = typer.Option(None), ckpt_every: Optional[int] = typer.Option(None),
    export: Optional[Path] = typer.Option(None, help="Also write the shippable checkpoint here (diffusion: the EMA "
                                                     "weights in float16)."),
    resume_anyway: bool = typer.Option(False, "--resume-anyway", help=RESUME_ANYWAY_HELP),
):
    """Train (or resume) one of GESCO's models on CamVid train (thin wrappers over the trainers of
    semcom.schemes.gesco and semcom.segmentation.semantic)."""
    if part not in PARTS:
        raise SemcomError(f"unknown --part {part!r}; choose one of {', '.join(PARTS)}")
    given = {"cbr": cbr, "snr_range": snr_range, "channel": channel, "crop": crop, "width": width, "blocks": blocks,
             "config": config, "p_noisy": p_noisy, "p_drop": p_drop, "corrupt_with": corrupt_with,
             "corrupt_checkpoint": corrupt_checkpoint}
    takes = {"maps": {"cbr", "snr_range", "channel", "crop", "width", "blocks"},
             "diffusion": {"config", "p_noisy", "p_drop", "corrupt_with", "corrupt_checkpoint", "cbr", "snr_range",
                           "channel"}, "segmenter": set()}
    refuse_inapplicable(given, takes.get(part, takes["maps"]), f"--part {part}")
    common = {"out": str(out or Path("runs") / f"gesco-{part}"), "data": str(data) if data else None, "steps": steps,
              "batch": batch, "lr": lr, "cpu_budget_s": cpu_budget, "threads": threads, "seed": seed, "device": device,
              "limit": limit, "eval_every": eval_every, "ckpt_every": ckpt_every}
    common = {k: v for k, v in common.items() if v is not None}
    check_run_folder(common["out"])
    if export:
        export = check_output_file(export, CHECKPOINT_SUFFIXES, "--export")
    if part in ("maps", "denoiser"):
        from semcom.schemes.gesco.train_maps import MapTrainConfig, train_maps

        extra = {"model": "map-jscc" if part == "maps" else "map-denoiser", "cbr": parse_cbr(cbr),
                 "snr_range": parse_snr_range(snr_range) if snr_range else None,
                 "channel": channel and check_channel(channel), "crop": crop, "width": width, "blocks": blocks}
        cfg = MapTrainConfig(**common, **{k: v for k, v in extra.items() if v is not None})
        run_training(train_maps, cfg, export, half=False, resume_anyway=resume_anyway)
    elif part == "diffusion":
        train_diffusion_part(common, config, p_noisy, p_drop, corrupt_with, corrupt_checkpoint, cbr, snr_range, channel,
                             export, resume_anyway)
    else:
        train_segmenter_part(common, export, resume_anyway)


def train_diffusion_part(common: dict, config: str | None, p_noisy, p_drop, corrupt_with: str | None,
                         corrupt_checkpoint: Path | None, cbr: str | None, snr_range: str | None,
                         channel: str | None, export: Path | None, resume_anyway: bool) -> None:
    from semcom.schemes.gesco.diffusion import diffusion_config
    from semcom.schemes.gesco.train_diffusion import DiffusionTrainConfig, export_diffusion, train_diffusion

    kind = corrupt_with or "blob"
    if kind not in CORRUPTIONS:
        raise SemcomError(f"unknown --corrupt-with {kind!r}; choose one of {', '.join(CORRUPTIONS)}")
    if kind == "blob" and any(v is not None for v in (corrupt_checkpoint, cbr, snr_range, channel)):
        raise SemcomError("--cbr, --snr-range, --channel and --corrupt-checkpoint set the --corrupt-with transmitter; "
                          "the default blob corruption takes none of them")
    model_cfg = diffusion_config(config or "camvid-cpu")
    extra = {k: v for k, v in (("p_noisy", p_noisy), ("p_drop", p_drop)) if v is not None}
    cfg = DiffusionTrainConfig(**common, **extra)
    corruption = None
    if kind != "blob":
        from semcom.data.camvid import CAMVID
        from semcom.schemes.gesco.scheme import ChannelCorruption, build_map_transmitter

        sender = build_map_transmitter(kind, parse_cbr(cbr) or 1 / 32, CAMVID, corrupt_checkpoint, decode=False,
                                       option="--corrupt-checkpoint")
        corruption = ChannelCorruption(sender, check_channel(channel or "awgn"),
                                       parse_snr_range(snr_range) if snr_range else (-5.0, 20.0), CAMVID_SIZE)
    last = run_training(lambda c, log, progress, resume_anyway: train_diffusion(
        c, model_cfg, corruption, log=log, progress=progress, resume_anyway=resume_anyway), cfg, None,
        resume_anyway=resume_anyway)
    if export:
        export_diffusion(last, export)
        out_console.print(f"exported {export}")


def train_segmenter_part(common: dict, export: Path | None, resume_anyway: bool) -> None:
    from semcom.segmentation.semantic import SegmenterTrainConfig, export_segmenter, train_segmenter

    names = {f.name for f in fields(SegmenterTrainConfig)}
    defaults = {"cpu_budget_s": 0.0, "threads": 0, "seed": 0, "device": "cpu"}  # always passed; dropped when unset
    unknown = sorted(k for k in common if k not in names and common[k] != defaults.get(k, object()))
    if unknown:
        raise SemcomError(f"{', '.join('--' + k.replace('_', '-') for k in unknown)} do(es) not apply to --part "
                          "segmenter")
    cfg = SegmenterTrainConfig(**{k: v for k, v in common.items() if k in names})
    last = run_training(train_segmenter, cfg, None, resume_anyway=resume_anyway)
    if export:
        export_segmenter(last, export)
        out_console.print(f"exported {export}")


# ---- semcom eval gesco -------------------------------------------------------------------------------------------

COLUMNS = [
    Column("transmitter", lambda r: r["transmitter"], key=True),
    Column("channel", lambda r: r["channel"] or "-", key=True),
    Column("CBR", cbr_cell(), key=True), Column("SNR dB", snr_cell(), key=True),
    Column("channel uses", integer("channel_uses")), Column("arrived %", lambda r: "-" if r.get("success_rate") is None
                                                             else f"{100 * r['success_rate']:.0f}"),
    Column("map acc", number("map_pixel_accuracy", 3)), Column("map mIoU", number("map_miou", 3)),
    Column("seg mIoU", number("seg_miou", 3)), Column("FID-EffNet", number("fid_effnet", 2)),
    Column("KID-EffNet", number("kid_effnet", 4)), Column("PSNR dB", number("psnr_db")),
    Column("MS-SSIM", number("ms_ssim", 3)), Column("LPIPS", number("lpips", 3)),
    Column("s/image", number("sampling_seconds", 2)),
]


GENERATIVE_HEADERS = {"seg mIoU", "FID-EffNet", "KID-EffNet", "PSNR dB", "MS-SSIM", "LPIPS", "s/image"}


def load_segmenter_option(value: str) -> tuple[object | None, str | None, str | None]:
    """(segmenter, its path, a note) from --segmenter: auto (the shipped one if any), none, or a path."""
    if value == "none":
        return None, None, None
    try:
        from semcom.segmentation.semantic import load_segmenter, shipped_segmenter
    except ImportError:
        if value == "auto":
            return None, None, "no CamVid segmenter in this installation (semcom.segmentation.semantic)"
        raise SemcomError("--segmenter needs semcom.segmentation.semantic, which this installation lacks") from None
    path = shipped_segmenter() if value in ("auto", "shipped") else Path(value)
    if path is None:
        if value == "auto":
            return None, None, "no trained CamVid segmenter is shipped yet: segmenter mIoU not measured"
        raise SemcomError("no trained CamVid segmenter is shipped yet: train one with `semcom train gesco --part "
                          "segmenter ...` or pass --segmenter PATH")
    from semcom.data.camvid import CAMVID

    return load_segmenter(path, CAMVID.num_classes)[0], str(path), None


def diffusion_option(value: str) -> tuple[str, str | None]:
    """(the diffusion value for build_gesco, a note) from --diffusion: auto (shipped if any, else map only), shipped,
    none or a path."""
    from semcom.schemes.gesco.scheme import shipped_diffusion

    if value != "auto":
        return value, None
    shipped = shipped_diffusion()
    if shipped is None:
        return "none", ("no trained GESCO diffusion model is shipped yet: map recovery only (train one with `semcom "
                        "train gesco --part diffusion ...` or pass --diffusion PATH)")
    return str(shipped), None


def map_checkpoints(text: str | None, kind: str, cbrs: list[float], option: str) -> dict[float, str | None]:
    """CBR -> the checkpoint a map-jscc / denoiser transmitter uses there: from --map-jscc / --denoiser (comma-separated
    files, each matched to the CBR its config names) or, for a CBR none of them has, the shipped one."""
    from semcom.schemes.gesco.scheme import not_shipped, shipped_map_model
    from semcom.training.checkpoint import read_checkpoint

    given: dict[float, str] = {}
    for name in parse_names(text or ""):
        config = read_checkpoint(name).get("model_config")
        held = config.get("name") if isinstance(config, dict) else None
        if held != kind:
            raise SemcomError(f"{option} {name} does not hold a {kind} (it holds a {held!r})")
        given[float(config["cbr"])] = name
    out = {}
    for cbr in cbrs:
        match = next((p for c, p in given.items() if abs(c - cbr) < 1e-12), None)
        shipped = shipped_map_model(kind, cbr)
        if match is None and shipped is None:
            raise not_shipped(kind, option, cbr)
        out[cbr] = match or str(shipped)
    return out


@eval_app.command("gesco")
def eval_gesco(
    data: Optional[Path] = typer.Option(None, help="CamVid folder (default: ../shared/data/camvid)."),
    split: str = typer.Option("test", help="train | val | test"),
    snr: str = typer.Option("-5,0,5,10,20", help=SNR_HELP),
    channel: str = typer.Option("awgn", help=f"Comma-separated: {CHANNEL_HELP}."),
    cbr: str = typer.Option("1/32", help="Comma-separated CBRs of the RGB image (1/64,1/32,1/16)."),
    transmitter: str = typer.Option("digital,analog", help=f"Comma-separated: {TRANSMITTER_HELP}."),
    map_jscc: Optional[str] = typer.Option(None, help="map-jscc checkpoints, comma-separated, one per CBR (default: "
                                                      "the shipped ones)."),
    denoiser: Optional[str] = typer.Option(None, help="analog+denoiser checkpoints, comma-separated, one per CBR "
                                                      "(default: the shipped ones)."),
    diffusion: str = typer.Option("auto", help="Diffusion checkpoint | shipped | none | auto (the shipped one if any, "
                                               "else map recovery only)."),
    segmenter: str = typer.Option("auto", help="CamVid segmenter checkpoint | shipped | none | auto."),
    steps: Optional[int] = typer.Option(None, help="DDIM steps (default: the model's)."),
    guidance: Optional[float] = typer.Option(None, help="Guidance scale s >= 0 (1: none; default: the model's)."),
    limit: Optional[int] = typer.Option(None, help="Use only the first N pairs of the split."),
    fast: bool = typer.Option(False, "--fast", help="digital: draw each outcome from the BLER table instead of "
                                                    "LDPC-decoding every codeword."),
    device: str = typer.Option("cpu", help="cpu | cuda (where the diffusion model samples)."),
    lpips: Optional[Path] = typer.Option(None, help="LPIPS of the generated images: torchvision's AlexNet state dict "
                                                    "(alexnet.pth; no weights ship offline)."),
    seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, help="Write results.json / results.csv into this folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    format: str = typer.Option("table", "--format", help=FORMAT_HELP),
):
    """GESCO on CamVid: map recovery per transmitter (pixel accuracy, mIoU), and with a diffusion model the generated
    images (segmenter mIoU against the true map, FID-/KID-EffNet, PSNR/MS-SSIM, LPIPS with --lpips, sampling seconds
    per image)."""
    from semcom.data.camvid import CAMVID, load_camvid
    from semcom.experiments.results import write_results
    from semcom.schemes.gesco.evaluate import evaluate_cell, load_distribution_meter, segmenter_ceiling
    from semcom.schemes.gesco.scheme import TRANSMITTERS, build_gesco, check_steps_guidance

    snrs, cbrs, fmt = parse_snrs(snr), parse_cbrs(cbr), check_format(format)
    channels = [check_channel(c) for c in parse_names(channel)]
    kinds = parse_names(transmitter)
    bad = [k for k in kinds if k not in TRANSMITTERS] or ([] if kinds else [transmitter])
    if bad:
        raise SemcomError(f"unknown map transmitter {bad[0]!r}; choose from {', '.join(TRANSMITTERS)}")
    if not channels:
        raise SemcomError(f"--channel needs at least one of {CHANNEL_HELP}")
    check_steps_guidance(steps, guidance)
    if limit is not None and limit < 1:
        raise SemcomError(f"--limit must be >= 1, got {limit}")
    if out:
        out = check_output_folder(out, overwrite)
    jscc_maps = (map_checkpoints(map_jscc, "map-jscc", cbrs, "--map-jscc")
                 if {"map-jscc", "adaptive"} & set(kinds) else {})
    checkpoints = {"map-jscc": jscc_maps, "adaptive": jscc_maps,
                   "analog+denoiser": (map_checkpoints(denoiser, "map-denoiser", cbrs, "--denoiser")
                                       if "analog+denoiser" in kinds else {})}
    diffusion_value, note = diffusion_option(diffusion)
    notes = [note] if note else []
    schemes = {(ch, c, k): build_gesco(ch, c, k, checkpoint=checkpoints.get(k, {}).get(c), diffusion=diffusion_value,
                                       steps=steps, guidance=guidance, decode=not fast, device=device)
               for ch in channels for c in cbrs for k in kinds}
    generated = diffusion_value != "none"
    seg, seg_path, seg_note = load_segmenter_option(segmenter)
    notes += [seg_note] if seg_note else []
    meter_factory = load_distribution_meter() if generated else None
    lpips_model = None
    if lpips is not None and generated:
        from semcom.metrics.lpips import LPIPS

        lpips_model = LPIPS(lpips)
    if generated and meter_factory is None:
        notes.append("no FID-/KID-EffNet in this installation (semcom.metrics.distribution)")
    for n in notes:
        console.print(f"note: {n}", highlight=False, soft_wrap=True)
    pairs = load_camvid(split, data, limit=limit)
    rows, summary = [], []
    if seg is not None:
        summary.append({"scheme": "real-photos", "transmitter": "real photos (ceiling)", "channel": None,
                        "cbr_target": None, "snr_db": None, "images": len(pairs),
                        **segmenter_ceiling(seg, pairs.images, pairs.labels, CAMVID.num_classes, CAMVID.ignore_index)})
    with progress_bar() as bar:
        task = bar.add_task("eval gesco", total=len(schemes) * len(snrs) * len(pairs))
        for scheme in schemes.values():
            for s in snrs:
                cell_rows, cell = evaluate_cell(scheme, pairs.labels, s, images=pairs.images, names=list(pairs.names),
                                                seed=seed, segmenter=seg if generated else None,
                                                meter_factory=meter_factory, on_image=lambda r: bar.advance(task),
                                                lpips=lpips_model)
                rows += cell_rows
                summary.append(cell)
    columns = COLUMNS if generated else [c for c in COLUMNS if c.header not in GENERATIVE_HEADERS or seg is not None
                                         and c.header == "seg mIoU"]
    render(summary, columns, f"GESCO on CamVid {split} ({len(pairs)} pairs"
           + (", map recovery only)" if not generated else ")"), fmt)
    if out:
        config = {"command": "semcom eval gesco", "argv": sys.argv[1:], "data": str(data) if data else None,
                  "split": split, "snr_db": snrs, "channel": channels, "cbr": cbrs, "transmitter": kinds,
                  "limit": limit, "seed": seed, "notes": notes, "segmenter": seg_path, "fast": fast,
                  "schemes": [s.describe() for s in schemes.values()]}
        from semcom.outputs import atomic_folder

        with atomic_folder(out, overwrite) as tmp:
            write_results(tmp, config, rows, summary)
    saved_note(out)


# ---- semcom transmit --scheme gesco ------------------------------------------------------------------------------

def read_label_png(path: Path, classes: int, photo: bool):
    """A label-map PNG as int64 [H, W]; an RGB file gets a hint on how GESCO takes a photo."""
    from PIL import Image, UnidentifiedImageError

    from semcom.data.camvid import load_label_map

    if path.is_file() and not photo:
        try:
            with Image.open(path) as img:
                mode = img.mode
        except (UnidentifiedImageError, OSError):
            mode = None
        if mode is not None and mode not in ("L", "P"):
            raise SemcomError(f"{path} is an image of pixel mode {mode}, not a label map: --scheme gesco sends a label "
                              "map (an 8-bit PNG of class indices); to send a photo's map, give the photo and --labels "
                              "MAP.png")
    return load_label_map(path, classes)


def transmit_labels_command(source: Path | None, labels: Path | None, options: dict, snr: str, channel: str,
                            seed: int, out: Path | None, as_json: bool) -> None:
    """``semcom transmit --scheme gesco``: ``source`` is a label-map PNG, or with ``labels`` the photo whose map
    ``labels`` is (the photo is not sent; it scores the generated image); ``out``: the image file to write, already
    checked by ``transmit``. Every check runs before the models load; the generated image is written atomically."""
    import torch

    from semcom.data import load_image, save_image
    from semcom.data.camvid import CAMVID
    from semcom.experiments import registry
    from semcom.metrics import ms_ssim, psnr_db
    from semcom.outputs import atomic_file
    from semcom.schemes.gesco.scheme import check_steps_guidance
    from semcom.seeding import make_generator

    entry = registry.get("gesco")
    refuse_inapplicable(options, set(entry.options), "--scheme gesco")
    if source is None:
        raise SemcomError("--scheme gesco sends a label map: give a label-map PNG (8-bit class indices), or a photo "
                          "and --labels MAP.png")
    if out is None:
        raise SemcomError("--scheme gesco needs --out FILE.png: where to write the generated image")
    snr_values = parse_snrs(snr)
    if len(snr_values) != 1:
        raise SemcomError(f"transmit sends at one SNR, got {snr!r} (use 'semcom eval gesco' for a grid)")
    snr_db = snr_values[0]
    check_steps_guidance(options.get("steps"), options.get("guidance"))
    built_options = {**options, "cbr": parse_cbr(options.get("cbr")), "channel": check_channel(channel)}
    photo = None
    if labels is not None:
        photo = load_image(source)
        label_map = read_label_png(labels, CAMVID.num_classes, photo=True)
        if tuple(photo.shape[-2:]) != tuple(label_map.shape):
            raise SemcomError(f"the photo {source.name} is {photo.shape[2]}x{photo.shape[1]} but its label map "
                              f"{labels.name} is {label_map.shape[1]}x{label_map.shape[0]}: they must have the same "
                              "size")
    else:
        label_map = read_label_png(source, CAMVID.num_classes, photo=False)
    scheme = entry.build(built_options)
    tx = scheme.transmit(label_map, snr_db, make_generator(entry.seed(seed, snr_db, scheme.cbr)))
    row = {"scheme": scheme.name, "transmitter": scheme.kind, "map": (labels or source).stem, "snr_db": snr_db,
           "channel": channel, "cbr": scheme.cbr, "channel_uses": tx.channel_uses, "ok": tx.ok, "seed": seed,
           **tx.details}
    if photo is not None and tx.details["generated"]:
        row |= {"psnr_db": psnr_db(photo[None], tx.x_hat[None]).item(),
                "ms_ssim": ms_ssim(photo[None], tx.x_hat[None]).item()}
    with atomic_file(out) as tmp:
        save_image(tx.x_hat.clamp(0, 1).to(torch.float32), tmp)
    row["written_to"] = str(out)
    if as_json:
        out_console.out(json.dumps(row, indent=1, default=str), highlight=False)
    else:
        out_console.print(transmit_summary(row), highlight=False, soft_wrap=True)


def transmit_summary(row: dict) -> str:
    from semcom.units import cbr_text

    def score(key: str) -> str:
        return "-" if row.get(key) is None else f"{row[key]:.3f}"

    lines = [(f"gesco ({row['transmitter']}) over {row['channel']} at {row['snr_db']:g} dB, CBR "
              f"{cbr_text(row['cbr'])}: {row['channel_uses']} channel uses"),
             f"map recovered: pixel accuracy {score('map_pixel_accuracy')}, mIoU {score('map_miou')}"
             + ("" if row["ok"] else f" (no map arrived: {row.get('reason')}; the receiver used its fallback)")]
    if row["generated"]:
        lines.append(f"image generated in {row['sampling_seconds']:.1f} s ({row['steps']} DDIM steps, guidance "
                     f"{row['guidance']:g})" + (f"; PSNR {row['psnr_db']:.2f} dB, MS-SSIM {row['ms_ssim']:.4f}"
                                                if "psnr_db" in row else ""))
    else:
        lines.append("no diffusion model (--diffusion none): written is the received map in CamVid colours")
    lines.append(f"written to {row['written_to']}")
    return "\n".join(lines)
