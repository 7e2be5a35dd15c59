"""Training objectives of SemanticNN and its baselines.

feature_mse            stage 1: the codec as a denoising autoencoder of the split features
cross_entropy          stage 2: task loss through the frozen tail
attribution_alignment  optional XAI loss: integrated-gradients attributions of the tail on the
                       decoded features should match those on the original features
(DeepCOD's distillation loss is shared with attention-CI: ``semcom.splitting.losses.distillation``.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def feature_mse(out: dict, scale: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error of the decoded features, per channel divided by ``scale`` [C] (e.g. the std)."""
    if scale is None:
        return F.mse_loss(out["features_hat"], out["features"])
    return F.mse_loss(out["features_hat"] / scale[:, None, None], out["features"] / scale[:, None, None])


def cross_entropy(out: dict, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out["logits"], labels)


def integrated_gradients(tail: nn.Module, features: torch.Tensor, labels: torch.Tensor, steps: int = 8,
                         create_graph: bool = False) -> torch.Tensor:
    """Integrated gradients of the label's logit w.r.t. ``features`` [B, C, H, W] from a zero baseline.

    IG = features * mean_k d logit(alpha_k * features) / d features, alpha_k = (k - 0.5) / steps
    (midpoint rule). With ``create_graph`` the result stays differentiable w.r.t. ``features``.
    """
    if not features.requires_grad:
        features = features.detach().requires_grad_(True)
    total = torch.zeros_like(features)
    for k in range(steps):
        alpha = (k + 0.5) / steps
        logits = tail(alpha * features)
        picked = logits.gather(1, labels[:, None]).sum()
        (grad,) = torch.autograd.grad(picked, features, create_graph=create_graph)
        total = total + grad / alpha  # d f(alpha x) / dx = alpha * f'(alpha x)
    return features * total / steps


def attribution_alignment(tail: nn.Module, out: dict, labels: torch.Tensor, steps: int = 4) -> torch.Tensor:
    """Mean squared difference of IG attributions (decoded vs original features), normalised by the
    original attributions' mean square; differentiable w.r.t. the decoded features."""
    with torch.enable_grad():
        reference = integrated_gradients(tail, out["features"].detach(), labels, steps).detach()
        attributions = integrated_gradients(tail, out["features_hat"], labels, steps, create_graph=True)
    return ((attributions - reference) ** 2).mean() / reference.pow(2).mean().clamp_min(1e-12)
