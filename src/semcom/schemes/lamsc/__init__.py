"""LAM-SC (seed 000, issue #3): segment-based image semantic communication with a segmentation model
(``semcom.segmentation``) as the knowledge base. Modules:

- ``scorer``: ASI, the CBAM-style ``ASIScorer`` over the k segment images, ``integrate`` (the semantic image);
  its training targets come from ``semcom.segmentation.importance``.
- ``asc``: ASC, a learned mask over the JSCC latent (``MaskNet``, one keep decision per channel group and
  position; straight-through estimator; rate term), with exact channel-use counting that includes the
  mask's own side information (``semcom.coding.masks``).
- ``side``: that side information as bytes (sent over a core side link, ``semcom.digital.side``: real 5G LDPC + QAM by default).
- ``scheme``: the transmit path ``LamSC``; ``loaders``/``evaluate``/``demo``: checkpoints, evaluation, the demo.
- ``pool``, ``losses``, ``train``: training the scorer, the mask and the receiver.

The knowledge-base interface it is built on (``Segmenter``, ``Segments``, ``SlicSegmenter``) is re-exported here.
"""

from semcom.schemes.lamsc.asc import ASC, ChannelUses, MaskNet, channel_uses, straight_through
from semcom.schemes.lamsc.scorer import ASIScorer, integrate, segment_images
from semcom.segmentation import Segmenter, Segments, SlicSegmenter

__all__ = [
    "ASC",
    "ASIScorer",
    "ChannelUses",
    "MaskNet",
    "Segmenter",
    "Segments",
    "SlicSegmenter",
    "channel_uses",
    "integrate",
    "segment_images",
    "straight_through",
]
