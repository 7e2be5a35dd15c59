"""LAM-SC (seed 000, issue #3): segment-based image semantic communication with a segmentation model as the
knowledge base.

- ``segmenter``: ``Segmenter`` -> ``Segments`` (disjoint masks, largest first); ``SlicSegmenter`` (offline
  default, scikit-image); ``fallback_reason`` (when to send the whole image instead).
- ``sam``: ``SamSegmenter``, Segment Anything automatic mask generation through ``transformers``.
"""

from semcom.schemes.lamsc.sam import SamSegmenter
from semcom.schemes.lamsc.segmenter import MIN_AREA, Segmenter, Segments, SlicSegmenter, fallback_reason

__all__ = ["MIN_AREA", "SamSegmenter", "Segmenter", "Segments", "SlicSegmenter", "fallback_reason"]
