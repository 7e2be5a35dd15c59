"""LAM-SC (seed 000, issue #3): segment-based image semantic communication with a segmentation model as the
knowledge base. Foundation modules (the scheme's transmit path, training and CLI build on them):

- ``segmenter``: ``Segmenter`` -> ``Segments`` (disjoint masks, largest first); ``SlicSegmenter`` (offline
  default, scikit-image); ``fallback_reason`` (when to send the whole image instead).
- ``sam``: ``SamSegmenter``, Segment Anything automatic mask generation through ``transformers``.
- ``scorer``: ASI, the CBAM-style ``ASIScorer`` over the k segment images, ``integrate`` (the semantic image),
  and its training targets ``occlusion_importance`` (classifier-confidence proxy) and ``load_human_scores``.
- ``asc``: ASC, a learned mask over the JSCC latent (``MaskNet``, one keep decision per channel group and
  position; straight-through estimator; rate term), with exact channel-use counting that includes the
  mask's own side information.
- ``side``: that side information as bytes, and ``LdpcSideLink``, which really sends it over 5G LDPC + QAM.
"""

from semcom.schemes.lamsc.asc import ASC, ChannelUses, MaskNet, channel_uses, decode_mask, encode_mask, straight_through
from semcom.schemes.lamsc.sam import SamSegmenter
from semcom.schemes.lamsc.scorer import (
    ASIScorer,
    integrate,
    load_human_scores,
    occlusion_importance,
    segment_images,
)
from semcom.schemes.lamsc.segmenter import MIN_AREA, Segmenter, Segments, SlicSegmenter, fallback_reason

__all__ = [
    "ASC",
    "MIN_AREA",
    "ASIScorer",
    "ChannelUses",
    "MaskNet",
    "SamSegmenter",
    "Segmenter",
    "Segments",
    "SlicSegmenter",
    "channel_uses",
    "decode_mask",
    "encode_mask",
    "fallback_reason",
    "integrate",
    "load_human_scores",
    "occlusion_importance",
    "segment_images",
    "straight_through",
]
