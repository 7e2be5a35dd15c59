"""``semcom models``: every model shipped in ``semcom/checkpoints``: scheme, file, what it serves, size, training
steps and CPU-hours (read from the checkpoint and the training logs beside it) and the command that trained it."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from semcom.cli.common import FORMAT_HELP, Column, app, check_format, out_console, render
from semcom.training.checkpoint import PACKAGE_CHECKPOINTS
from semcom.units import cbr_text

MODEL_SUFFIXES = (".pt", ".th", ".safetensors")
README = "README 'Training the shipped models'"
TRAINED_BY = {  # file (relative to semcom/checkpoints) -> (scheme, the command that made it)
    "adjscc.pt": ("jscc", "semcom train jscc --data ../shared/data/photos-train --out runs/adjscc --cbr 1/16,1/8 "
                          "--snr-range=-2,16 --steps 11000 --lr 1e-3, then --out runs/adjscc-multirate "
                          f"--cbr 1/64,1/32,1/16,1/8 --steps 6000 --lr 3e-4 --init-from runs/adjscc/last.pt ({README})"),
    "hybrid-cbr16.pt": ("jscc", "benchmarks/jscc_recipes.py --only hybrid-b2-snr-range-logmse (20 CPU-min), then "
                                "semcom train jscc --data ../shared/data/photos-train --out runs/jscc-hybrid16-b2 "
                                "--model hybrid --widths 64 --latent 96 --blocks 2 --cbr 1/16 --snr-range=-2,16 "
                                "--batch 32 --crop 64 --lr 1e-3 --clip 1 --schedule late-cosine --cpu-budget 3600 "
                                "--loss log-mse --init-from runs/recipes/hybrid-b2-snr-range-logmse/last.pt "
                                f"--export src/semcom/checkpoints/hybrid-cbr16.pt ({README})"),
    "hybrid-cbr8.pt": ("jscc", "semcom train jscc --data ../shared/data/photos-train --out runs/jscc-hybrid8-b2 "
                               "--model hybrid --widths 64 --latent 192 --blocks 2 --cbr 1/8 --snr-range=-2,16 "
                               "--batch 32 --crop 64 --lr 1e-3 --clip 1 --schedule late-cosine --cpu-budget 2400 "
                               "--loss log-mse --threads 2; exported with semcom.training.checkpoint.slim_copy "
                               f"({README})"),
    "hybrid-cbr32.pt": ("jscc", "semcom train jscc --data ../shared/data/photos-train --out runs/jscc-hybrid32-b2 "
                                "--model hybrid --widths 64 --latent 48 --blocks 2 --cbr 1/32 --snr-range=-2,16 "
                                "--batch 32 --crop 64 --lr 1e-3 --clip 1 --schedule late-cosine --cpu-budget 2400 "
                                "--loss log-mse --threads 2; exported with semcom.training.checkpoint.slim_copy "
                                f"({README})"),
    "hybrid-cbr16-10db.pt": ("jscc", "benchmarks/jscc_recipes.py --only hybrid-strided-10db (20 CPU-min), then "
                                     "semcom train jscc --data ../shared/data/photos-train --out "
                                     "runs/jscc-hybrid16-strided-10db --model hybrid --widths 64 --latent 96 --stem "
                                     "strided --cbr 1/16 --snr-range=10,10 --batch 32 --crop 64 --lr 1e-3 --clip 1 "
                                     "--schedule late-cosine --cpu-budget 3600 --init-from "
                                     "runs/recipes/hybrid-strided-10db/last.pt; exported with "
                                     f"semcom.training.checkpoint.slim_copy ({README}); used from 8 dB up "
                                     "(benchmarks/jscc_pick.py)"),
    "gesco/diffusion-camvid.pt": ("gesco", "semcom train gesco --part diffusion --threads 1 --steps 13000 "
                                           "--corrupt-with map-jscc --corrupt-checkpoint "
                                           "src/semcom/checkpoints/gesco/map-jscc-cbr32.pt --cbr 1/32 "
                                           "--snr-range=-5,20 --out runs/gesco-diffusion; exported with "
                                           "export_diffusion(..., guidance=2.0, sample_steps=25), the pair chosen on "
                                           "CamVid val by scripts/gesco_sweep.sh (README 'Training the other shipped "
                                           "models')"),
    "softcast-pca16.safetensors": ("softcast", "semcom train softcast --data ../shared/data/photos-train --out "
                                               "src/semcom/checkpoints/softcast-pca16.safetensors"),
    "cifar_resnet20.th": ("splitnn", "third-party pretrained CIFAR-10 ResNet-20 (see cifar_resnet20.LICENSE); the "
                                     "frozen classifier SemanticNN splits"),
    "attention_ci/patch-jscc.pt": ("attention-ci", "semcom train patch-jscc --out "
                                                   "src/semcom/checkpoints/attention_ci/patch-jscc.pt"),
}


def trained_by(relative: str, ckpt: dict) -> tuple[str, str]:
    if relative in TRAINED_BY:
        return TRAINED_BY[relative]
    folder, name = relative.split("/", 1) if "/" in relative else ("", relative)
    stem = name.rsplit(".", 1)[0]
    if folder == "lamsc":
        return "lamsc", f"scripts/train_lamsc.sh (semcom train lamsc --part {ckpt.get('part', stem)})"
    if folder == "splitnn":
        return "splitnn", f"scripts/train_splitnn.sh (semcom train splitnn --variant {stem})"
    if folder == "gesco":
        part = {"map-jscc": "maps", "map-denoiser": "denoiser", "diffusion": "diffusion",
                "segmenter": "segmenter"}.get(stem.split("-cbr")[0].split("-camvid")[0])
        if part:
            cbr = f" --cbr 1/{stem.split('-cbr')[1]}" if "-cbr" in stem else ""
            return "gesco", f"semcom train gesco --part {part}{cbr} --export src/semcom/checkpoints/{relative} ({README})"
    if folder == "attention_ci" and stem.startswith("vit-"):
        return "attention-ci", f"scripts/train_vit.sh (semcom train vit --preset {stem[4:]}, with warm restarts)"
    return "?", "unknown (not listed in semcom.cli.models)"


def serves(relative: str, ckpt: dict) -> str:
    """The operating points a model serves: CBRs (fractions) and the SNR range it was trained over."""
    train = ckpt.get("train_config") or {}
    parts = []
    cbr = ckpt.get("cbr") or train.get("cbr")
    if cbr is not None and not relative.startswith(("splitnn/", "attention_ci/")):
        parts.append("CBR " + ",".join(cbr_text(c) for c in (cbr if isinstance(cbr, (list, tuple)) else [cbr])))
    if "components" in ckpt:
        parts.append(f"CBR up to {cbr_text(ckpt['components'] / 1536)}")
    snr = train.get("snr_range") or ckpt.get("snr_range")
    if snr:
        parts.append(f"SNR {snr[0]:g}..{snr[1]:g} dB")
    if train.get("variant"):
        parts.append(train["variant"])
    if train.get("preset") or ckpt.get("role"):
        parts.append(f"{train.get('preset') or ckpt.get('role')} ViT, CIFAR-10 32x32")
    if relative.endswith(".th"):
        parts.append("CIFAR-10 32x32")
    return ", ".join(parts) or "-"


def training_logs(path: Path) -> list[Path]:
    """The JSONL logs copied beside a checkpoint: ``stem.train*.jsonl`` and earlier stages ``stem.stage*.train.jsonl``."""
    stem = path.name.rsplit(".", 1)[0]
    return sorted(p for p in path.parent.glob(f"{stem}.*jsonl") if ".train" in p.name)


def effort(path: Path, ckpt: dict) -> tuple[int | None, float | None, int]:
    """(training steps, CPU-hours, runs): summed over the logs beside the checkpoint (one per run or warm restart),
    else read from the checkpoint itself."""
    steps, hours, runs = 0, 0.0, 0
    for log in training_logs(path):
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        last = json.loads(lines[-1]) if lines else {}
        if "step" in last:
            steps, hours, runs = steps + int(last["step"]), hours + float(last.get("cpu_hours", 0.0)), runs + 1
    if runs:
        return steps, hours, runs
    step, cpu = ckpt.get("step") or ckpt.get("steps"), ckpt.get("cpu_hours")
    return step, cpu, 1 if step else 0


def read_metadata(path: Path) -> dict:
    """What a model file says about itself (weights are not kept)."""
    if path.suffix == ".safetensors":
        from semcom.jscc.softcast import load_basis

        basis = load_basis(path)
        return {**basis.meta, "components": basis.components}
    if path.suffix == ".th":
        return {}
    from semcom.training.checkpoint import read_checkpoint

    return {k: v for k, v in read_checkpoint(path).items() if k not in ("state_dict", "optimizer", "rng")}


def model_rows(root: Path = PACKAGE_CHECKPOINTS) -> list[dict]:
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in MODEL_SUFFIXES):
        relative = path.relative_to(root).as_posix()
        ckpt = read_metadata(path)
        scheme, command = trained_by(relative, ckpt)
        steps, hours, runs = effort(path, ckpt)
        rows.append({"scheme": scheme, "file": relative, "serves": serves(relative, ckpt),
                     "size_mb": path.stat().st_size / 1e6, "steps": steps, "cpu_hours": hours, "runs": runs,
                     "trained_by": command})
    return rows


COLUMNS = [
    Column("scheme", lambda r: r["scheme"], key=True), Column("file", lambda r: r["file"], key=True),
    Column("MB", lambda r: f"{r['size_mb']:.1f}"),
    Column("steps", lambda r: "-" if r["steps"] is None else f"{r['steps']}"),
    Column("CPU-h", lambda r: "-" if r["cpu_hours"] is None else f"{r['cpu_hours']:.2f}"),
]


@app.command()
def models(format: str = typer.Option("table", "--format", help=FORMAT_HELP)):
    """List every shipped model: scheme, file (under semcom/checkpoints), what it serves, size, training steps and
    CPU-hours (all runs of it), and the command that trained it."""
    rows = model_rows()
    render(rows, COLUMNS, f"shipped models in {PACKAGE_CHECKPOINTS}", check_format(format))
    if format == "table":  # the long fields, one model at a time
        for r in rows:
            out_console.print(f"{r['file']}\n  serves: {r['serves']}\n  trained by: {r['trained_by']}", highlight=False)
