"""A small Vision Transformer in plain torch that can run on a subset of its patch tokens.

Dosovitskiy et al. (2021) with pre-norm blocks: patch embedding (a p x p convolution with stride p),
a learned [CLS] token, learned position embeddings (one for CLS, one per patch), ``depth`` blocks of
x + MHSA(LN(x)) then x + MLP(LN(x)) (GELU), a final LayerNorm and a linear head on the CLS token.

Token subsets: ``forward(x, keep)`` embeds every patch, adds each patch's own position embedding, keeps
only the patches listed in ``keep`` and runs the transformer on those k tokens plus CLS. Self-attention
does not depend on the order of its tokens, so any order of ``keep`` gives the same logits, and the
pixels of patches not in ``keep`` never reach the transformer. This is what the server does with the
patches it receives.

Callers pass images in [0, 1]; the normalisation (``cfg.mean``, ``cfg.std``) is the model's first stage,
as in ``semcom.splitting.CifarResNet``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from semcom.errors import SemcomError
from semcom.splitting import IMAGENET_MEAN, IMAGENET_STD, Normalize
from semcom.vit.grid import check_images, check_keep, gather_tokens, patch_grid


@dataclass(frozen=True, kw_only=True)
class ViTConfig:
    """A ViT's sizes. ``image_size``: side of the square input in pixels; ``patch``: patch side in pixels;
    ``dim``: token width; ``depth``: blocks; ``heads``: attention heads (``dim`` divisible by ``heads``);
    ``mlp_ratio``: MLP hidden width / ``dim``; ``classes``: logits; ``channels``: image channels;
    ``mean``/``std``: per-channel input normalisation of images in [0, 1].
    """

    dim: int
    depth: int
    heads: int
    mlp_ratio: float = 4.0
    image_size: int = 32
    patch: int = 4
    classes: int = 10
    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    def __post_init__(self):
        for name in ("dim", "depth", "heads", "image_size", "patch", "classes", "channels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SemcomError(f"ViTConfig.{name} must be a positive integer, got {value!r}")
        if self.dim % self.heads:
            raise SemcomError(f"ViTConfig.dim ({self.dim}) must be divisible by heads ({self.heads})")
        if not self.mlp_ratio > 0:
            raise SemcomError(f"ViTConfig.mlp_ratio must be > 0, got {self.mlp_ratio!r}")
        patch_grid(self.image_size, self.image_size, self.patch)
        for name in ("mean", "std"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != self.channels:
                raise SemcomError(f"ViTConfig.{name} needs {self.channels} values (one per channel), got {value}")
            object.__setattr__(self, name, value)  # lists from JSON become tuples
        if min(self.std) <= 0:
            raise SemcomError(f"ViTConfig.std must be positive, got {self.std}")

    @property
    def grid(self) -> tuple[int, int]:
        """(rows, cols) of the patch grid."""
        return patch_grid(self.image_size, self.image_size, self.patch)

    @property
    def num_patches(self) -> int:
        rows, cols = self.grid
        return rows * cols


VIT_PRESETS = {
    "client": ViTConfig(dim=96, depth=4, heads=3),
    "server": ViTConfig(dim=192, depth=6, heads=6),
}


class SelfAttention(nn.Module):
    """Multi-head self-attention: [B, T, dim] -> ([B, T, dim], probabilities [B, heads, T, T] or None)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, h: torch.Tensor, return_probs: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, t, d = h.shape
        q, k, v = self.qkv(h).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if return_probs:
            probs = torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5, dim=-1)
            out = probs @ v
        else:
            probs, out = None, F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, t, d)), probs


class Block(nn.Module):
    """Pre-norm transformer block: h + MHSA(LN(h)), then h + MLP(LN(h)); [B, T, dim] -> [B, T, dim]."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        hidden = round(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, h: torch.Tensor, return_probs: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, probs = self.attn(self.norm1(h), return_probs)
        h = h + a
        return h + self.mlp(self.norm2(h)), probs


class ViT(nn.Module):
    """The ViT of ``cfg``. See the module docstring; ``forward`` documents the shapes."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        if not isinstance(cfg, ViTConfig):
            raise SemcomError(f"ViT needs a ViTConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.preprocess = Normalize(cfg.mean, cfg.std)
        self.patch_embed = nn.Conv2d(cfg.channels, cfg.dim, cfg.patch, stride=cfg.patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + cfg.num_patches, cfg.dim))
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated-normal (std 0.02) tokens, position embeddings and linear weights; zero biases."""
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [B, C, H, W] in [0, 1] -> (CLS token [B, 1, dim], patch tokens [B, N, dim]), positions added."""
        c = self.cfg
        check_images(x, c.channels, c.image_size, c.image_size)
        patches = self.patch_embed(self.preprocess(x)).flatten(2).transpose(1, 2) + self.pos_embed[:, 1:]
        return (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1), patches

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None, attentions: bool = False):
        """Classify images [B, C, H, W] in [0, 1] from the patches in ``keep``.

        ``keep``: LongTensor [B, k] of distinct patch indices (row-major, see ``grid``), or None for all N.
        Returns logits [B, classes]; with ``attentions=True`` returns (logits, list of ``depth`` attention
        probabilities [B, heads, T, T]) with T = k + 1 tokens, CLS first, then the patches in ``keep``'s order.
        """
        cls, patches = self.embed(x)
        if keep is not None:
            patches = gather_tokens(patches, check_keep(keep, x.shape[0], self.cfg.num_patches).to(x.device))
        h = torch.cat((cls, patches), dim=1)
        probs = []
        for block in self.blocks:
            h, p = block(h, attentions)
            probs.append(p)
        logits = self.head(self.norm(h[:, 0]))
        return (logits, probs) if attentions else logits
