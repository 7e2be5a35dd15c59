"""The LAM-SC section of ``semcom demo``: segments, ASI scores, the semantic image sent and what arrived."""

from __future__ import annotations

import html
from pathlib import Path

import torch

from semcom.data.images import save_image
from semcom.errors import SemcomError
from semcom.schemes.lamsc.evaluate import build_lamsc
from semcom.schemes.lamsc.loaders import shipped_part
from semcom.units import cbr_text

DEMO_SNR = 7.0
PALETTE = torch.tensor([[0.90, 0.10, 0.10], [0.10, 0.60, 0.90], [0.95, 0.75, 0.10], [0.20, 0.75, 0.30],
                        [0.65, 0.30, 0.85], [0.95, 0.50, 0.70], [0.50, 0.50, 0.50], [0.10, 0.80, 0.80]])


def overlay(image: torch.Tensor, labels: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
    """The image with each segment tinted in its colour (selected ones strongly, others faintly)."""
    out = image.clone()
    for i in range(int(labels.max()) + 1):
        where = labels == i
        alpha = 0.55 if bool(selected[i]) else 0.2
        colour = PALETTE[i % len(PALETTE)][:, None]
        out[:, where] = (1 - alpha) * out[:, where] + alpha * colour
    return out


@torch.no_grad()
def lamsc_section(folder: Path, images: list[tuple[str, torch.Tensor]], seed: int = 0,
                  snr_db: float = DEMO_SNR) -> tuple[str, list[dict]]:
    """(HTML, rows) for the report, at one SNR over AWGN; images go to ``folder/images``."""
    notes = []
    parts = {}
    for part in ("scorer", "asc", "receiver"):
        try:
            shipped_part(part)
            parts[part] = "shipped"
        except SemcomError as exc:
            parts[part] = "none"
            notes.append(html.escape(str(exc)))
    lamsc = build_lamsc("awgn", scorer=parts["scorer"], asc=parts["asc"], receiver=parts["receiver"])
    (folder / "images").mkdir(exist_ok=True)
    rows, cells = [], []
    for index, (name, x) in enumerate(images):
        result = lamsc.transmit(x, snr_db, torch.Generator().manual_seed(seed * 1000 + index))
        row = {"image": name, "snr_db": snr_db, **result.row(x),
               "scores": None if result.scores is None else [round(s, 3) for s in result.scores.tolist()]}
        rows.append(row)
        files = {}
        labels = result.segments.label_map()
        for tag, img in (("segments", overlay(x, labels, result.selected)), ("sent", result.semantic),
                         ("received", result.x_hat)):
            files[tag] = f"images/lamsc_{name}_{tag}.png"
            save_image(img.clamp(0, 1), folder / files[tag])
        scores = "-" if result.scores is None else ", ".join(
            f"<b>{s:.2f}</b>" if bool(sel) else f"{s:.2f}" for s, sel in zip(result.scores.tolist(), result.selected))
        full = lamsc.whole_image_uses(*x.shape[1:])
        caption = (f"{row['sent_segments']} of {row['segments']} segments sent; scores {scores}<br>"
                   f"{result.channel_uses} channel uses ({result.side_uses} for the mask) vs {full} for the whole "
                   f"image; region PSNR {row['region_psnr_db']:.2f} dB"
                   + (f"<br><i>{html.escape(result.fallback)}</i>" if result.fallback else ""))
        cells.append(f"<tr><td>{html.escape(name)}</td>" + "".join(
            f"<td><img src='{files[t]}'></td>" for t in ("segments", "sent", "received")) + f"<td>{caption}</td></tr>")
    intro = (f"<p>LAM-SC at {snr_db:g} dB (AWGN, CBR {cbr_text(lamsc.cbr)} before masking): the knowledge base (SLIC "
             "regions; Segment Anything with <code>--segmenter sam</code>) splits each photo, the 5 largest segments "
             "are scored by ASI (bold: above 0.7, sent), the semantic image goes through the shipped JSCC whose latent "
             "ASC masks, and the receiver (a JSCC copy fine-tuned end to end on masked latents) decodes it. Channel uses count the mask's side information.</p>")
    if notes:
        intro += "<p>Parts not shipped, run without them: " + "; ".join(notes) + "</p>"
    table = ("<table class='grid'><tr><th>image</th><th>segments (tinted; strong = sent)</th><th>semantic image sent"
             "</th><th>received</th><th>what happened</th></tr>" + "".join(cells) + "</table>")
    return intro + table, rows
