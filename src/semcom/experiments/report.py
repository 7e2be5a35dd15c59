"""Plots and a static HTML report (image grids, PSNR/MS-SSIM vs SNR) from evaluation rows."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from semcom.data.images import save_image  # noqa: E402
from semcom.units import cbr_text  # noqa: E402


METRIC_LABELS = {"psnr_db": "PSNR (dB)", "ms_ssim": "MS-SSIM", "ssim": "SSIM"}


def plot_metric_vs_snr(summary: list[dict], metric: str, path: Path, title: str = "") -> None:
    """One panel per (channel, CBR); one line per scheme."""
    panels = sorted({(s["channel"], s["cbr_target"]) for s in summary})
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), squeeze=False)
    for ax, (channel, cbr) in zip(axes[0], panels):
        for scheme in sorted({s["scheme"] for s in summary}):
            pts = sorted((s["snr_db"], s[metric]) for s in summary
                         if s["scheme"] == scheme and s["channel"] == channel and s["cbr_target"] == cbr)
            if pts:
                style = "--" if scheme.startswith("bound") else "-"
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=scheme)
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        ax.set_title(f"{title} {channel}, CBR {cbr_text(cbr)}".strip())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_table_html(summary: list[dict]) -> str:
    head = "<tr><th>scheme</th><th>channel</th><th>CBR</th><th>SNR dB</th><th>PSNR dB</th><th>MS-SSIM</th><th>decoded</th><th>s/image</th></tr>"
    body = "".join(
        f"<tr><td>{html.escape(s['scheme'])}</td><td>{s['channel']}</td><td>{s['cbr_target']:.4g}</td><td>{s['snr_db']:g}</td>"
        f"<td>{s['psnr_db']:.2f}</td><td>{s['ms_ssim']:.4f}</td><td>{100 * s['success_rate']:.0f}%</td><td>{s['seconds']:.3f}</td></tr>"
        for s in sorted(summary, key=lambda s: (s["channel"], s["cbr_target"], s["scheme"], s["snr_db"]))
    )
    return f"<table>{head}{body}</table>"


def image_grid_html(folder: Path, originals: list[tuple[str, torch.Tensor]], rows: list[dict], snrs: list[float]) -> str:
    """Rows of the grid: images; columns: original, then each scheme at each SNR in ``snrs``."""
    (folder / "images").mkdir(exist_ok=True)
    schemes = sorted({r["scheme"] for r in rows if "x_hat" in r})
    lookup = {(r["image"], r["scheme"], r["snr_db"], r["cbr_target"]): r for r in rows if "x_hat" in r}
    parts = []
    for cbr in sorted({r["cbr_target"] for r in rows}):
        cols = [(s, snr) for s in schemes for snr in snrs]
        head = "<tr><th>original</th>" + "".join(f"<th>{html.escape(s)}<br>{snr:g} dB</th>" for s, snr in cols) + "</tr>"
        body = []
        for name, x in originals:
            orig = f"images/{name}.png"
            if not (folder / orig).exists():
                save_image(x, folder / orig)
            cells = [f"<td><img src='{orig}'></td>"]
            for s, snr in cols:
                r = lookup.get((name, s, snr, cbr))
                if r is None:
                    cells.append("<td></td>")
                    continue
                file = f"images/{name}_{s}_{snr:g}dB_cbr{cbr:.4g}.png"
                save_image(r["x_hat"].clamp(0, 1), folder / file)
                note = f"{r['psnr_db']:.2f} dB" if r["ok"] else "decode failed"
                cells.append(f"<td><img src='{file}'><br><small>{note}</small></td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        parts.append(f"<h3>CBR {cbr_text(cbr)}</h3><table class='grid'>{head}{''.join(body)}</table>")
    return "".join(parts)


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:center;font-size:13px}} .grid img{{width:160px}}
img.plot{{max-width:100%}} code{{background:#f4f4f4;padding:2px 4px}}</style></head><body>
<h1>{title}</h1>{body}</body></html>"""


def write_html(folder: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    body = "".join(f"<h2>{html.escape(h)}</h2>{content}" for h, content in sections)
    path = folder / "index.html"
    path.write_text(PAGE.format(title=html.escape(title), body=body))
    return path
