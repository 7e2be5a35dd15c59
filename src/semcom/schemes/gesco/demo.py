"""The GESCO section of ``semcom demo``: a label map sent by each map transmitter at two SNRs (AWGN, CBR 1/32 of the
RGB image), the map that arrived (in CamVid colours), the image the diffusion model generated from it, and the
core's pixel JSCC image at the same channel uses.

The map: the first CamVid test pair when the shared data folder holds CamVid (its photo is what the pixel JSCC
sends), else a street-layout map drawn here (no photo exists for it, so the pixel JSCC column is not shown). While no
diffusion model is shipped the generative part is not shown, and the section says so; the map part needs no trained
model (the digital and the analog transmitters; the learned ones join when they ship).
"""

from __future__ import annotations

import html
from pathlib import Path

import torch

from semcom.channels import build_channel
from semcom.data.camvid import CAMVID, load_camvid
from semcom.data.images import save_image
from semcom.digital.chain import channel_use_budget
from semcom.errors import SemcomError
from semcom.metrics import psnr_db
from semcom.schemes.gesco.scheme import build_gesco, shipped_diffusion, shipped_map_model
from semcom.seeding import make_generator, noise_seed
from semcom.units import cbr_text

DEMO_SNRS = (0.0, 20.0)
DEMO_CBR = 1 / 32
CHANNEL = "awgn"


def street_map(h: int = 180, w: int = 240) -> torch.Tensor:
    """A CamVid-class street layout int64 [h, w] drawn for the demo: sky, buildings on both sides, a tree, road and
    pavement in perspective, a car, a pole and a sign."""
    c = {name: i for i, name in enumerate(CAMVID.classes)}
    labels = torch.full((h, w), c["building"], dtype=torch.int64)
    rows = torch.arange(h)[:, None].expand(h, w).float() / h
    cols = torch.arange(w)[None, :].expand(h, w).float() / w
    labels[rows < 0.35 - 0.25 * (cols - 0.5).abs()] = c["sky"]
    labels[(rows < 0.55) & (cols > 0.72) & (cols < 0.9) & (rows > 0.2)] = c["tree"]
    half = 0.05 + 0.9 * (rows - 0.5).clamp(min=0)  # the road widens towards the bottom
    labels[(rows > 0.5) & ((cols - 0.5).abs() < half)] = c["road"]
    labels[(rows > 0.5) & ((cols - 0.5).abs() >= half) & ((cols - 0.5).abs() < half + 0.08)] = c["pavement"]
    labels[(rows > 0.62) & (rows < 0.8) & (cols > 0.3) & (cols < 0.45)] = c["car"]
    labels[(rows > 0.25) & (rows < 0.7) & (cols > 0.2) & (cols < 0.215)] = c["pole"]
    labels[(rows > 0.25) & (rows < 0.32) & (cols > 0.18) & (cols < 0.235)] = c["sign-symbol"]
    labels[rows > 0.97] = c["void"]
    return labels


def demo_pair() -> tuple[str, torch.Tensor | None, torch.Tensor, str]:
    """(name, photo [3, H, W] or None, label map [H, W], where it comes from)."""
    try:
        pairs = load_camvid("test", limit=1)
    except SemcomError:
        return "street", None, street_map(), "a street-layout map drawn for the demo (no CamVid folder found)"
    return pairs.names[0], pairs.images[0], pairs.labels[0], "the first CamVid test pair (shared data folder)"


def demo_transmitters(cbr: float) -> list[str]:
    """The map transmitters the demo can run: the untrained ones, and the learned ones shipped for ``cbr``."""
    kinds = ["digital", "analog"]
    if shipped_map_model("map-denoiser", cbr) is not None:
        kinds.append("analog+denoiser")
    if shipped_map_model("map-jscc", cbr) is not None:
        kinds.append("map-jscc")
    return kinds


@torch.no_grad()
def gesco_section(folder: Path, seed: int = 0, snrs=DEMO_SNRS, cbr: float = DEMO_CBR,
                  diffusion: str | Path | None = None) -> tuple[str, list[dict]]:
    """(HTML, rows) for the report; images go to ``folder/images``. ``diffusion``: a checkpoint (default: the shipped
    one, if any)."""
    from semcom.jscc.transmitter import JSCCTransmitter

    name, photo, labels, origin = demo_pair()
    model = diffusion or shipped_diffusion()
    images = folder / "images"
    images.mkdir(exist_ok=True)
    esc = html.escape

    def put(tag: str, x: torch.Tensor) -> str:
        path = f"images/gesco_{tag}.png"
        save_image(x.clamp(0, 1), folder / path)
        return f"<img src='{path}'>"

    rows, cells = [], []
    jscc = JSCCTransmitter.from_checkpoint(build_channel(CHANNEL), None, cbr) if photo is not None else None
    for snr in snrs:
        for kind in demo_transmitters(cbr):
            scheme = build_gesco(CHANNEL, cbr, kind, diffusion=str(model) if model else "none")
            tx = scheme.transmit(labels, snr, make_generator(noise_seed(seed, 0, snr, cbr)))
            tag = f"{kind.replace('+', '_')}_{snr:g}dB"
            received = put(f"{tag}_received", CAMVID.colorize(tx.labels_hat))
            generated = put(f"{tag}_generated", tx.x_hat) if tx.details["generated"] else "-"
            row = {"image": name, "snr_db": snr, "cbr": cbr, "transmitter": kind, "channel_uses": tx.channel_uses,
                   "ok": tx.ok, "map_pixel_accuracy": tx.details["map_pixel_accuracy"],
                   "map_miou": tx.details["map_miou"], "generated": tx.details["generated"]}
            if photo is not None and tx.details["generated"]:
                row["psnr_db"] = psnr_db(photo[None], tx.x_hat[None]).item()
            rows.append(row)
            what = (f"pixel accuracy {row['map_pixel_accuracy']:.3f}, mIoU {row['map_miou']:.3f}"
                    if row["map_miou"] is not None else "")
            if kind == "digital":
                what += (f"<br>{esc(str(tx.details['mcs']))}, {tx.details['payload_bytes']} bytes" if tx.ok else
                         f"<br><i>no map arrived ({esc(str(tx.details['reason']))}): the receiver shows "
                         f"{CAMVID.classes[CAMVID.prior_class]} everywhere</i>")
            cells.append(f"<tr><td>{snr:g}</td><td>{esc(kind)}</td><td>{received}</td><td>{generated}</td>"
                         f"<td>{tx.channel_uses}</td><td>{what}</td></tr>")
        if jscc is not None:
            tx = jscc.transmit(photo, snr, make_generator(noise_seed(seed, 0, snr, cbr)))
            psnr = psnr_db(photo[None], tx.x_hat[None]).item()
            rows.append({"image": name, "snr_db": snr, "cbr": cbr, "transmitter": "pixel-jscc",
                         "channel_uses": tx.channel_uses, "ok": tx.ok, "psnr_db": psnr})
            cells.append(f"<tr><td>{snr:g}</td><td>pixel JSCC (the photo)</td><td>-</td>"
                         f"<td>{put(f'jscc_{snr:g}dB', tx.x_hat)}</td><td>{tx.channel_uses}</td>"
                         f"<td>PSNR {psnr:.2f} dB</td></tr>")
    sent = (put("photo", photo) + " " if photo is not None else "") + put("map_sent", CAMVID.colorize(labels))
    intro = (f"<p>GESCO sends the semantic label map instead of the image: {esc(origin)}, "
             f"{labels.shape[1]}x{labels.shape[0]}, over {CHANNEL.upper()} at CBR {cbr_text(cbr)} of the RGB image "
             f"({channel_use_budget((3, *labels.shape), cbr)} channel uses at most, the pixel JSCC's count). Digital: "
             "the map losslessly compressed on 5G LDPC + QAM (every codeword decoded); analog: the one-hot map at "
             "reduced resolution as analog symbols, cleaned by average + max pooling.</p>")
    if model is None:
        intro += ("<p><b>The generative part is not shown:</b> no trained GESCO diffusion model is shipped yet (train "
                  "one with <code>semcom train gesco --part diffusion</code>); the received maps are what its "
                  "receiver would be conditioned on.</p>")
    table = ("<p>Sent: " + sent + "</p><table class='grid'><tr><th>SNR dB</th><th>transmitter</th><th>map received"
             "</th><th>generated image</th><th>channel uses</th><th>map vs sent</th></tr>" + "".join(cells)
             + "</table>")
    return intro + table, rows
