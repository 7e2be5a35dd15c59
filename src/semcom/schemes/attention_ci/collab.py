"""Collaborative inference end to end: client pass, confidence gate, patch selection, link, server pass.

The client ViT classifies every image and scores its patches (last-layer CLS attention or rollout).
Images the gate finds uncertain are offloaded: the selected patches (pixels + indices, ``patches.py``)
cross a link, and the server ViT classifies them from exactly those tokens. When a request is lost,
the client's own answer stands (stated in ``delivered``).

Links: ``ideal`` (no channel; cost = request bits), ``analog`` (``patch_jscc.AnalogPatchLink``: a learned
JSCC per patch, its index mask on a real LDPC + QAM side block by default; cost in channel uses) and ``digital`` (the request's bytes with zlib, as one
transport block of 5G LDPC + QAM at the cheapest MCS reliable at that SNR; outcome drawn from the
measured BLER table, or really decoded with ``decode=True``). Costs are reported in bits and channel uses
and as the seed's metric: fraction offloaded x mean fraction of patches sent per offloaded image.

For sweeps, ``client_pass`` runs once and ``server_logits`` once per selection; gates and thresholds are
then applied without re-running either model (``combine``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from semcom.channels import build_channel
from semcom.digital.capacity import check_channel
from semcom.digital.transport import mcs_for_payload, send_bytes
from semcom.errors import SemcomError
from semcom.schemes.attention_ci.adapters import ViTAdapter
from semcom.schemes.attention_ci.gates import offload
from semcom.schemes.attention_ci.patches import encode_request, server_input
from semcom.schemes.attention_ci.policies import select
from semcom.units import check_snr_db
from semcom.vit.attention import patch_scores

LINKS = ("ideal", "digital")


@dataclass
class ClientPass:
    logits: torch.Tensor  # [N, classes]
    scores: dict[str, torch.Tensor]  # "cls" and "rollout": [N, patches]


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    if images.dtype == torch.uint8:
        return images
    if not torch.isfinite(images).all():
        raise SemcomError("images contain NaN or inf")
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


@torch.no_grad()
def client_pass(client: ViTAdapter, images: torch.Tensor, batch: int = 250) -> ClientPass:
    """Client logits and both patch scores for uint8 [N, 3, H, W] images."""
    logits, cls, roll = [], [], []
    for start in range(0, len(images), batch):
        x = to_uint8(images[start:start + batch]).float() / 255
        out, attentions = client.logits_and_attentions(x)
        logits.append(out)
        cls.append(patch_scores(attentions, "cls", client.num_prefix_tokens))
        roll.append(patch_scores(attentions, "rollout", client.num_prefix_tokens))
    return ClientPass(torch.cat(logits), {"cls": torch.cat(cls), "rollout": torch.cat(roll)})


def masks_for(scores: torch.Tensor, policy: str, generator: torch.Generator | None = None, **params) -> torch.Tensor:
    """bool [N, patches]: the policy's selection for every image (``random`` draws from ``generator``)."""
    if policy == "random":
        params = {**params, "generator": generator}
    return select(policy, scores, **params)


@torch.no_grad()
def server_logits(server: ViTAdapter, images: torch.Tensor, masks: torch.Tensor, which: torch.Tensor | None = None,
                  batch: int = 250) -> torch.Tensor:
    """Server logits [N, classes] from only the masked patches of each image (rows not in ``which``: NaN).

    Images with the same number of kept patches run together (a batch needs one token count).
    """
    images = to_uint8(images)
    which = torch.ones(len(images), dtype=torch.bool) if which is None else which
    out = torch.full((len(images), server.classes), float("nan"))
    counts = masks.sum(dim=1)
    for k in counts[which].unique().tolist():
        rows = (which & (counts == k)).nonzero().flatten()
        for start in range(0, len(rows), batch):
            idx = rows[start:start + batch]
            keep = torch.stack([masks[i].nonzero().flatten() for i in idx.tolist()])
            out[idx] = server.logits_on_patches(images[idx].float() / 255, keep)
    return out


@dataclass
class LinkResult:
    bits: torch.Tensor  # [N] int64, request bits (0 where nothing is sent)
    channel_uses: torch.Tensor  # [N] int64
    delivered: torch.Tensor  # [N] bool


class RequestLink:
    """Carries each offloaded image's request (``patches.encode_request`` with zlib) over ``link``."""

    def __init__(self, link: str = "ideal", channel: str = "awgn", snr_db: float | None = None, decode: bool = False):
        if link not in LINKS:
            raise SemcomError(f"unknown link {link!r}; choose one of {', '.join(LINKS)}")
        self.link, self.decode = link, decode
        if link == "digital":
            if snr_db is None:
                raise SemcomError("the digital link needs an SNR")
            self.snr = float(check_snr_db(torch.tensor(float(snr_db))).item())
            self.channel_name = check_channel(channel)
            self.channel = build_channel(channel)

    def send(self, images: torch.Tensor, masks: torch.Tensor, which: torch.Tensor, patch: int,
             server: ViTAdapter | None = None, generator: torch.Generator | None = None) -> tuple[LinkResult, dict]:
        """Send the requests of the images in ``which``. With ``decode`` and a ``server``, the server's
        logits are computed from the decoded bytes (returned as {index: logits [classes]})."""
        images = to_uint8(images)
        n = len(images)
        bits, uses = torch.zeros(n, dtype=torch.int64), torch.zeros(n, dtype=torch.int64)
        delivered = torch.zeros(n, dtype=torch.bool)
        received = {}
        for i in which.nonzero().flatten().tolist():
            data = encode_request(images[i], masks[i].nonzero().flatten(), patch, compress=True)
            bits[i] = 8 * len(data)
            uses[i], delivered[i], arrived = self.carry(data, generator)
            if arrived is not None and self.link == "digital" and self.decode and server is not None:
                x, keep = server_input(arrived, server.grid, server.patch_size)
                with torch.no_grad():
                    received[i] = server.logits_on_patches(x, keep)[0]
        return LinkResult(bits, uses, delivered), received

    def carry(self, data: bytes, generator: torch.Generator | None = None) -> tuple[int, bool, bytes | None]:
        """One request's bytes over the link: (complex channel uses, delivered, the bytes that arrived or None).

        Digital: one transport block at the cheapest MCS reliable at the SNR; none reliable: nothing is sent (0 uses,
        not delivered, the client's answer stands)."""
        if self.link == "ideal":
            return 0, True, data
        mcs = mcs_for_payload(8 * len(data), self.snr, self.channel_name)
        if mcs is None:
            return 0, False, None
        d = send_bytes(data, mcs, self.channel, self.channel_name, self.snr, self.decode, generator)
        return d.channel_uses, d.ok, d.received


def combine(client_logits: torch.Tensor, server_logits_: torch.Tensor, offloaded: torch.Tensor,
            delivered: torch.Tensor) -> torch.Tensor:
    """Final predictions [N]: the server's where the request arrived, otherwise the client's."""
    use_server = offloaded & delivered
    pred = client_logits.argmax(1)
    if use_server.any():
        pred[use_server] = server_logits_[use_server].argmax(1)
    return pred


def summary(pred: torch.Tensor, labels: torch.Tensor, offloaded: torch.Tensor, masks: torch.Tensor,
            link: LinkResult, full_bits: float, full_uses: float = 0.0) -> dict:
    """Accuracy (%), offload rate, patch fraction, the seed's cost, bits and channel uses per image (absolute: over all
    images and per offloaded image), and the communication cost relative to offloading every full image over the same
    link (``full_bits``, ``full_uses``: per image; each link is normalised by its own full-offload cost, so compare
    links by their absolute channel uses)."""
    n, patches = masks.shape
    frac = (masks.sum(1).float() / patches)[offloaded]
    offload_rate = offloaded.float().mean().item()
    mean_frac = frac.mean().item() if offloaded.any() else 0.0
    bits = link.bits.float().mean().item()
    return {"accuracy": 100 * (pred == labels).float().mean().item(), "offload_rate": offload_rate,
            "patch_fraction": mean_frac, "seed_cost": offload_rate * mean_frac, "bits_per_image": bits,
            "channel_uses_per_image": link.channel_uses.float().mean().item(),
            "channel_uses_per_offloaded_image": link.channel_uses[offloaded].float().mean().item() if offloaded.any() else 0.0,
            "full_offload_channel_uses_per_image": full_uses,
            "delivered_rate": link.delivered[offloaded].float().mean().item() if offloaded.any() else 1.0,
            "relative_bits": bits / full_bits if full_bits else None,
            "relative_channel_uses": link.channel_uses.float().mean().item() / full_uses if full_uses else None}


def run(client: ViTAdapter, server: ViTAdapter, images: torch.Tensor, labels: torch.Tensor, policy: str,
        policy_params: dict, gate: str, eta: float, score: str = "cls", link: RequestLink | None = None,
        generator: torch.Generator | None = None) -> dict:
    """One operating point on a set of images; returns ``summary`` plus the per-image predictions."""
    if score not in ("cls", "rollout"):
        raise SemcomError(f"unknown attention score {score!r}; choose cls or rollout")
    link = link or RequestLink("ideal")
    images = to_uint8(images)
    cp = client_pass(client, images)
    masks = masks_for(cp.scores[score], policy, generator, **policy_params)
    offloaded = offload(cp.logits, gate, eta)
    sent, received = link.send(images, masks, offloaded, client.patch_size, server if link.decode else None, generator)
    s_logits = server_logits(server, images, masks, offloaded)
    for i, logits in received.items():
        s_logits[i] = logits  # what the server computed from the bytes it decoded
    pred = combine(cp.logits, s_logits, offloaded, sent.delivered)
    full = torch.ones_like(masks)
    full_link, _ = link.send(images, full, torch.ones(len(images), dtype=torch.bool), client.patch_size)
    return {**summary(pred, labels, offloaded, masks, sent, full_link.bits.float().mean().item(),
                      full_link.channel_uses.float().mean().item()), "predictions": pred}
