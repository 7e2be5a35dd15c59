"""SemanticNN's bits over the coded digital link, with link adaptation (variants with ``link="adaptive"``).

The device's payload (``SemanticNN.device_payload``: the packed quantiser indices, encoder told
``clean_snr_db``) is one transport block of the core's digital link (``semcom.digital.transport``):
5G LDPC + QAM at the cheapest MCS that carries it with predicted success >= ``target_success`` at the
SNR (``mcs_for_payload``; default: the core's one target ``semcom.digital.TARGET_SUCCESS`` = 0.99: each image is
one block, so this is the share of answers the link may lose - at 0.9 it picked MCSs that lost 3-6 % of the blocks
at 7 dB). A block that decodes is exact, so the server decodes it as if the channel
were clean (decoder told ``clean_snr_db``); a block that fails is lost and the server has no answer
(counted wrong), as for the digital feature baseline. When no MCS is reliable (low SNR) the bits go
uncoded over the codec's own bit channel (QPSK, hard decisions) at the true SNR, as plain SemanticNN
does - so accuracy degrades gracefully instead of falling off the cliff. The same number of bits
leaves the device either way; only the channel uses differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from semcom.channels import build_channel
from semcom.digital.mcs import TARGET_SUCCESS, check_target_success
from semcom.digital.transport import mcs_for_payload, send_bytes
from semcom.errors import SemcomError
from semcom.schemes.splitnn.model import SemanticNN
from semcom.seeding import make_generator



@dataclass(frozen=True)
class AdaptiveResult:
    accuracy: float  # top-1 %, lost blocks counted wrong
    channel_uses: float  # complex channel uses per image
    mcs: str | None  # None: sent uncoded
    delivered: float  # share of images whose block arrived (1.0 when uncoded: nothing is dropped)


@torch.no_grad()
def adaptive_accuracy(model: SemanticNN, images: torch.Tensor, labels: torch.Tensor, snr_db: float, channel: str,
                      clean_snr_db: float, decode: bool = False, seed: int = 0, target_success: float = TARGET_SUCCESS,
                      batch: int = 500) -> AdaptiveResult:
    """Accuracy and cost of ``model`` (a digital codec; its bit channel must be ``channel``) on uint8 images.

    ``decode``: really LDPC-encode, send and decode every block (slow) or draw block failures from the
    shipped BLER table (fast; see ``send_bytes``).
    """
    if not model.codec.cfg.bits:
        raise SemcomError("the adaptive link carries bits: this codec is analog")
    if model.medium != channel:
        raise SemcomError(f"the model's bit channel is {model.medium!r}, the link's {channel!r}: load it with medium={channel!r}")
    check_target_success(target_success)
    model.eval()
    n, gen = len(images), make_generator(seed)
    payload_bits = 8 * len(model.device_payload(images[:1].float() / 255, torch.tensor([clean_snr_db]))[0])
    mcs = mcs_for_payload(payload_bits, snr_db, channel, target_success)
    correct = delivered = uses = 0
    link_channel = build_channel(channel)
    for start in range(0, n, batch):
        x, y = images[start:start + batch].float() / 255, labels[start:start + batch]
        if mcs is None:
            correct += (model(x, snr_db, gen)["logits"].argmax(1) == y).sum().item()
            delivered, uses = delivered + len(y), uses + model.channel_uses * len(y)
            continue
        clean = torch.full((len(y),), float(clean_snr_db))
        sent = [send_bytes(p, mcs, link_channel, channel, snr_db, decode, gen) for p in model.device_payload(x, clean)]
        uses += sum(d.channel_uses for d in sent)
        ok = [i for i, d in enumerate(sent) if d.ok]
        delivered += len(ok)
        if ok:
            logits = model.server_logits([sent[i].received for i in ok], clean[: len(ok)])
            correct += (logits.argmax(1) == y[ok]).sum().item()
    return AdaptiveResult(100 * correct / n, uses / n, None if mcs is None else mcs.name, delivered / n)
