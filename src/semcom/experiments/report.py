"""Plots and a static HTML report (summary, image grids, PSNR/MS-SSIM vs SNR) from evaluation rows.

The page is self-contained (inline CSS, relative image paths, no scripts or network resources) and fits the
window: images scale down (``max-width: 100%``) and image grids wrap.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from semcom.data.images import save_image  # noqa: E402
from semcom.units import cbr_text  # noqa: E402


METRIC_LABELS = {"psnr_db": "PSNR (dB)", "ms_ssim": "MS-SSIM", "ssim": "SSIM"}

# What each scheme family in the image grid is, for the report's legend (keyed by the label before the first "-").
SCHEME_NOTES = {
    "jscc": "the learned SNR-adaptive deep JSCC (analog symbols straight from the network)",
    "digital": "codec {codec} rate-controlled to the bit budget of the best 5G LDPC + QAM scheme for that SNR, every "
               "codeword really decoded (a failed decode shows a grey image)",
    "bound": "codec {codec} at the channel capacity, error-free: an ideal no real link reaches",
}


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
    """Mean over images per (channel, CBR, scheme, SNR); CBR as a fraction, channel uses per image as an integer."""
    order = {scheme: i for i, scheme in enumerate(dict.fromkeys(s["scheme"] for s in summary))}
    head = ("<tr><th>scheme</th><th>channel</th><th>CBR</th><th>SNR dB</th><th>channel uses / image</th>"
            "<th>PSNR dB</th><th>MS-SSIM</th><th>decoded</th><th>s / image</th></tr>")
    body = "".join(
        f"<tr><td>{html.escape(s['scheme'])}</td><td>{html.escape(s['channel'])}</td>"
        f"<td>{cbr_text(s['cbr_target'])}</td><td>{s['snr_db']:g}</td><td>{round(s['channel_uses'])}</td><td>{s['psnr_db']:.2f}</td><td>{s['ms_ssim']:.4f}</td>"
        f"<td>{100 * s['success_rate']:.0f}%</td><td>{s['seconds']:.3f}</td></tr>"
        for s in sorted(summary, key=lambda s: (s["channel"], s["cbr_target"], order[s["scheme"]], s["snr_db"]))
    )
    return f"<table>{head}{body}</table>"


def _tile(src: str, caption: str) -> str:
    return f"<figure class='tile'><img src='{html.escape(src)}' alt=''><figcaption>{caption}</figcaption></figure>"


def image_grid_html(folder: Path, originals: list[tuple[str, torch.Tensor]], rows: list[dict],
                    snrs: list[float]) -> str:
    """Per CBR and image: the original, then one wrapping row of tiles per scheme (one tile per SNR in ``snrs``).

    Images are written to ``folder/images``."""
    (folder / "images").mkdir(exist_ok=True)
    schemes = list(dict.fromkeys(r["scheme"] for r in rows if "x_hat" in r))  # in the order they were run
    lookup = {(r["image"], r["scheme"], r["snr_db"], r["cbr_target"]): r for r in rows if "x_hat" in r}
    parts = []
    for cbr in sorted({r["cbr_target"] for r in rows}):
        blocks = []
        for name, x in originals:
            orig = f"images/{name}.png"
            if not (folder / orig).exists():
                save_image(x, folder / orig)
            lines = []
            for s in schemes:
                tiles = []
                for snr in snrs:
                    r = lookup.get((name, s, snr, cbr))
                    if r is None:
                        continue
                    file = f"images/{name}_{s}_{snr:g}dB_cbr{cbr:.4g}.png"
                    save_image(r["x_hat"].clamp(0, 1), folder / file)
                    note = f"{r['psnr_db']:.2f} dB" if r["ok"] else "<span class='bad'>decode failed</span>"
                    tiles.append(_tile(file, f"SNR {snr:g} dB<br>{note}"))
                if tiles:
                    lines.append(f"<div class='scheme'><div class='label'>{html.escape(s)}</div>"
                                 f"<div class='tiles'>{''.join(tiles)}</div></div>")
            blocks.append(f"<div class='recon'>{_tile(orig, f'<b>{html.escape(name)}</b><br>original')}"
                          f"<div class='schemes'>{''.join(lines)}</div></div>")
        parts.append(f"<h3>CBR {cbr_text(cbr)}</h3>{''.join(blocks)}")
    return "".join(parts)


def _snr_runs(snrs: list[float], grid: list[float]) -> str:
    """'4-13 dB' for SNRs adjacent on ``grid``, comma-separated runs otherwise."""
    index = sorted(grid.index(s) for s in snrs)
    runs, start = [], index[0]
    for a, b in zip(index, index[1:] + [None]):
        if b != a + 1:
            runs.append(f"{grid[start]:g}" if start == a else f"{grid[start]:g}–{grid[a]:g}")
            start = b
    return ", ".join(runs) + " dB"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def conclusion(summary: list[dict]) -> str:
    """One sentence per (channel, CBR), computed from the summary: which real scheme has the best mean PSNR at
    which SNRs, where a scheme fails to decode, and how far the error-free bound lies above the best real scheme.
    Schemes named ``bound*`` are ideals, never the best real scheme."""
    sentences = []
    for channel, cbr in sorted({(s["channel"], s["cbr_target"]) for s in summary}):
        panel = [s for s in summary if s["channel"] == channel and s["cbr_target"] == cbr]
        real = [s for s in panel if not s["scheme"].startswith("bound")]
        if not real:
            continue
        grid = sorted({s["snr_db"] for s in real})
        best = {snr: max((s for s in real if s["snr_db"] == snr), key=lambda s: s["psnr_db"]) for snr in grid}
        winners = list(dict.fromkeys(best[snr]["scheme"] for snr in grid))
        peak = max(best.values(), key=lambda s: s["psnr_db"])
        who = (f"{html.escape(winners[0])} at every SNR" if len(winners) == 1 else _and(
            [f"{html.escape(w)} at {_snr_runs([s for s in grid if best[s]['scheme'] == w], grid)}" for w in winners]))
        text = (f"Over {html.escape(channel)} at CBR {cbr_text(cbr)}, the best mean PSNR comes from {who} "
                f"(up to {peak['psnr_db']:.1f} dB)")
        for scheme in dict.fromkeys(s["scheme"] for s in real if s["success_rate"] < 1):
            worst = min((s for s in real if s["scheme"] == scheme), key=lambda s: s["success_rate"])
            text += (f"; {html.escape(scheme)} decodes only {100 * worst['success_rate']:.0f}% of the images at "
                     f"{worst['snr_db']:g} dB")
        gaps = [b["psnr_db"] - best[b["snr_db"]]["psnr_db"] for b in panel
                if b["scheme"].startswith("bound") and b["snr_db"] in best]
        if gaps:
            low, high = f"{min(gaps):.1f}", f"{max(gaps):.1f}"
            span = low if low == high else f"{low}–{high}"
            text += f"; the error-free bound lies {span} dB above the best real scheme"
        sentences.append(text + ".")
    return " ".join(sentences)


def _list(values) -> str:
    return ", ".join(f"{v:g}" if isinstance(v, float) else html.escape(str(v)) for v in values)


def what_was_sent_html(config: dict, images: list[tuple[str, torch.Tensor]]) -> str:
    """One paragraph: which images, over which channel, at which SNRs and CBRs (with the channel-use budget), by
    which schemes."""
    dims = images[0][1].numel() if images else 0
    budgets = ", ".join(f"CBR {cbr_text(c)}" + (f" = {round(c * dims)} channel uses per image" if dims else "")
                        for c in config["cbr"])
    shape = f", {config['size']}×{config['size']}" if "size" in config else ""
    return (f"<p><b>Sent:</b> {len(images)} photos ({_list(n for n, _ in images)}{shape}) over "
            f"<b>{html.escape(config['channel'])}</b> at SNR {_list(config['snr_db'])} dB, {budgets}, "
            f"by {len(config['schemes'])} schemes: {_list(config['schemes'])}.</p>")


def scheme_notes_html(schemes: list[str]) -> str:
    items = []
    for scheme in schemes:
        family, _, codec = scheme.partition("-")
        if family in SCHEME_NOTES:
            note = SCHEME_NOTES[family].format(codec=html.escape(codec))
            items.append(f"<li><b>{html.escape(scheme)}</b>: {note}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""


def config_html(config: dict) -> str:
    """The full configuration as JSON, collapsed."""
    return (f"<details><summary>Configuration (as stored in results.json)</summary>"
            f"<pre>{html.escape(json.dumps(config, indent=1))}</pre></details>")


CSS = """body{font-family:sans-serif;margin:2em auto;padding:0 2em;max-width:1200px;line-height:1.4;color:#222}
img{max-width:100%;height:auto}
table{border-collapse:collapse;margin:1em 0;display:block;max-width:100%;overflow-x:auto}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:center;font-size:13px}
td img{max-width:100%}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:8px}
code{background:#f4f4f4;padding:2px 4px}
.summary{border:1px solid #ddd;background:#fafafa;padding:0 1em 1em;margin-bottom:2em}
.summary img.plot{display:block;margin:0 auto}
.conclusion{font-size:1.05em;border-left:4px solid #2a7;padding-left:8px}
nav ul{columns:2;margin:0}
details{margin:1em 0}
summary{cursor:pointer}
.recon{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start;margin:8px 0;padding-top:8px;
border-top:1px solid #ddd}
.schemes{flex:1 1 400px;min-width:0}
.scheme{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin-bottom:6px}
.scheme .label{width:8em;font-weight:bold;font-size:13px;text-align:right}
.tiles{display:flex;flex-wrap:wrap;gap:6px}
figure.tile{margin:0;width:140px;max-width:100%;text-align:center;font-size:12px}
figure.tile img{display:block;width:100%}
.bad{color:#c00}"""

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>{css}</style></head><body>
<h1>{title}</h1>{body}</body></html>"""


def _anchor(heading: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in heading.lower()).strip("-")


def write_html(folder: Path, title: str, sections: list[tuple[str, str]], summary: str = "") -> Path:
    """``index.html``: the title, then ``summary`` (HTML, in a box, with a table of contents of the sections),
    then one ``<h2>`` section per (heading, HTML) pair."""
    nav = "".join(f"<li><a href='#{_anchor(h)}'>{html.escape(h)}</a></li>" for h, _ in sections)
    lead = (f"<section class='summary' id='summary'><h2>Summary</h2>{summary}"
            f"<nav><p>Sections:</p><ul>{nav}</ul></nav></section>") if summary else ""
    body = lead + "".join(f"<section id='{_anchor(h)}'><h2>{html.escape(h)}</h2>{content}</section>"
                          for h, content in sections)
    path = folder / "index.html"
    path.write_text(PAGE.format(title=html.escape(title), css=CSS, body=body), encoding="utf-8")
    return path


def write_demo_report(folder: Path, config: dict, summary: list[dict], rows: list[dict],
                      images: list[tuple[str, torch.Tensor]], scheme_sections: list[tuple[str, str]],
                      title: str = "semcom demo") -> Path:
    """The demo's ``index.html`` and plots: a summary (what was sent, the PSNR plot, a conclusion computed from
    ``summary``, the configuration collapsed), the image-transmission results (legend, MS-SSIM plot, table,
    reconstructions), then ``scheme_sections`` (heading, HTML) as given."""
    plot_metric_vs_snr(summary, "psnr_db", folder / "psnr_vs_snr.png", "PSNR")
    plot_metric_vs_snr(summary, "ms_ssim", folder / "msssim_vs_snr.png", "MS-SSIM")
    lead = (what_was_sent_html(config, images)
            + "<img class='plot' src='psnr_vs_snr.png' alt='mean PSNR vs SNR per scheme'>"
            + f"<p class='conclusion'><b>Conclusion:</b> {conclusion(summary)}</p>"
            + config_html(config))
    images_section = (scheme_notes_html(config["schemes"])
                      + "<h3>MS-SSIM vs SNR</h3>"
                      + "<img class='plot' src='msssim_vs_snr.png' alt='mean MS-SSIM vs SNR per scheme'>"
                      + "<h3>Mean over images</h3>" + summary_table_html(summary)
                      + "<h3>Reconstructions</h3>" + image_grid_html(folder, images, rows, config["snr_db"]))
    return write_html(folder, title, [("Photos over the channel: learned JSCC vs digital", images_section),
                                      *scheme_sections], summary=lead)
