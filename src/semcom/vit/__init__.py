"""Vision transformers that run on a subset of their patches: a plain-torch ``ViT`` (module ``model``), the patch
grid geometry every ViT here and in ``transformers`` shares (``grid``), and patch importance from attention maps
(``attention``: the last layer's CLS row, attention rollout)."""

from semcom.vit.attention import SCORES, cls_attention, patch_scores, rollout
from semcom.vit.grid import gather_tokens, patch_grid, patchify, unpatchify
from semcom.vit.model import VIT_PRESETS, ViT, ViTConfig

__all__ = ["SCORES", "VIT_PRESETS", "ViT", "ViTConfig", "cls_attention", "gather_tokens", "patch_grid", "patch_scores",
           "patchify", "rollout", "unpatchify"]
