"""Patch scores from attention maps: rollout against hand-computed products, the CLS row."""

import pytest
import torch

from semcom.errors import SemcomError
from semcom.vit.attention import cls_attention, patch_scores, rollout

# Two layers, two heads, tokens (CLS, patch 0, patch 1); rows are probabilities.
LAYER1 = torch.tensor([[[0.5, 0.25, 0.25], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]],
                       [[0.3, 0.3, 0.4], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]]])[None]
LAYER2 = torch.tensor([[[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
                       [[0.2, 0.2, 0.6], [0.4, 0.4, 0.2], [0.2, 0.6, 0.2]]])[None]


def test_rollout_of_a_hand_built_two_layer_case():
    # head means + identity, halved: A1' = [[.7, .1375, .1625], [.05, .9, .05], [.15, .15, .7]],
    # A2' = [[.55, .175, .275], [.35, .6, .05], [.05, .15, .8]]; CLS row of A2' A1' = [.435, .274375, .290625]
    scores = rollout([LAYER1, LAYER2])
    assert torch.allclose(scores, torch.tensor([[0.274375, 0.290625]]), atol=1e-6)
    # without the residual: CLS row of mean(L2) mean(L1) = .1 * row0 + .35 * row1 + .55 * row2 of mean(L1)
    assert torch.allclose(rollout([LAYER1, LAYER2], residual=False), torch.tensor([[0.4725, 0.2875]]), atol=1e-6)


def random_attentions(layers, batch=2, heads=3, tokens=6):
    return [torch.softmax(3 * torch.randn(batch, heads, tokens, tokens), dim=-1) for _ in range(layers)]


@pytest.mark.parametrize("prefix", [1, 2])
def test_rollout_is_the_product_of_renormalised_residual_head_means(prefix):
    torch.manual_seed(0)
    attentions = random_attentions(3)
    eye = torch.eye(6, dtype=torch.float64)
    product = eye
    for a in attentions:
        layer = 0.5 * a.double().mean(1) + 0.5 * eye
        product = (layer / layer.sum(-1, keepdim=True)) @ product
    scores = rollout(attentions, prefix=prefix)
    assert scores.shape == (2, 6 - prefix) and (scores >= 0).all()
    assert torch.allclose(scores.double(), product[:, 0, prefix:], atol=1e-6)


def test_cls_attention_is_the_last_layers_head_mean_cls_row():
    torch.manual_seed(1)
    attentions = random_attentions(2)
    last = attentions[-1]
    assert torch.allclose(cls_attention(attentions), last[:, :, 0, 1:].mean(1))
    deit = cls_attention(attentions, prefix=2)  # skips the distillation token's column
    assert deit.shape == (2, 4) and torch.allclose(deit, last[:, :, 0, 2:].mean(1))
    assert not torch.allclose(cls_attention(attentions), attentions[0][:, :, 0, 1:].mean(1))
    assert not torch.allclose(cls_attention(attentions), last[:, :, 1, 1:].mean(1))
    assert torch.allclose(cls_attention([LAYER1, LAYER2]), torch.tensor([[0.35, 0.55]]))


def test_patch_scores_by_name():
    attentions = [LAYER1, LAYER2]
    assert torch.equal(patch_scores(attentions, "cls"), cls_attention(attentions))
    assert torch.equal(patch_scores(attentions, "rollout"), rollout(attentions))
    with pytest.raises(SemcomError, match="unknown attention score"):
        patch_scores(attentions, "gradcam")


@pytest.mark.parametrize("attentions, prefix", [
    ([], 1),
    (LAYER1, 1),
    ([LAYER1, LAYER1[:, :1]], 1),
    ([LAYER1[0]], 1),
    ([LAYER1], 3),
    ([LAYER1], 0),
])
def test_bad_attentions_are_errors(attentions, prefix):
    for score in (cls_attention, rollout):
        with pytest.raises(SemcomError):
            score(attentions, prefix=prefix)
