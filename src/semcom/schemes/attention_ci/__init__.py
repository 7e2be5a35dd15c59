"""Attention-aware collaborative inference (seed 004, issue #5): a small client ViT answers confident
images itself and sends only its most-attended patches of the others to a large server ViT.

Modules: ``adapters`` (one interface over the core's ``semcom.vit.ViT`` and ``transformers`` ViT/DeiT),
``policies`` (patch selection), ``gates`` (confidence gate), ``patches`` (the server request as bytes),
``collab``/``scheme`` (the pipeline), ``patch_jscc`` (the analog patch link), ``sweep``, ``demo``. ``train`` trains
the offline client and server ViTs (distillation from a CIFAR ResNet, token-subset training). The ViT it runs
(``ViT``, ``ViTConfig``, ``VIT_PRESETS``) and the attention scores (``semcom.vit.attention``) are re-exported here.
"""

from semcom.schemes.attention_ci.adapters import HFViTAdapter, OwnViTAdapter, ViTAdapter, load_hf_vit
from semcom.schemes.attention_ci.gates import GATES, offload, uncertainty
from semcom.schemes.attention_ci.patches import assemble, decode_request, encode_request, request_size, server_input
from semcom.schemes.attention_ci.policies import POLICIES, mask_to_keep, select
from semcom.vit import VIT_PRESETS, ViT, ViTConfig, cls_attention, patch_scores, rollout

__all__ = [
    "GATES", "POLICIES", "VIT_PRESETS", "HFViTAdapter", "OwnViTAdapter", "ViT", "ViTAdapter", "ViTConfig",
    "assemble", "cls_attention", "decode_request", "encode_request", "load_hf_vit", "mask_to_keep", "offload",
    "patch_scores", "request_size", "rollout", "select", "server_input", "uncertainty",
]
