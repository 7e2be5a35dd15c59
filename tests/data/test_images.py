import numpy as np
import pytest
import torch
from PIL import Image

from semcom.data import RandomCrops, center_crops, demo_images, list_images, load_image, save_image, split_train_val
from semcom.errors import SemcomError


def test_save_load_round_trip(tmp_path):
    x = torch.randint(0, 256, (3, 17, 23)).float() / 255
    save_image(x, tmp_path / "a.png")
    assert torch.equal(load_image(tmp_path / "a.png"), x)


def test_missing_corrupt_and_empty_files(tmp_path):
    with pytest.raises(SemcomError, match="not found"):
        load_image(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(SemcomError, match="cannot read"):
        load_image(tmp_path / "bad.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(SemcomError):
        load_image(tmp_path / "empty.jpg")
    (tmp_path / "sub").mkdir()
    with pytest.raises(SemcomError, match="no image files"):
        list_images(tmp_path / "sub")


def test_grey_and_rgba_images_become_rgb(tmp_path):
    Image.fromarray(np.full((5, 6), 77, np.uint8)).save(tmp_path / "g.png")
    Image.fromarray(np.full((5, 6, 4), 200, np.uint8)).save(tmp_path / "r.png")
    assert load_image(tmp_path / "g.png").shape == (3, 5, 6)
    assert load_image(tmp_path / "r.png").shape == (3, 5, 6)


def test_random_crops_are_deterministic_and_in_range():
    img = (torch.arange(3 * 40 * 50) % 256).reshape(3, 40, 50).to(torch.uint8)
    crops = RandomCrops([img], 16)
    a = crops.sample(4, torch.Generator().manual_seed(1))
    b = crops.sample(4, torch.Generator().manual_seed(1))
    assert a.shape == (4, 3, 16, 16) and torch.equal(a, b)
    assert 0 <= a.min() and a.max() <= 1
    with pytest.raises(SemcomError, match="at least"):
        RandomCrops([img], 64)


def test_split_and_center_crops(tmp_path):
    for i in range(5):
        save_image(torch.rand(3, 20, 30), tmp_path / f"{i}.png")
    train, val = split_train_val(tmp_path, 2)
    assert [p.stem for p in train] == ["0", "1", "2"] and [p.stem for p in val] == ["3", "4"]
    assert center_crops(val, 16).shape == (2, 3, 16, 16)
    with pytest.raises(SemcomError):
        split_train_val(tmp_path, 5)


def test_demo_images_ship_offline():
    images = demo_images(64)
    assert len(images) >= 3
    for name, x in images:
        assert x.shape == (3, 64, 64) and 0 <= x.min() and x.max() <= 1 and x.std() > 0.05
