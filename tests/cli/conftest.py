"""Shared fixtures of the CLI tests."""

import pytest
import torch

from semcom.data import save_image


@pytest.fixture(scope="package")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    g = torch.Generator().manual_seed(0)
    for i in range(3):
        smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 4, 6, generator=g), size=(48, 64), mode="bilinear")[0]
        save_image(smooth, root / f"im{i}.png")
    return root
