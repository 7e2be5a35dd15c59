"""Patch selection policies: each one's invariants, at least one patch per image, bad parameters."""

import math

import pytest
import torch

from semcom.errors import SemcomError
from semcom.schemes.attention_ci.policies import mask_to_keep, select


def scores_batch(n=64):
    torch.manual_seed(0)
    peaked = torch.softmax(4 * torch.randn(5, n), dim=1)
    ties = torch.tensor([[1.0] * (n // 2) + [0.0] * (n - n // 2)])
    return torch.cat((peaked, torch.rand(2, n), torch.zeros(1, n), ties, torch.ones(1, n)))


CASES = [("random", {"fraction": 0.001}), ("random", {"k": 1}), ("random", {"fraction": 1.0}), ("topk", {"k": 1}),
         ("topk", {"k": 64}), ("threshold", {"tau": 1.0}), ("threshold", {"tau": 0.0}), ("threshold", {"tau": 0.5}),
         ("mass", {"delta": 1e-9}), ("mass", {"delta": 0.97}), ("mass", {"delta": 1.0})]


@pytest.mark.parametrize("name, params", CASES)
def test_every_policy_keeps_at_least_one_patch_of_every_image(name, params):
    scores = scores_batch()
    mask = select(name, scores, **params)
    assert mask.dtype == torch.bool and mask.shape == scores.shape
    assert (mask.sum(dim=1) >= 1).all()


@pytest.mark.parametrize("k", [1, 5, 64])
def test_topk_keeps_exactly_k_of_the_highest(k):
    scores = torch.rand(6, 64)
    mask = select("topk", scores, k=k)
    assert (mask.sum(dim=1) == k).all()
    for row, chosen in zip(scores, mask):
        assert k == 64 or row[chosen].min() >= row[~chosen].max()


@pytest.mark.parametrize("delta", [0.05, 0.5, 0.8, 0.97, 1.0])
def test_mass_is_the_smallest_set_reaching_delta(delta):
    scores = scores_batch()
    mask = select("mass", scores, delta=delta)
    for row, chosen in zip(scores.double(), mask):
        p = row / row.sum() if row.sum() > 0 else torch.full_like(row, 1 / len(row))
        kept = p[chosen]
        assert kept.sum() >= delta - 1e-12 or chosen.all()
        assert kept.sum() - kept.min() < delta  # dropping its smallest member falls short: minimal
        assert chosen.all() or kept.min() >= p[~chosen].max()  # the highest scores, so no smaller set exists


def test_mass_on_a_hand_example():
    scores = torch.tensor([[2.0, 8.0, 1.0, 5.0]])  # normalised: 1/8, 1/2, 1/16, 5/16 (exact in binary)
    assert select("mass", scores, delta=0.5).tolist() == [[False, True, False, False]]  # reaching delta suffices
    assert select("mass", scores, delta=0.8125).tolist() == [[False, True, False, True]]
    assert select("mass", scores, delta=0.8126).tolist() == [[True, True, False, True]]
    assert select("mass", scores, delta=0.97).tolist() == [[True, True, True, True]]
    assert select("mass", torch.tensor([[0.0, 2.0, 0.0]]), delta=1.0).tolist() == [[False, True, False]]


def test_threshold_is_relative_to_the_best_patch():
    scores = torch.tensor([[0.1, 0.4, 0.2, 0.3], [0.0, 0.0, 0.0, 0.0]])
    assert select("threshold", scores, tau=0.5).tolist() == [[False, True, True, True], [True] * 4]
    assert select("threshold", scores, tau=1.0)[0].tolist() == [False, True, False, False]
    assert select("threshold", scores, tau=0.0).all()


def test_random_respects_the_fraction_and_the_generator():
    scores = torch.zeros(200, 64)

    def draw(seed, **params):
        return select("random", scores, generator=torch.Generator().manual_seed(seed), **params)

    mask = draw(1, fraction=0.25)
    assert (mask.sum(dim=1) == 16).all()
    assert torch.equal(mask, draw(1, fraction=0.25)) and not torch.equal(mask, draw(2, fraction=0.25))
    assert (draw(3, fraction=0.3).sum(dim=1) == round(0.3 * 64)).all()
    assert (draw(3, k=7).sum(dim=1) == 7).all()
    assert (draw(3, fraction=0.5 / 64).sum(dim=1) == 1).all()  # half a patch rounds up to one
    per_patch = mask.float().mean(dim=0)  # uniform: each patch kept by ~25 % of the 200 images
    assert (per_patch - 0.25).abs().max() < 5 * math.sqrt(0.25 * 0.75 / 200)


@pytest.mark.parametrize("name, params, match", [
    ("mass", {"delta": 0.0}, "delta"), ("mass", {"delta": 1.5}, "delta"), ("mass", {"delta": float("nan")}, "delta"),
    ("mass", {"delta": -0.1}, "delta"),
    ("topk", {"k": 0}, "k must"), ("topk", {"k": 65}, "k must"), ("topk", {"k": 2.0}, "k must"),
    ("topk", {"k": True}, "k must"),
    ("threshold", {"tau": -0.1}, "tau"), ("threshold", {"tau": 1.5}, "tau"),
    ("random", {"fraction": 0.0}, "fraction"), ("random", {"fraction": 0.5, "k": 3}, "exactly one"),
    ("random", {}, "exactly one"),
    ("topk", {"delta": 0.97}, "unexpected delta"),  # the seed's bug: top-k given a delta selected nothing
    ("topk", {}, "needs k"), ("mass", {}, "needs delta"),
    ("attention", {"k": 3}, "unknown patch policy"),
])
def test_bad_policy_or_parameters_are_errors(name, params, match):
    with pytest.raises(SemcomError, match=match):
        select(name, torch.rand(2, 64), **params)


@pytest.mark.parametrize("scores", [torch.tensor([[0.5, -0.1]]), torch.tensor([[0.5, float("nan")]]),
                                    torch.rand(64), torch.zeros(2, 0), torch.ones(2, 3, dtype=torch.long)])
def test_bad_scores_are_errors(scores):
    with pytest.raises(SemcomError):
        select("topk", scores, k=1)


def test_mask_to_keep():
    assert mask_to_keep(torch.tensor([False, True, False, True])).tolist() == [1, 3]
    assert mask_to_keep(torch.tensor([False, True])).dtype == torch.int64
    with pytest.raises(SemcomError, match="no patch"):
        mask_to_keep(torch.zeros(4, dtype=torch.bool))
    with pytest.raises(SemcomError):
        mask_to_keep(torch.ones(2, 4, dtype=torch.bool))
