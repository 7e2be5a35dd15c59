"""Attention-aware collaborative inference (seed 004, issue #5): a small client ViT answers confident
images itself and sends only its most-attended patches of the others to a large server ViT.

Modules: ``vit`` (a plain-torch ViT that runs on a token subset), ``adapters`` (one interface over it and
``transformers`` ViT/DeiT), ``attention`` (CLS attention, rollout), ``policies`` (patch selection),
``gates`` (confidence gate), ``patches`` (the server request as bytes), ``grid`` (patch geometry).
``train`` trains the offline client and server ViTs (distillation from a CIFAR ResNet, token-subset training).
"""

from semcom.schemes.attention_ci.adapters import HFViTAdapter, OwnViTAdapter, ViTAdapter, load_hf_vit
from semcom.schemes.attention_ci.attention import cls_attention, patch_scores, rollout
from semcom.schemes.attention_ci.gates import GATES, offload, uncertainty
from semcom.schemes.attention_ci.patches import assemble, decode_request, encode_request, request_size, server_input
from semcom.schemes.attention_ci.policies import POLICIES, mask_to_keep, select
from semcom.schemes.attention_ci.vit import VIT_PRESETS, ViT, ViTConfig

__all__ = [
    "GATES", "POLICIES", "VIT_PRESETS", "HFViTAdapter", "OwnViTAdapter", "ViT", "ViTAdapter", "ViTConfig",
    "assemble", "cls_attention", "decode_request", "encode_request", "load_hf_vit", "mask_to_keep", "offload",
    "patch_scores", "request_size", "rollout", "select", "server_input", "uncertainty",
]
