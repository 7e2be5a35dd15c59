"""Attention-aware collaborative inference as a ``semcom.types.Scheme`` (task ``classify``): one image in, scores out.

The client ViT classifies the image and scores its patches; when its gate finds the answer uncertain, the policy's
patches travel to the server over the link (``digital``: the zlib request as one LDPC + QAM block; ``analog``: the
learned patch JSCC, its index mask on a real LDPC + QAM side block) at the call's SNR, and the server's scores are the answer; otherwise (or when the request is
lost) the client's stand. The same steps as ``collab.run``, for one image.
"""

from __future__ import annotations

import torch

from semcom.errors import SemcomError
from semcom.schemes.attention_ci.adapters import ViTAdapter
from semcom.schemes.attention_ci.collab import RequestLink, client_pass, masks_for, server_logits, to_uint8
from semcom.schemes.attention_ci.gates import offload
from semcom.schemes.attention_ci.patch_jscc import AnalogPatchLink, PatchJSCC
from semcom.schemes.attention_ci.policies import POLICY_PARAM
from semcom.types import Transmission

SCHEME_LINKS = ("digital", "analog")


class CollaborativeInference:
    """``client``/``server``: the two ViTs; ``policy`` with its one parameter ``value`` (``POLICY_PARAM``); ``gate``,
    ``eta``: when to offload; ``score``: cls | rollout; ``link``: digital | analog (needs ``patch_jscc``);
    ``channel``: its channel name; ``decode``: really LDPC-decode the request (digital) or the patch mask's side block
    (analog; its index mask travels as one LDPC + QAM block, ``semcom.digital.side``), else draw the outcome from the
    BLER table."""

    name = "attention-ci"
    task = "classify"

    def __init__(self, client: ViTAdapter, server: ViTAdapter, policy: str = "mass", value: float = 0.8,
                 gate: str = "entropy", eta: float = 0.5, score: str = "cls", link: str = "digital",
                 channel: str = "awgn", patch_jscc: PatchJSCC | None = None, decode: bool = False):
        if link not in SCHEME_LINKS:
            raise SemcomError(f"unknown link {link!r}; choose one of {', '.join(SCHEME_LINKS)}")
        if (link == "analog") != (patch_jscc is not None):
            raise SemcomError("the analog link needs a patch JSCC, the digital link none")
        if score not in ("cls", "rollout"):
            raise SemcomError(f"unknown attention score {score!r}; choose cls or rollout")
        if policy not in POLICY_PARAM:
            raise SemcomError(f"unknown patch policy {policy!r}; valid: {', '.join(POLICY_PARAM)}")
        self.client, self.server = client, server
        self.policy, self.params = policy, {POLICY_PARAM[policy]: value}
        self.gate, self.eta, self.score = gate, eta, score
        self.link, self.channel, self.patch_jscc, self.decode = link, channel, patch_jscc, decode
        self.input_shape = (client.channels, *client.image_size)
        offload(torch.zeros(1, client.classes), gate, eta)  # SemcomError now for an unknown gate or a bad eta
        masks_for(torch.ones(1, client.grid[0] * client.grid[1]), policy, torch.Generator(), **self.params)

    def describe(self) -> dict:
        return {"scheme": self.name, "policy": self.policy, **self.params, "gate": self.gate, "eta": self.eta,
                "score": self.score, "link": self.link, "channel": self.channel, "decode": self.decode}

    def carrier(self, snr_db: float):
        if self.link == "analog":
            return AnalogPatchLink(self.patch_jscc, self.channel, snr_db, side_decode=self.decode)
        return RequestLink("digital", self.channel, snr_db, self.decode)

    @torch.no_grad()
    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        """``x`` [3, H, W] float in [0, 1] of the ViTs' input size; ``logits`` [classes]. ``ok`` False when an
        offloaded request was lost (the client's answer stands)."""
        images = to_uint8(x[None])
        link = self.carrier(snr_db)
        cp = client_pass(self.client, images)
        masks = masks_for(cp.scores[self.score], self.policy, generator, **self.params)
        offloaded = offload(cp.logits, self.gate, self.eta)
        sent, received = link.send(images, masks, offloaded, self.client.patch_size,
                                   self.server if link.decode else None, generator)
        logits, asked, arrived = cp.logits[0], bool(offloaded[0]), bool(sent.delivered[0])
        if asked and arrived:
            logits = received[0] if 0 in received else server_logits(self.server, images, masks, offloaded)[0]
        return Transmission(logits=logits, channel_uses=int(sent.channel_uses[0]), ok=arrived or not asked,
                            details={"offloaded": asked, "patches": int(masks[0].sum()) if asked else 0,
                                     "bits": int(sent.bits[0]), "answered_by": "server" if asked and arrived else "client"})
