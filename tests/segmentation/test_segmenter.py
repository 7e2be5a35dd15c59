"""LAM-SC segmenter interface: Segments invariants, overlap resolution, the offline SLIC segmenter, bad input."""

import pytest
import torch

from semcom.data import demo_images
from semcom.errors import SemcomError
from semcom.segmentation import Segments, SlicSegmenter, fallback_reason


def box(h, w, top, left, bottom, right):
    m = torch.zeros(h, w, dtype=torch.bool)
    m[top:bottom, left:right] = True
    return m


def blocks_image():
    """96x96: grey background, a red 40x40 square, a blue 24x48 bar and a green 12x12 square (144 px)."""
    x = torch.full((3, 96, 96), 0.5)
    x[:, 4:44, 4:44] = torch.tensor([0.9, 0.1, 0.1])[:, None, None]
    x[:, 60:84, 10:58] = torch.tensor([0.1, 0.1, 0.9])[:, None, None]
    x[:, 10:22, 70:82] = torch.tensor([0.1, 0.8, 0.1])[:, None, None]
    return x


def test_segments_reject_overlap_unsorted_and_reasonless_empty():
    a, b = box(8, 8, 0, 0, 4, 4), box(8, 8, 2, 2, 8, 8)
    with pytest.raises(SemcomError, match="overlap"):
        Segments(torch.stack([b, a]))
    small, large = box(8, 8, 0, 0, 2, 2), box(8, 8, 4, 0, 8, 8)
    with pytest.raises(SemcomError, match="sorted by area"):
        Segments(torch.stack([small, large]))
    with pytest.raises(SemcomError, match="reason"):
        Segments(torch.zeros(0, 8, 8, dtype=torch.bool))
    with pytest.raises(SemcomError, match="bool tensor"):
        Segments(torch.zeros(1, 8, 8))
    s = Segments(torch.stack([large, small]))
    assert s.areas.tolist() == [32, 4] and len(s) == 2 and s.size == (8, 8)


def test_from_masks_gives_overlaps_to_the_larger_mask_and_drops_small_remainders():
    whole = box(20, 20, 0, 0, 10, 20)      # 200 px
    part = box(20, 20, 2, 2, 6, 6)         # nested in whole: absorbed
    straddle = box(20, 20, 8, 0, 20, 10)   # 120 px, 20 of them inside whole -> 100 left
    sliver = box(20, 20, 8, 12, 12, 20)    # 32 px, 16 inside whole -> 16 left < min_area
    s = Segments.from_masks(torch.stack([part, straddle, sliver, whole]), min_area=50)
    assert s.areas.tolist() == [200, 100]
    assert torch.equal(s.masks[0], whole) and torch.equal(s.masks[1], straddle & ~whole)
    assert (s.masks.sum(dim=0) <= 1).all()
    empty = Segments.from_masks(torch.stack([part]), min_area=50)
    assert len(empty) == 0 and "min_area=50" in empty.reason


def test_keep_largest_label_map_and_union():
    masks = torch.stack([box(10, 10, 0, 0, 5, 10), box(10, 10, 5, 0, 10, 6), box(10, 10, 5, 6, 10, 10)])
    s = Segments(masks)
    two = s.keep_largest(2)
    assert len(two) == 2 and two.info["found"] == 3 and torch.equal(two.masks, masks[:2])
    assert len(s.keep_largest(10)) == 3  # k larger than the number of segments keeps them all
    with pytest.raises(SemcomError, match="positive integer"):
        s.keep_largest(0)
    labels = s.label_map()
    assert labels[0, 0] == 0 and labels[9, 0] == 1 and labels[9, 9] == 2
    assert s.union(torch.tensor([True, False, True])).sum() == 50 + 20


def test_slic_finds_the_coloured_blocks_deterministically():
    x = blocks_image()
    seg = SlicSegmenter(min_area=400)
    s = seg.segments(x)
    assert (s.masks.sum(dim=0) <= 1).all() and (s.areas >= 400).all()
    assert (s.areas[:-1] >= s.areas[1:]).all()
    red = box(96, 96, 4, 4, 44, 44)
    blue = box(96, 96, 60, 10, 84, 58)

    def ious(target):
        return [(m & target).sum().item() / (m | target).sum().item() for m in s.masks]

    assert max(ious(red)) > 0.9 and max(ious(blue)) > 0.9
    assert max(ious(box(96, 96, 10, 70, 22, 82))) < 0.5  # the green square (144 px) is below min_area
    again = seg.segments(x)
    assert torch.equal(again.masks, s.masks)
    assert s.info["segmenter"] == "slic" and s.info["regions"] >= len(s)


def test_slic_on_a_photo_gives_object_sized_regions():
    _, x = demo_images(128)[1]  # chelsea, the cat
    s = SlicSegmenter().segments(x).keep_largest(5)
    assert 2 <= len(s) <= 5 and (s.areas >= 400).all()
    assert s.areas[0] < 128 * 128  # not just the whole image


@pytest.mark.parametrize("image, phrase", [
    (torch.full((3, 64, 64), 0.3), "single-colour"),
    (torch.rand(3, 15, 20, generator=torch.Generator().manual_seed(0)), "15x20 = 300 px"),
])
def test_unsegmentable_images_give_empty_segments_with_a_reason(image, phrase):
    s = SlicSegmenter().segments(image)
    assert len(s) == 0 and phrase in s.reason and s.masks.shape == (0, *image.shape[1:])
    assert fallback_reason(s, 5).endswith("sending the whole image") and phrase in fallback_reason(s, 5)


def test_no_region_reaching_min_area_is_an_empty_result_not_a_crash():
    x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(1))  # noise: many tiny regions
    s = SlicSegmenter(min_area=1000).segments(x)
    assert len(s) == 0 and "min_area=1000" in s.reason
    tiny = SlicSegmenter(min_area=1).segments(torch.rand(3, 3, 3, generator=torch.Generator().manual_seed(2)))
    assert (tiny.masks.sum(dim=0) <= 1).all()
    assert fallback_reason(SlicSegmenter().segments(blocks_image()), 5) is None


def test_bad_arguments_are_semcom_errors():
    with pytest.raises(SemcomError, match="shape"):
        SlicSegmenter().segments(torch.rand(1, 32, 32))
    with pytest.raises(SemcomError, match=r"\[0, 1\]"):
        SlicSegmenter().segments(torch.rand(3, 32, 32) * 2)
    with pytest.raises(SemcomError, match="min_area"):
        SlicSegmenter(min_area=0)
    with pytest.raises(SemcomError, match="positive integer"):
        fallback_reason(SlicSegmenter().segments(blocks_image()), 0)


def test_fast_region_graph_equals_scikit_images():
    import numpy as np
    from skimage import color, graph, segmentation

    from semcom.segmentation.segmenter import _mean_color_rag

    _, x = demo_images(96)[0]
    rgb = x.permute(1, 2, 0).numpy().astype(np.float64)
    superpixels = segmentation.slic(rgb, n_segments=60, compactness=10, start_label=1, channel_axis=-1)
    lab = color.rgb2lab(rgb)
    ours, reference = _mean_color_rag(lab, superpixels), graph.rag_mean_color(lab, superpixels)
    assert set(map(frozenset, ours.edges())) == set(map(frozenset, reference.edges()))
    assert all(abs(ours.edges[e]["weight"] - reference.edges[e]["weight"]) < 1e-9 for e in reference.edges())
    for node in reference.nodes:
        assert np.allclose(ours.nodes[node]["mean color"], reference.nodes[node]["mean color"])
        assert ours.nodes[node]["pixel count"] == reference.nodes[node]["pixel count"]
