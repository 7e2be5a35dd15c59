"""Training objectives: integrated gradients against its completeness axiom, alignment."""

import torch
from torch import nn

from semcom.schemes.splitnn import losses


def tail():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.Tanh(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))


def test_integrated_gradients_satisfy_completeness():
    # sum of IG attributions = f(x) - f(0) for the chosen logit (Sundararajan et al. 2017), up to quadrature error
    f, x, y = tail(), torch.randn(3, 4, 6, 6), torch.tensor([0, 2, 4])
    ig = losses.integrated_gradients(f, x, y, steps=64)
    with torch.no_grad():
        expected = f(x).gather(1, y[:, None])[:, 0] - f(torch.zeros_like(x)).gather(1, y[:, None])[:, 0]
    assert ig.shape == x.shape
    assert torch.allclose(ig.sum(dim=(1, 2, 3)), expected, atol=2e-3, rtol=1e-2)


def test_attribution_alignment_is_zero_for_perfect_features_and_trains_the_decoder_otherwise():
    f, feats, y = tail(), torch.randn(2, 4, 6, 6), torch.tensor([1, 3])
    assert losses.attribution_alignment(f, {"features": feats, "features_hat": feats.clone()}, y).item() < 1e-10
    decoded = (feats + 0.3 * torch.randn_like(feats)).requires_grad_(True)
    loss = losses.attribution_alignment(f, {"features": feats, "features_hat": decoded}, y)
    loss.backward()
    assert loss.item() > 0 and decoded.grad.abs().sum() > 0
