"""What ``semcom serve`` hosts: the scheme built through the registry, its device/server split, its identity on the
wire (model id + a hash of its weights).

splitnn and attention-ci offer the split themselves (``device_part`` / ``channel_part`` / ``server_part`` /
``result``, see ``semcom.types.Payload``). The JSCC transmitter's whole-image path (``JSCCTransmitter.transmit``:
``model.encode`` -> channel -> ``model.decode``) is cut at the channel by ``JSCCSplit`` here, which calls those same
model methods on the transmitter's own model, channel and CBR; the hybrid JSCC's (``transmit_batch``) by
``HybridSplit``, which also carries its power scale and the receiver's noise variance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from semcom.errors import SemcomError
from semcom.types import Payload, Transmission

SERVED = ("splitnn", "attention-ci", "jscc")
OUTPUT_DTYPE = np.dtype("<f4")  # results travel as little-endian float32
_WIRE_DTYPES = {"uint8": np.dtype("u1"), "float32": np.dtype("<f4"), "complex64": np.dtype("<c8")}


def to_bytes(t: torch.Tensor, dtype: str) -> bytes:
    """A tensor's elements as little-endian ``dtype`` bytes (one of the wire dtypes)."""
    return t.detach().cpu().contiguous().numpy().astype(_WIRE_DTYPES[dtype], copy=False).tobytes()


def from_bytes(data: bytes, dtype: str, shape: tuple[int, ...]) -> torch.Tensor:
    """Inverse of ``to_bytes``: SemcomError when ``data`` does not hold exactly ``shape`` elements of ``dtype``."""
    want = _WIRE_DTYPES[dtype]
    count = int(np.prod(shape)) if shape else 1
    if len(data) != count * want.itemsize:
        raise SemcomError(f"{len(data)} bytes do not hold {list(shape)} {dtype} elements ({count * want.itemsize} bytes)")
    return torch.from_numpy(np.frombuffer(data, dtype=want).astype(want.newbyteorder("="), copy=True).reshape(shape))


def weights_sha256(modules: list[nn.Module], extra: str = "") -> bytes:
    """SHA-256 of the modules' state (every tensor's name, dtype, shape and bytes, in name order) and ``extra``."""
    digest = hashlib.sha256(extra.encode())
    for index, module in enumerate(modules):
        for name, tensor in sorted(module.state_dict().items()):
            t = tensor.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{index}.{name}:{t.dtype}:{list(tensor.shape)};".encode())
            digest.update(t.view(torch.uint8).numpy().tobytes())
    return digest.digest()


class JSCCSplit:
    """``JSCCTransmitter`` cut at the channel: device ``model.encode`` -> symbols [n] complex64; channel; server
    ``model.decode`` at the arrived SNR and the transmitter's CBR. Whole images only (up to the transmitter's tile size:
    larger images are coded tile by tile in process); the hybrid JSCC (``transmit_batch``) goes through ``HybridSplit``."""

    name = "jscc"
    task = "image"

    def __init__(self, transmitter):
        if hasattr(transmitter.model, "transmit_batch") != isinstance(self, HybridSplit):
            raise SemcomError("a hybrid JSCC is served by HybridSplit, an ADJSCC/DeepJSCC by JSCCSplit")
        self.transmitter = transmitter
        self.cbr = transmitter.cbr

    def describe(self) -> dict:
        return self.transmitter.describe()

    def base_details(self) -> dict:
        """The details of an in-process transmission: the model and its checkpoint file's name."""
        from pathlib import Path

        checkpoint = self.transmitter.checkpoint
        details = {"model": self.transmitter.model.cfg.name}
        return (details | {"checkpoint": Path(checkpoint).name}) if checkpoint else details

    def check_input(self, shape: tuple[int, ...]) -> None:
        from semcom.jscc import tiling

        if len(shape) != 3 or shape[0] != 3:
            raise SemcomError(f"jscc codes [3, H, W] images, got {list(shape)}")
        if tiling.needs_tiles(tuple(shape[1:]), self.transmitter.tile):
            raise SemcomError(f"a {shape[1]}x{shape[2]} image is coded in tiles; the server takes whole images up to "
                              f"{self.transmitter.tile} pixels a side")

    @torch.no_grad()
    def device_part(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Payload:
        from semcom.data.images import check_image

        check_image(x)
        self.check_input(tuple(x.shape))
        z = self.transmitter.model.encode(x[None], snr_db, self.cbr)
        return Payload(data=to_bytes(z[0], "complex64"), dtype="complex64", shape=tuple(x.shape), snr_db=float(snr_db),
                       channel_uses=int(z.shape[1]), details=self.base_details())

    @torch.no_grad()
    def channel_part(self, payload: Payload, snr_db: float, generator: torch.Generator | None = None) -> Payload:
        z = from_bytes(payload.data, "complex64", (1, len(payload.data) // 8))
        z_hat = self.transmitter.channel(z, snr_db, generator)
        return replace(payload, data=to_bytes(z_hat[0], "complex64"), channel_uses=int(z.shape[1]))

    @torch.no_grad()
    def server_part(self, payloads: list[Payload]) -> list[torch.Tensor]:
        """Arrived symbols -> images [3, H, W]; payloads of one image size are decoded as one batch."""
        for i, p in enumerate(payloads):
            if p.data is None or p.dtype != "complex64":
                raise SemcomError(f"payload {i}: expected complex64 symbols, got {p.dtype}")
            try:
                self.check_input(tuple(p.shape))
            except SemcomError as exc:
                raise SemcomError(f"payload {i}: {exc}") from None
        out: list[Any] = [None] * len(payloads)
        for shape in sorted({tuple(p.shape) for p in payloads}):
            rows = [i for i, p in enumerate(payloads) if tuple(p.shape) == shape]
            try:
                z_hat = torch.stack([from_bytes(payloads[i].data, "complex64", (len(payloads[i].data) // 8,))
                                     for i in rows])
            except RuntimeError:
                raise SemcomError(f"payloads for {list(shape)} images carry different symbol counts") from None
            snr = torch.tensor([payloads[i].snr_db for i in rows])
            images = self.transmitter.model.decode(z_hat, snr, self.cbr, shape[1:])
            for i, image in zip(rows, images):
                out[i] = image
        return out

    def result(self, payload: Payload, x_hat: torch.Tensor | None) -> Transmission:
        return Transmission(x_hat=x_hat, channel_uses=payload.channel_uses, details=dict(payload.details))

    @torch.no_grad()
    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Transmission:
        payload = self.channel_part(self.device_part(x, snr_db, generator), snr_db, generator)
        return self.result(payload, self.server_part([payload])[0])


class HybridSplit(JSCCSplit):
    """The hybrid JSCC (``semcom.jscc.hybrid``) cut at the channel, the same calls as its ``forward`` in eval mode.

    Device: ``encode_latent`` and the power normalisation of the sent maps; the payload is float32 ``[scale,
    symbols]``: the float16 power scale and the first ``maps`` latent maps' real parts; its channel uses are the
    symbols + the price of the scale's block on the transmitter's side link (``side_link.channel_uses``), as in
    process. Channel: the transmitter's channel on the whole latent (the unsent maps are zeros, so the noise draws are
    those of ``transmit``), then the scale's 2 bytes really sent on the transmitter's side link (the same draws as in
    process: a lost block is ``ok`` False, nothing goes to the server and ``result`` is the transmitter's lost image);
    what arrives is ``[scale, received symbols, noise variance]``, the noise variance being the receiver's CSI after
    equalisation (one value on AWGN, one per complex symbol of the whole latent on fading; a real receiver estimates it
    from pilots; none when the client sends without a channel: decoded as noise-free). Server: de-normalise, LMMSE +
    decoder (``decode_latent``), crop, clamp: the transmitter's ``transmit`` exactly."""

    def _grid(self, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """(maps sent, all latent maps, latent height, latent width) for a [3, H, W] image."""
        from semcom.jscc.models import FACTOR

        model = self.transmitter.model
        h, w = -(-shape[1] // FACTOR), -(-shape[2] // FACTOR)
        return model.channels_for_cbr(self.cbr), model.cfg.latent_channels, h, w

    @torch.no_grad()
    def device_part(self, x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> Payload:
        from semcom.channels import normalize_power
        from semcom.data.images import check_image
        from semcom.digital.side import side_details
        from semcom.jscc.hybrid import power_scale, sent_mask
        from semcom.jscc.softcast import SIDE_BITS_SCALE

        check_image(x)
        self.check_input(tuple(x.shape))
        model, link = self.transmitter.model, self.transmitter.side_link
        xp = model.pad(x[None].float())
        _, counts = model.prepare(xp, snr_db, self.cbr)
        u = model.encode_latent(xp)
        maps = int(counts[0])
        z = normalize_power(u, sent_mask(u, counts))
        scale = power_scale(u, counts)
        data = torch.cat([scale.half().float(), z[0, :maps].reshape(-1)])
        side_uses = link.channel_uses(SIDE_BITS_SCALE, float(snr_db))  # what its block costs at this SNR
        side_mcs = None
        if hasattr(link, "plan"):
            mcs, repeats = link.plan(SIDE_BITS_SCALE, float(snr_db))
            side_mcs = mcs.name if repeats == 1 else f"{mcs.name} x{repeats}"
        details = self.base_details() | side_details(self.transmitter.side_label, SIDE_BITS_SCALE, side_uses, side_mcs)
        return Payload(data=to_bytes(data, "float32"), dtype="float32", shape=tuple(x.shape), snr_db=float(snr_db),
                       channel_uses=maps * u.shape[2] * u.shape[3] // 2 + side_uses, details=details)

    def _unpack(self, payload: Payload, arrived: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(scale [1], sent maps [maps, h, w], noise variance [1] or [symbols of the whole latent] or None)."""
        maps, total, h, w = self._grid(tuple(payload.shape))
        values = from_bytes(payload.data, "float32", (len(payload.data) // 4,))
        body = 1 + maps * h * w
        extra = values.numel() - body
        if arrived and extra not in (0, 1, total * h * w // 2) or not arrived and extra != 0:
            raise SemcomError(f"a hybrid JSCC payload for a {payload.shape[1]}x{payload.shape[2]} image holds "
                              f"{values.numel()} values, expected {body}{' + the noise variance' if arrived else ''}")
        if not arrived:
            return values[:1], values[1:body].reshape(maps, h, w), None
        noise = values[body:] if extra else torch.zeros(1)  # none: sent without a channel (noise-free)
        return values[:1], values[1:body].reshape(maps, h, w), noise

    @torch.no_grad()
    def channel_part(self, payload: Payload, snr_db: float, generator: torch.Generator | None = None) -> Payload:
        import torch.nn.functional as F

        from semcom.digital.side import side_bytes

        scale, sent, _ = self._unpack(payload, arrived=False)
        maps, total, h, w = self._grid(tuple(payload.shape))
        z = F.pad(sent, (0, 0, 0, 0, 0, total - maps))[None]
        snr = torch.full((1,), float(snr_db))
        z_hat, noise_var = self.transmitter.channel.transmit(z, snr, generator)
        data = torch.cat([scale, z_hat[0, :maps].reshape(-1), noise_var.reshape(-1).float()])
        side = self.transmitter.side_link.send(side_bytes(scale), self.transmitter.channel, float(snr_db), generator)
        uses = maps * h * w // 2 + side.channel_uses
        details = payload.details | {"side_uses": side.channel_uses, "side_mcs": side.mcs}
        if not side.ok:  # the server cannot de-normalise without the scale: nothing goes to it
            details |= {"reason": side.reason}
        return replace(payload, data=to_bytes(data, "float32"), channel_uses=uses, ok=side.ok, details=details)

    @torch.no_grad()
    def server_part(self, payloads: list[Payload]) -> list[torch.Tensor]:
        import torch.nn.functional as F

        from semcom.jscc.softcast import noise_per_real

        model = self.transmitter.model
        out: list[Any] = []
        for i, p in enumerate(payloads):
            if p.data is None or p.dtype != "float32":
                raise SemcomError(f"payload {i}: expected float32 values, got {p.dtype}")
            try:
                self.check_input(tuple(p.shape))
                scale, received, noise_var = self._unpack(p, arrived=True)
            except SemcomError as exc:
                raise SemcomError(f"payload {i}: {exc}") from None
            maps, total, h, w = self._grid(tuple(p.shape))
            z_hat = F.pad(received, (0, 0, 0, 0, 0, total - maps))[None]
            s = scale.reshape(1, 1, 1, 1)
            noise_u = noise_per_real(noise_var.reshape(1, -1), z_hat) * s**2
            x_hat = model.decode_latent(z_hat * s, noise_u, (h * 16, w * 16))
            out.append(x_hat[0, :, : p.shape[1], : p.shape[2]].clamp(0, 1))
        return out

    def result(self, payload: Payload, x_hat: torch.Tensor | None) -> Transmission:
        """The transmission, as in process: a lost side block (``ok`` False) is ``side_outcome``'s lost image."""
        from semcom.digital.side import side_outcome

        if payload.ok:
            return super().result(payload, x_hat)
        details = dict(payload.details)
        reason = details.pop("reason", None) or "decode failed"
        return side_outcome(torch.zeros(payload.shape), payload.channel_uses, details, reason)


@dataclass
class Served:
    """A scheme as served: ``name`` (its wire scheme), ``scheme`` (device_part / channel_part / server_part / result),
    ``model_id`` and ``model_hash`` (the first 8 bytes of ``weights_sha256``; both halves of the model, which were
    trained together, so a device encoder only matches the server decoder it was trained with)."""

    name: str
    scheme: Any
    model_id: str
    model_hash: bytes

    @property
    def task(self) -> str:
        return self.scheme.task

    def output_shape(self, payload_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of the server's result for a request about an item of ``payload_shape``."""
        return tuple(payload_shape) if self.task == "image" else (self.classes,)

    @property
    def classes(self) -> int:
        return self.scheme.classes if hasattr(self.scheme, "classes") else self.scheme.server.classes


def identity(name: str, scheme) -> tuple[str, bytes]:
    """(model id, 8-byte weights hash) of a built scheme."""
    if name == "splitnn":
        return f"splitnn:{scheme.name}", weights_sha256([scheme.model])[:8]
    if name == "attention-ci":
        return "attention-ci:vit", weights_sha256([scheme.client, scheme.server])[:8]
    model = scheme.transmitter.model
    return (f"jscc:{model.cfg.name}:cbr{scheme.cbr:.6g}"[:32],
            weights_sha256([model], extra=f"cbr={scheme.cbr!r}")[:8])


def build_served(name: str, channel: str = "awgn", **options) -> Served:
    """Build a served scheme through the registry (``options`` as ``semcom transmit`` takes them; ``channel``: the
    channel the device side simulates, the server never uses it)."""
    from semcom.experiments import registry

    if name not in SERVED:
        raise SemcomError(f"scheme {name!r} is not served; choose one of {', '.join(SERVED)}")
    scheme = registry.get(name).build({"channel": channel, **options})
    if name == "jscc":
        # one model per server: device and server must code with the same weights, and the model id/hash name them,
        # so the shipped pick by SNR (specialists) is not served: the general model, or the --checkpoint given
        scheme.by_snr = False
        scheme = HybridSplit(scheme) if hasattr(scheme.model, "transmit_batch") else JSCCSplit(scheme)
    if name == "attention-ci" and scheme.link != "digital":
        raise SemcomError("attention-ci is served with the digital link (its request is bytes)")
    if name == "splitnn" and not scheme.model.codec.cfg.bits:
        raise SemcomError(f"{scheme.name} is an analog codec; serve a digital splitnn variant")
    model_id, model_hash = identity(name, scheme)
    return Served(name, scheme, model_id, model_hash)
