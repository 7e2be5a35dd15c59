"""Patch importance from a ViT's attention maps: the last layer's CLS row, or attention rollout.

Both take the per-layer attention probabilities of ``ViTAdapter.logits_and_attentions`` (a list of
[B, heads, T, T], first layer first) and return non-negative scores [B, N] for the N = T - prefix patch
tokens; ``prefix`` is the number of tokens before the patches (``ViTAdapter.num_prefix_tokens``: 1 for
CLS, 2 for DeiT's CLS + distillation token, whose column is left out). The CLS token is token 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from semcom.errors import SemcomError


def check_attentions(attentions: Sequence[torch.Tensor], prefix: int) -> list[torch.Tensor]:
    """SemcomError unless ``attentions`` is a non-empty list of equal-shaped [B, heads, T, T], T > prefix >= 1."""
    if isinstance(prefix, bool) or not isinstance(prefix, int) or prefix < 1:
        raise SemcomError(f"prefix (tokens before the patches) must be an integer >= 1, got {prefix!r}")
    if isinstance(attentions, torch.Tensor) or not attentions:
        raise SemcomError("attentions must be a non-empty list of per-layer [B, heads, T, T] tensors")
    layers = list(attentions)
    shape = layers[0].shape if isinstance(layers[0], torch.Tensor) else None
    for a in layers:
        if not isinstance(a, torch.Tensor) or a.dim() != 4 or a.shape != shape or a.shape[-1] != a.shape[-2]:
            raise SemcomError("attentions must be per-layer tensors of one shape [B, heads, T, T]")
    if shape[-1] <= prefix:
        raise SemcomError(f"attention over {shape[-1]} tokens has no patch tokens after {prefix} prefix tokens")
    return layers


def cls_attention(attentions: Sequence[torch.Tensor], prefix: int = 1) -> torch.Tensor:
    """The last layer's attention from CLS to each patch, averaged over heads: [B, N] (rows sum to <= 1)."""
    last = check_attentions(attentions, prefix)[-1]
    return last[:, :, 0, prefix:].mean(dim=1)


def rollout(attentions: Sequence[torch.Tensor], residual: bool = True, prefix: int = 1) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): [B, N] CLS-to-patch entries of A'_L ... A'_2 A'_1.

    Per layer A' is the head mean of the attention; with ``residual`` it is 0.5 * A' + 0.5 * I (the skip
    connection), and every A' has its rows renormalised to sum to 1. Computed in float64.
    """
    rolled = None
    for a in check_attentions(attentions, prefix):
        a = a.double().mean(dim=1)
        if residual:
            a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
        a = a / a.sum(dim=-1, keepdim=True)
        rolled = a if rolled is None else a @ rolled
    return rolled[:, 0, prefix:].to(attentions[0].dtype)


SCORES = {"cls": cls_attention, "rollout": rollout}


def patch_scores(attentions: Sequence[torch.Tensor], method: str, prefix: int = 1) -> torch.Tensor:
    """Scores [B, N] by ``method``: "cls" (``cls_attention``) or "rollout" (residual ``rollout``)."""
    if method not in SCORES:
        raise SemcomError(f"unknown attention score {method!r}; valid: {', '.join(SCORES)}")
    return SCORES[method](attentions, prefix=prefix)
