"""Confidence gates against hand computations; who is offloaded; bad gates and thresholds."""

import math

import pytest
import torch

from semcom.errors import SemcomError
from semcom.schemes.attention_ci.gates import GATES, entropy, margin, min_entropy, offload, uncertainty

PROBS = torch.tensor([[0.7, 0.2, 0.1]])


def test_uniform_logits_are_maximally_uncertain():
    logits = torch.full((2, 10), 3.0)
    assert torch.allclose(entropy(logits), torch.tensor(math.log(10)))
    assert torch.allclose(min_entropy(logits), torch.tensor(math.log(10)))
    assert torch.allclose(margin(logits), torch.tensor(1.0))


def test_gates_on_a_hand_example():
    logits = PROBS.log() + 5.0  # softmax is shift-invariant
    h = -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1))
    assert entropy(logits).item() == pytest.approx(h, abs=1e-6)
    assert min_entropy(logits).item() == pytest.approx(-math.log(0.7), abs=1e-6)
    assert margin(logits).item() == pytest.approx(1 - (0.7 - 0.2), abs=1e-6)


@pytest.mark.parametrize("gate", list(GATES))
def test_confident_images_stay_on_the_device(gate):
    logits = torch.tensor([[12.0, 0.0, 0.0, 0.0], [0.1, 0.0, 0.1, 0.0], [3.0, 2.9, 0.0, 0.0]])
    assert offload(logits, gate, 0.5).tolist() == [False, True, True]
    assert offload(logits, gate, 0.0).tolist() == [True, True, True]
    assert not offload(logits, gate, float("inf")).any()
    assert torch.equal(offload(logits, gate, 0.3), uncertainty(logits, gate) > 0.3)


@pytest.mark.parametrize("gate, eta, match", [
    ("entropy", -0.1, "eta"), ("margin", float("nan"), "eta"), ("entropy", "0.5", "eta"), ("entropy", True, "eta"),
    ("min-entropy", 0.8, "unknown gate"), ("shannon", 0.8, "unknown gate"),
])
def test_bad_gate_or_threshold_is_an_error(gate, eta, match):
    with pytest.raises(SemcomError, match=match):
        offload(torch.randn(2, 10), gate, eta)


@pytest.mark.parametrize("logits", [torch.randn(10), torch.randn(2, 1), torch.tensor([[0.0, float("nan")]]),
                                    torch.ones(2, 3, dtype=torch.long)])
def test_bad_logits_are_an_error(logits):
    with pytest.raises(SemcomError):
        uncertainty(logits, "entropy")
