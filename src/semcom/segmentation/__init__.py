"""Image segmentation, the knowledge base of segment-based schemes: ``Segmenter`` -> ``Segments`` (disjoint masks,
largest first); ``SlicSegmenter`` (offline default, scikit-image) and ``SamSegmenter`` (module ``sam``: Segment
Anything through ``transformers``, loaded only when built); ``fallback_reason`` (when to send the whole image
instead); segment importance (module ``importance``: classifier-confidence drop, human scores)."""

from semcom.errors import SemcomError
from semcom.segmentation.segmenter import (
    MIN_AREA,
    Segmenter,
    Segments,
    SlicSegmenter,
    check_k,
    check_segments,
    fallback_reason,
)
from semcom.segmentation.semantic import (
    SegmenterTrainConfig, SemanticSegmenter, SemanticSegmenterConfig, export_segmenter, load_segmenter,
    shipped_segmenter, train_segmenter,
)

SEGMENTERS = ("slic", "sam")


def build_segmenter(name: str = "slic", sam_model: str | None = None) -> Segmenter:
    """A segmenter by name: ``slic``, or ``sam`` with ``sam_model`` (a local folder or hub id of a SAM checkpoint)."""
    if name == "slic":
        return SlicSegmenter()
    if name == "sam":
        from semcom.segmentation.sam import SamSegmenter

        if not sam_model:
            raise SemcomError("the SAM segmenter needs --sam-model (a local folder or hub id of a SAM checkpoint)")
        return SamSegmenter.from_pretrained(sam_model)
    raise SemcomError(f"unknown segmenter {name!r}; choose one of {', '.join(SEGMENTERS)}")


__all__ = ["MIN_AREA", "SEGMENTERS", "Segmenter", "Segments", "SlicSegmenter", "build_segmenter", "check_k",
           "check_segments", "fallback_reason",
           "SegmenterTrainConfig", "SemanticSegmenter", "SemanticSegmenterConfig", "export_segmenter", "load_segmenter",
           "shipped_segmenter", "train_segmenter"]
