"""Attention-aware collaborative inference (seed 004, issue #5): a small client ViT answers confident
images itself and sends only its most-attended patches of the others to a large server ViT.

Modules: ``vit`` (a plain-torch ViT that runs on a token subset), ``adapters`` (one interface over it and
``transformers`` ViT/DeiT), ``grid`` (patch geometry).
"""

from semcom.schemes.attention_ci.adapters import HFViTAdapter, OwnViTAdapter, ViTAdapter, load_hf_vit
from semcom.schemes.attention_ci.vit import VIT_PRESETS, ViT, ViTConfig

__all__ = ["VIT_PRESETS", "HFViTAdapter", "OwnViTAdapter", "ViT", "ViTAdapter", "ViTConfig", "load_hf_vit"]
