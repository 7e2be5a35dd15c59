"""LAM-SC (seed 000, issue #3): segment-based image semantic communication with a segmentation model as the
knowledge base.

- ``segmenter``: ``Segmenter`` -> ``Segments`` (disjoint masks, largest first); ``SlicSegmenter`` (offline
  default, scikit-image); ``fallback_reason`` (when to send the whole image instead).
- ``sam``: ``SamSegmenter``, Segment Anything automatic mask generation through ``transformers``.
- ``scorer``: ASI, the CBAM-style ``ASIScorer`` over the k segment images, ``integrate`` (the semantic image),
  and its training targets ``occlusion_importance`` (classifier-confidence proxy) and ``load_human_scores``.
"""

from semcom.schemes.lamsc.sam import SamSegmenter
from semcom.schemes.lamsc.scorer import ASIScorer, integrate, load_human_scores, occlusion_importance, segment_images
from semcom.schemes.lamsc.segmenter import MIN_AREA, Segmenter, Segments, SlicSegmenter, fallback_reason

__all__ = [
    "MIN_AREA", "ASIScorer", "SamSegmenter", "Segmenter", "Segments", "SlicSegmenter", "fallback_reason", "integrate",
    "load_human_scores", "occlusion_importance", "segment_images",
]
