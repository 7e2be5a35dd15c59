"""The offline demo: bundled photos through learned JSCC, the digital chain and the capacity bound."""

from __future__ import annotations

import json
from pathlib import Path

from semcom.data import demo_images
from semcom.errors import SemcomError
from semcom.experiments.evaluate import SchemeSpec, summarize, sweep
from semcom.experiments.report import image_grid_html, plot_metric_vs_snr, summary_table_html, write_html
from semcom.experiments.results import write_results
from semcom.outputs import atomic_folder, check_output_folder
from semcom.schemes.attention_ci.demo import attention_ci_section
from semcom.schemes.lamsc.demo import lamsc_section
from semcom.schemes.splitnn.demo import splitnn_section


def demo_specs(codecs: list[str], checkpoint: str | None = None) -> list[SchemeSpec]:
    if not codecs:
        raise SemcomError("the demo needs at least one codec for the digital chain")
    return ([SchemeSpec("jscc", checkpoint=checkpoint)] + [SchemeSpec("digital", c) for c in codecs]
            + [SchemeSpec("bound", codecs[0])])


def run_demo(out: Path, snrs: list[float], cbrs: list[float], channel: str, codecs: list[str], size: int, seed: int,
             workers: int = 1, checkpoint: str | None = None, on_cell=None,
             transmitters: dict | None = None, overwrite: bool = False) -> tuple[Path, list[dict]]:
    """Run the demo grid and write the report folder (index.html, results.json, results.csv, plots).

    ``out`` must be new, empty or an earlier semcom report unless ``overwrite`` (see ``semcom.outputs``); it is
    checked before the grid runs.

    Returns the folder and the per-(scheme, SNR, CBR) summary.
    """
    out = check_output_folder(out, overwrite)
    images = demo_images(size)
    specs = demo_specs(codecs, checkpoint)
    rows = sweep(specs, channel, images, snrs, cbrs, seed=seed, workers=workers, keep=True, on_cell=on_cell,
                 transmitters=transmitters)
    summary = summarize(rows)
    config = {"command": "semcom demo", "images": [n for n, _ in images], "size": size, "snr_db": snrs, "cbr": cbrs,
              "channel": channel, "schemes": [s.label for s in specs], "seed": seed}
    with atomic_folder(out, overwrite) as tmp:
        write_results(tmp, config, rows, summary)
        plot_metric_vs_snr(summary, "psnr_db", tmp / "psnr_vs_snr.png", "PSNR")
        plot_metric_vs_snr(summary, "ms_ssim", tmp / "msssim_vs_snr.png", "MS-SSIM")
        splitnn_html, splitnn_rows = splitnn_section(tmp, seed)
        (tmp / "splitnn.json").write_text(json.dumps(splitnn_rows, indent=1))
        lamsc_html, lamsc_rows = lamsc_section(tmp, images, seed)
        (tmp / "lamsc.json").write_text(json.dumps(lamsc_rows, indent=1))
        aci_html, aci_rows = attention_ci_section(tmp)
        (tmp / "attention_ci.json").write_text(json.dumps(aci_rows, indent=1))
        sections = [
            ("What was run", f"<p>{len(images)} photos bundled with scikit-image, {size}x{size}, channel <b>{channel}</b>, "
             f"SNR {', '.join(f'{s:g}' for s in snrs)} dB, CBR {', '.join(f'{c:.4g}' for c in cbrs)}. "
             "jscc = the shipped SNR-adaptive learned model; digital-X = codec X rate-controlled to the bit budget of "
             "the best 5G LDPC + QAM scheme for that SNR, every codeword really decoded (a failed decode shows a grey "
             "image); bound-X = codec X at the channel capacity, error-free.</p>"
             f"<pre>{json.dumps(config, indent=1)}</pre>"),
            ("PSNR vs SNR", "<img class='plot' src='psnr_vs_snr.png'>"),
            ("MS-SSIM vs SNR", "<img class='plot' src='msssim_vs_snr.png'>"),
            ("Mean over images", summary_table_html(summary)),
            ("Reconstructions", image_grid_html(tmp, images, rows, snrs)),
            ("LAM-SC: segment-based semantic transmission", lamsc_html),
            ("Split inference (SemanticNN)", splitnn_html),
            ("Attention-aware collaborative inference", aci_html),
        ]
        write_html(tmp, "semcom demo", sections)
    return out, summary
