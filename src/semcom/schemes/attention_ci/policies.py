"""Which patches to send: selection policies from patch scores [B, N] to a boolean mask [B, N].

Scores are non-negative (attention, see ``attention.py``). Every policy keeps at least one patch of
every image, by construction:

- ``random``: ``k`` patches, or ``max(1, round(fraction * N))`` (halves round up), uniformly at random
  from ``generator``; the scores' values are not used.
- ``topk``: the ``k`` highest-scoring patches (ties broken by ``torch.topk``).
- ``threshold``: patches scoring at least ``tau`` times the image's highest score, ``tau`` in [0, 1]
  (relative, so one ``tau`` suits models whose attention is more or less peaked; ``tau`` = 0 keeps all,
  the best patch is always kept).
- ``mass``: the smallest set whose normalised scores (divided by the image's total) sum to at least
  ``delta`` in (0, 1]: patches in decreasing score order up to the first whose cumulative sum reaches
  ``delta``. An image whose scores are all zero is treated as uniform.

``select(name, scores, **params)`` dispatches by name (for configs and the CLI); bad names and
parameters are SemcomErrors.
"""

from __future__ import annotations

import inspect
import math

import torch

from semcom.errors import SemcomError


def check_scores(scores: torch.Tensor) -> torch.Tensor:
    """SemcomError unless ``scores`` is a floating [B, N] tensor (N >= 1) of finite non-negative values."""
    if not isinstance(scores, torch.Tensor) or not scores.is_floating_point():
        raise SemcomError(f"scores must be a floating-point tensor [B, N], got {getattr(scores, 'dtype', type(scores))}")
    if scores.dim() != 2 or scores.shape[1] < 1:
        raise SemcomError(f"scores must be [B, N] with N >= 1 patches, got {list(scores.shape)}")
    if not torch.isfinite(scores).all() or (scores < 0).any():
        raise SemcomError("scores must be finite and non-negative")
    return scores


def _check_k(k, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        raise SemcomError(f"k must be an integer in [1, {n}] (the number of patches), got {k!r}")
    return k


def _check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise SemcomError(f"{name} must be in (0, 1], got {value!r}")
    return float(value)


def _mask_from_indices(scores: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, indices, True)


def random_mask(scores: torch.Tensor, fraction: float | None = None, k: int | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """``k`` (or ``fraction`` of N) patches per image drawn uniformly without replacement: bool [B, N]."""
    n = check_scores(scores).shape[1]
    if (fraction is None) == (k is None):
        raise SemcomError("the random policy needs exactly one of fraction and k")
    if k is None:
        k = max(1, math.floor(_check_fraction(fraction, "fraction") * n + 0.5))
    k = _check_k(k, n)
    draws = torch.rand(scores.shape, generator=generator, device=scores.device if generator is None else generator.device)
    return _mask_from_indices(scores, draws.topk(k, dim=1).indices.to(scores.device))


def topk_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` highest-scoring patches of each image: bool [B, N] with exactly ``k`` True per row."""
    k = _check_k(k, check_scores(scores).shape[1])
    return _mask_from_indices(scores, scores.topk(k, dim=1).indices)


def threshold_mask(scores: torch.Tensor, tau: float) -> torch.Tensor:
    """Patches with score >= ``tau`` * (the image's highest score), ``tau`` in [0, 1]: bool [B, N]."""
    check_scores(scores)
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not 0 <= tau <= 1:
        raise SemcomError(f"tau (a fraction of the highest score) must be in [0, 1], got {tau!r}")
    return scores >= tau * scores.max(dim=1, keepdim=True).values


def mass_mask(scores: torch.Tensor, delta: float) -> torch.Tensor:
    """The smallest set of patches per image whose normalised scores sum to >= ``delta``: bool [B, N]."""
    n = check_scores(scores).shape[1]
    delta = _check_fraction(delta, "delta")
    s = scores.double()
    total = s.sum(dim=1, keepdim=True)
    p = torch.where(total > 0, s / total.clamp_min(torch.finfo(s.dtype).tiny), torch.full_like(s, 1.0 / n))
    ordered, order = p.sort(dim=1, descending=True)
    # count = 1 + number of prefixes still short of delta; rounding can leave the full sum just below 1
    count = ((ordered.cumsum(dim=1) < delta).sum(dim=1, keepdim=True) + 1).clamp_max(n)
    ranks = torch.arange(n, device=scores.device).expand_as(order)
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, order, ranks < count)


POLICIES = {"random": random_mask, "topk": topk_mask, "threshold": threshold_mask, "mass": mass_mask}
# The one parameter each policy is swept / configured by (``random`` also accepts ``k``).
POLICY_PARAM = {"topk": "k", "mass": "delta", "threshold": "tau", "random": "fraction"}


def select(name: str, scores: torch.Tensor, **params) -> torch.Tensor:
    """The mask of policy ``name`` ("random", "topk", "threshold", "mass") with its parameters.

    SemcomError for an unknown name, a parameter the policy does not take, or a missing one.
    """
    if name not in POLICIES:
        raise SemcomError(f"unknown patch policy {name!r}; valid: {', '.join(POLICIES)}")
    policy = POLICIES[name]
    accepted = list(inspect.signature(policy).parameters)[1:]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise SemcomError(f"policy {name!r} takes {', '.join(accepted)}; got unexpected {', '.join(unknown)}")
    required = [p.name for p in inspect.signature(policy).parameters.values()
                if p.default is inspect.Parameter.empty and p.name != "scores"]
    missing = [p for p in required if p not in params]
    if missing:
        raise SemcomError(f"policy {name!r} needs {', '.join(missing)}")
    return policy(scores, **params)


def mask_to_keep(mask_row: torch.Tensor) -> torch.Tensor:
    """Indices (int64 [k], ascending) of the True entries of one image's mask [N]; SemcomError if k = 0."""
    if not isinstance(mask_row, torch.Tensor) or mask_row.dtype != torch.bool or mask_row.dim() != 1:
        raise SemcomError(f"mask_to_keep takes one image's bool mask [N], got {getattr(mask_row, 'shape', mask_row)}")
    keep = mask_row.nonzero().flatten()
    if keep.numel() == 0:
        raise SemcomError("the mask selects no patch: at least one must be sent")
    return keep
