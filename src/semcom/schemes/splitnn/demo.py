"""The split-inference section of ``semcom demo``: bundled CIFAR-10 images through the shipped codecs."""

from __future__ import annotations

import html
import math
from pathlib import Path

import torch

from semcom.data import CIFAR10_CLASSES, cifar_demo_images
from semcom.data.images import save_image
from semcom.schemes.splitnn.checkpoint import load_semanticnn, shipped_checkpoint
from semcom.schemes.splitnn.evaluate import row, uncompressed_accuracy, variant_row
from semcom.schemes.splitnn.variants import CIFAR_VARIANTS, default_split, get_variant

DEMO_SNRS = (-6.0, 0.0, 7.0)
SHOWN = "semanticnn-c8b3"


@torch.no_grad()
def splitnn_section(folder: Path, seed: int = 0, snrs=DEMO_SNRS) -> tuple[str, list[dict]]:
    """(HTML, rows): accuracy of every shipped codec on the 20 bundled images, and per-image predictions of
    ``SHOWN`` at each SNR with its payload size. Images are written to ``folder/images``."""
    names, images, labels = cifar_demo_images()
    split = default_split()
    rows = [row("uncompressed", "awgn", None, uncompressed_accuracy(split, images, labels), None, None, split)]
    models = {}
    for name in CIFAR_VARIANTS:
        if shipped_checkpoint(name).is_file():
            models[name], _ = load_semanticnn(shipped_checkpoint(name), split=split)
            rows += [variant_row(models[name], get_variant(name), images, labels, "awgn", snr, seed) for snr in snrs]
    if not models:
        return "<p>No shipped split-inference checkpoints found.</p>", rows
    head = "<tr><th>scheme</th><th>bits/image</th><th>x vs features</th><th>channel uses</th>" + "".join(
        f"<th>{s:g} dB</th>" for s in snrs) + "</tr>"
    body = []
    for name in ["uncompressed", *models]:
        mine = [r for r in rows if r["scheme"] == name]
        ref = mine[0]
        accs = [f"{ref['accuracy']:.0f}%"] * len(snrs) if name == "uncompressed" else [f"{r['accuracy']:.0f}%" for r in mine]
        ratio = ref["compression_vs_features"]
        uses = sorted({round(r["channel_uses"]) for r in mine if r["channel_uses"]})
        body.append(f"<tr><td>{html.escape(name)}</td><td>{ref['bits'] or '-'}</td>"
                    f"<td>{'-' if ratio is None else f'{ratio:.0f}x'}</td><td>{'/'.join(map(str, uses)) or '-'}</td>"
                    + "".join(f"<td>{a}</td>" for a in accs) + "</tr>")
    table = f"<table>{head}{''.join(body)}</table>"
    grid = ""
    if SHOWN in models:
        model = models[SHOWN]
        x = images.float() / 255
        payload = len(model.device_payload(x[:1])[0])
        preds = {snr: model(x, snr, torch.Generator().manual_seed(seed))["logits"].argmax(1) for snr in snrs}
        clean = split(x).argmax(1)
        (folder / "images").mkdir(exist_ok=True)
        cells = []
        for i, name in enumerate(names):
            file = f"images/cifar_{name}.png"
            save_image(torch.nn.functional.interpolate(x[i:i + 1], scale_factor=3, mode="nearest")[0], folder / file)
            guesses = "".join(
                f"<br><small>{s:g} dB: <span style='color:{'green' if preds[s][i] == labels[i] else 'red'}'>"
                f"{CIFAR10_CLASSES[preds[s][i]]}</span></small>" for s in snrs)
            cells.append(f"<td><img src='{file}' style='width:96px'><br><b>{CIFAR10_CLASSES[labels[i]]}</b>"
                         f"<br><small>uncompressed: {CIFAR10_CLASSES[clean[i]]}</small>{guesses}</td>")
        grid = (f"<p>{SHOWN}: each image is sent as a {payload}-byte payload ({model.bits} bits, QPSK, "
                f"{model.channel_uses} channel uses) instead of {4 * math.prod(model.feature_shape)} bytes of float32 features.</p>"
                + "<table class='grid'>" + "".join("<tr>" + "".join(cells[r:r + 10]) + "</tr>" for r in (0, 10)) + "</table>")
    intro = ("<p>Split inference (SemanticNN): the pretrained CIFAR-10 ResNet-20 runs its first two stages on the device; "
             "a learned codec compresses the 32x16x16 features, quantised bits cross a QPSK AWGN bit channel, and the "
             "server decodes them into the frozen rest of the network. 20 bundled CIFAR-10 test images (two per "
             "class), so the accuracies below are illustrative; the CIFAR-10 benchmark in the README has the real numbers.</p>")
    return intro + table + grid, rows
