"""The attention-aware collaborative inference section of ``semcom demo``: bundled CIFAR-10 images, the
client's attention map, the patches it would send, and who answered."""

from __future__ import annotations

import html
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.data import CIFAR10_CLASSES, cifar_demo_images
from semcom.data.images import save_image
from semcom.errors import SemcomError
from semcom.schemes.attention_ci.adapters import OwnViTAdapter
from semcom.schemes.attention_ci.collab import client_pass, masks_for, server_logits
from semcom.schemes.attention_ci.gates import offload, uncertainty
from semcom.schemes.attention_ci.patches import encode_request
from semcom.schemes.attention_ci.train import load_vit, shipped_vit
from semcom.vit.grid import patchify, unpatchify

POLICY, PARAMS, GATE, ETA = "mass", {"delta": 0.8}, "entropy", 0.5
SCALE = 4  # 32 x 32 images are shown at 128 x 128


def heat(scores: torch.Tensor, grid: tuple[int, int], size: int) -> torch.Tensor:
    """Patch scores [N] -> a red heat map [3, size, size] in [0, 1]."""
    m = scores.reshape(1, 1, *grid)
    m = F.interpolate(m / m.max().clamp_min(1e-12), size=(size, size), mode="nearest")[0, 0]
    return torch.stack([m, 0.15 * m, 0.15 * m])


@torch.no_grad()
def attention_ci_section(folder: Path, client_path=None, server_path=None) -> tuple[str, list[dict]]:
    """(HTML, rows) for the report; a note instead when no trained ViTs are available."""
    try:
        client = OwnViTAdapter(load_vit(client_path or shipped_vit("client"))[0])
        server = OwnViTAdapter(load_vit(server_path or shipped_vit("server"))[0])
    except SemcomError as exc:
        return f"<p>Not shown: {html.escape(str(exc))}</p>", []
    names, images, labels = cifar_demo_images()
    cp = client_pass(client, images)
    masks = masks_for(cp.scores["cls"], POLICY, None, **PARAMS)
    offloaded = offload(cp.logits, GATE, ETA)
    s_logits = server_logits(server, images, masks, offloaded)
    unc = uncertainty(cp.logits, GATE)
    (folder / "images").mkdir(exist_ok=True)
    rows, cells = [], []
    for i, name in enumerate(names):
        x = images[i].float() / 255
        big = F.interpolate(x[None], scale_factor=SCALE, mode="nearest")[0]
        overlay = (0.45 * big + 0.55 * heat(cp.scores["cls"][i], client.grid, big.shape[-1])).clamp(0, 1)
        kept = patchify(x[None], client.patch_size)
        kept[:, ~masks[i]] = 0.5  # grey: not sent
        sent_img = F.interpolate(unpatchify(kept, client.grid), scale_factor=SCALE, mode="nearest")[0]
        files = [f"images/aci_{name}_{kind}.png" for kind in ("image", "attention", "sent")]
        for img, file in zip((big, overlay, sent_img), files):
            save_image(img, folder / file)
        off = bool(offloaded[i])
        pred = int(s_logits[i].argmax()) if off else int(cp.logits[i].argmax())
        bits = 8 * len(encode_request(images[i], masks[i].nonzero().flatten(), client.patch_size, compress=True)) if off else 0
        rows.append({"image": name, "label": CIFAR10_CLASSES[labels[i]], "client": CIFAR10_CLASSES[cp.logits[i].argmax()],
                     "uncertainty": unc[i].item(), "offloaded": off, "patches_sent": int(masks[i].sum()) if off else 0,
                     "bits_sent": bits, "final": CIFAR10_CLASSES[pred]})
        colour = "green" if pred == labels[i] else "red"
        who = f"server, {int(masks[i].sum())}/{masks.shape[1]} patches, {bits} bits" if off else "client (confident)"
        cells.append(f"<td><img src='{files[0]}' style='width:96px'><img src='{files[1]}' style='width:96px'>"
                     f"<img src='{files[2]}' style='width:96px'><br><b>{CIFAR10_CLASSES[labels[i]]}</b>: "
                     f"<span style='color:{colour}'>{CIFAR10_CLASSES[pred]}</span><br><small>{who}; "
                     f"{GATE} {unc[i]:.2f}</small></td>")
    correct = sum(r["final"] == r["label"] for r in rows)
    intro = (f"<p>A small client ViT classifies each image; if its {GATE} exceeds {ETA} it sends the smallest set of "
             f"patches holding {PARAMS['delta']:.0%} of its last-layer CLS attention (pixels + indices) to a larger server "
             f"ViT, which classifies from those tokens only. Per image: the image, the client's attention, the patches "
             f"sent (grey: not sent). {correct}/{len(rows)} correct; {sum(r['offloaded'] for r in rows)} offloaded.</p>")
    grid = "<table class='grid'>" + "".join("<tr>" + "".join(cells[r:r + 4]) + "</tr>" for r in range(0, len(cells), 4)) + "</table>"
    return intro + grid, rows
