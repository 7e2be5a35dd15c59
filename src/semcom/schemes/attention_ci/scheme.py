"""Attention-aware collaborative inference as a ``semcom.types.Scheme`` (task ``classify``): one image in, scores out.

The client ViT classifies the image and scores its patches; when its gate finds the answer uncertain, the policy's
patches travel to the server over the link (``digital``: the zlib request as one LDPC + QAM block; ``analog``: the
learned patch JSCC, its index mask on a real LDPC + QAM side block) at the call's SNR, and the server's scores are the answer; otherwise (or when the request is
lost) the client's stand. The same steps as ``collab.run``, for one image.

With the digital link, ``transmit`` is the edge<->server split run in one process: ``device_part`` (client pass, gate,
request bytes), ``channel_part`` (the link), ``server_part`` (a batch of requests -> the server's logits), ``result``;
``semcom serve`` runs the client and server parts on two machines.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from semcom.errors import SemcomError
from semcom.schemes.attention_ci.adapters import ViTAdapter
from semcom.schemes.attention_ci.collab import RequestLink, client_pass, masks_for, server_logits, to_uint8
from semcom.schemes.attention_ci.gates import offload
from semcom.schemes.attention_ci.patch_jscc import AnalogPatchLink, PatchJSCC
from semcom.schemes.attention_ci.patches import encode_request, server_input
from semcom.schemes.attention_ci.policies import POLICY_PARAM
from semcom.types import Payload, Transmission

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

    def check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or tuple(x.shape) != self.input_shape:
            raise SemcomError(f"attention-ci classifies {'x'.join(map(str, self.input_shape))} images, got "
                              f"{'x'.join(map(str, getattr(x, 'shape', ())))}")

    # --- the edge<->server split (``semcom.types.Payload``); the digital link's ``transmit`` is exactly these calls --
    @torch.no_grad()
    def device_part(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Payload:
        """Client: ``x`` [3, H, W] in [0, 1] -> the client's scores (``fallback``) and, when the gate offloads, the
        request bytes (``patches.encode_request`` with zlib: the policy's patches); ``data`` None otherwise."""
        self.check_input(x)
        images = to_uint8(x[None])
        cp = client_pass(self.client, images)
        masks = masks_for(cp.scores[self.score], self.policy, generator, **self.params)
        asked = bool(offload(cp.logits, self.gate, self.eta)[0])
        data = encode_request(images[0], masks[0].nonzero().flatten(), self.client.patch_size, compress=True) \
            if asked else None
        return Payload(data=data, dtype="uint8", shape=tuple(x.shape), snr_db=float(snr_db), fallback=cp.logits[0],
                       details={"offloaded": asked, "patches": int(masks[0].sum()) if asked else 0,
                                "bits": 8 * len(data) if asked else 0})

    @torch.no_grad()
    def channel_part(self, payload: Payload, snr_db: float, generator: torch.Generator | None = None) -> Payload:
        """The digital link at ``snr_db`` (``collab.RequestLink.carry``): one LDPC + QAM block, or lost."""
        if payload.data is None:
            return payload
        if self.link != "digital":
            raise SemcomError("only the digital link carries the request as bytes; the analog link sends symbols")
        uses, ok, received = RequestLink("digital", self.channel, snr_db, self.decode).carry(payload.data, generator)
        return replace(payload, data=received, channel_uses=int(uses), ok=bool(ok))

    @torch.no_grad()
    def server_part(self, payloads: list[Payload]) -> torch.Tensor:
        """Server: arrived requests -> the server ViT's logits [B, classes] from exactly the patches each carries
        (``patches.server_input``; requests with the same patch count run as one batch). SemcomError for a request of
        another shape or type, or one ``decode_request`` rejects."""
        inputs = []
        for i, p in enumerate(payloads):
            if p.data is None or not p.ok:
                raise SemcomError(f"request {i}: nothing arrived to classify")
            if p.dtype != "uint8" or tuple(p.shape) != self.input_shape:
                raise SemcomError(f"request {i}: expected uint8 bytes for a {'x'.join(map(str, self.input_shape))} "
                                  f"image, got {p.dtype} for {'x'.join(map(str, p.shape))}")
            try:
                inputs.append(server_input(p.data, self.server.grid, self.server.patch_size))
            except SemcomError as exc:
                raise SemcomError(f"request {i}: {exc}") from None
        out = torch.empty(len(inputs), self.server.classes)
        counts = torch.tensor([keep.shape[1] for _, keep in inputs])
        for k in counts.unique().tolist():
            rows = (counts == k).nonzero().flatten().tolist()
            out[rows] = self.server.logits_on_patches(torch.cat([inputs[r][0] for r in rows]),
                                                      torch.cat([inputs[r][1] for r in rows]))
        return out

    def result(self, payload: Payload, logits: torch.Tensor | None) -> Transmission:
        """The Transmission of one image: the server's logits when its request arrived, else the client's (``ok``
        False when an offloaded request was lost)."""
        asked, arrived = payload.details["offloaded"], payload.ok
        answer = logits if asked and arrived else payload.fallback
        return Transmission(logits=answer, channel_uses=payload.channel_uses, ok=arrived or not asked,
                            details={**payload.details, "answered_by": "server" if asked and arrived else "client"})

    @torch.no_grad()
    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        """``x`` [3, H, W] float in [0, 1] of the ViTs' input size; ``logits`` [classes]. ``ok`` False when an
        offloaded request was lost (the client's answer stands). Digital link: ``device_part`` -> ``channel_part`` ->
        ``server_part`` -> ``result``."""
        if self.link == "digital":
            payload = self.channel_part(self.device_part(x, snr_db, generator), snr_db, generator)
            sent = payload.data is not None and payload.ok
            return self.result(payload, self.server_part([payload])[0] if sent else None)
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
