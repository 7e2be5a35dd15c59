"""Scaled photo crops for classifiers that expect most of a photo in view."""

import pytest
import torch

from semcom.data import save_image
from semcom.data.crops import scaled_crops
from semcom.errors import SemcomError


def test_scaled_crops_shape_dtype_reproducibility_and_scale(tmp_path):
    g = torch.Generator().manual_seed(0)
    paths = []
    for i, (h, w) in enumerate([(100, 300), (260, 180)]):
        low = torch.rand(1, 3, 4, 4, generator=g)
        paths.append(tmp_path / f"p{i}.png")
        save_image(torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear")[0], paths[-1])
    a = scaled_crops(paths, 5, 64, torch.Generator().manual_seed(1))
    b = scaled_crops(paths, 5, 64, torch.Generator().manual_seed(1))
    assert a.shape == (5, 3, 64, 64) and a.dtype == torch.uint8 and torch.equal(a, b)
    # scale (1, 1): the shorter side becomes exactly the crop size, so a crop spans the whole shorter side
    whole = scaled_crops(paths[1:], 1, 64, torch.Generator().manual_seed(2), scale=(1.0, 1.0))
    assert whole.shape == (1, 3, 64, 64)
    with pytest.raises(SemcomError, match="at least one photo"):
        scaled_crops([], 3, 64)


def test_scaled_crops_of_in_memory_uint8_images_upsamples_small_ones():
    small = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    small[1] = 200  # a flat image stays flat (and at its value) after resizing
    out = scaled_crops(small, 6, 32, torch.Generator().manual_seed(0), scale=(1.0, 1.0))
    assert out.shape == (6, 3, 32, 32) and out.dtype == torch.uint8
    assert set(out.flatten(1).unique(dim=0).flatten().tolist()) <= {0, 200}
    with pytest.raises(SemcomError, match="at least one photo"):
        scaled_crops(small[:0], 3, 32)
