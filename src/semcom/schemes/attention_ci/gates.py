"""The confidence gate: answer on the device, or offload to the server when the client is uncertain.

Uncertainty of the client's softmax p over C classes, per image:

- ``entropy``: Shannon entropy -sum p log p, in nats, in [0, log C];
- ``min_entropy``: -log max p, in nats, in [0, log C];
- ``margin``: 1 - (p1 - p2), p1 >= p2 the two largest probabilities, in [0, 1].

``offload(logits, gate, eta)`` is True where the uncertainty exceeds ``eta`` >= 0.
"""

from __future__ import annotations

import math

import torch

from semcom.errors import SemcomError


def _log_probs(logits: torch.Tensor) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise SemcomError(f"logits must be a floating-point tensor [B, C], got {getattr(logits, 'dtype', type(logits))}")
    if logits.dim() != 2 or logits.shape[1] < 2:
        raise SemcomError(f"logits must be [B, C] with C >= 2 classes, got {list(logits.shape)}")
    if not torch.isfinite(logits).all():
        raise SemcomError("logits contain NaN or inf")
    return torch.log_softmax(logits, dim=1)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Shannon entropy of softmax(logits) in nats: [B, C] -> [B]."""
    log_p = _log_probs(logits)
    return -(log_p.exp() * log_p).sum(dim=1)


def min_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Min-entropy -log max p in nats: [B, C] -> [B]."""
    return -_log_probs(logits).max(dim=1).values


def margin(logits: torch.Tensor) -> torch.Tensor:
    """1 - (p1 - p2), the gap between the two most probable classes subtracted from 1: [B, C] -> [B]."""
    top = _log_probs(logits).exp().topk(2, dim=1).values
    return 1 - (top[:, 0] - top[:, 1])


GATES = {"entropy": entropy, "min_entropy": min_entropy, "margin": margin}


def uncertainty(logits: torch.Tensor, gate: str) -> torch.Tensor:
    """The uncertainty [B] named by ``gate`` ("entropy", "min_entropy" or "margin")."""
    if gate not in GATES:
        raise SemcomError(f"unknown gate {gate!r}; valid: {', '.join(GATES)}")
    return GATES[gate](logits)


def offload(logits: torch.Tensor, gate: str, eta: float) -> torch.Tensor:
    """bool [B]: True where ``uncertainty(logits, gate)`` > ``eta`` (offload), False where the client answers.

    ``eta`` >= 0 (inf: never offload); SemcomError for a negative or NaN ``eta``.
    """
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or math.isnan(eta) or eta < 0:
        raise SemcomError(f"eta (the gate threshold) must be a number >= 0, got {eta!r}")
    return uncertainty(logits, gate) > eta
