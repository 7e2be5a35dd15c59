"""CamVid label maps: loading pairs (synthetic folders, and the shared copy when present), resizing, colouring,
random crops, and one-line errors for bad folders and maps."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import shared_path
from semcom.data.camvid import (
    CAMVID, LabelCrops, camvid_pairs, check_labels, colorize, load_camvid, load_label_map, resize_labels,
)
from semcom.errors import SemcomError


def write_camvid(root, split="train", count=3, size=(18, 24), classes=12, seed=0):
    """A synthetic CamVid layout: ``count`` blocky label maps (H x W = ``size``) and matching images."""
    g = np.random.default_rng(seed)
    for kind in ("images", "labels"):
        (root / split / kind).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        labels = np.kron(g.integers(0, classes, (size[0] // 6, size[1] // 6)), np.ones((6, 6))).astype(np.uint8)
        Image.fromarray(labels, mode="L").save(root / split / "labels" / f"f{i}.png")
        Image.fromarray(g.integers(0, 256, (*size, 3)).astype(np.uint8)).save(root / split / "images" / f"f{i}.png")
    return root


def test_load_split_shapes_dtypes_and_values(tmp_path):
    write_camvid(tmp_path, count=3)
    data = load_camvid("train", tmp_path)
    assert data.images.shape == (3, 3, 18, 24) and data.images.dtype == torch.float32
    assert 0 <= data.images.min() and data.images.max() <= 1
    assert data.labels.shape == (3, 18, 24) and data.labels.dtype == torch.int64
    assert data.names == ("f0", "f1", "f2") and len(data) == 3 and data.label_set is CAMVID
    saved = np.asarray(Image.open(tmp_path / "train" / "labels" / "f1.png"))
    assert torch.equal(data.labels[1], torch.from_numpy(saved.astype(np.int64)))
    maps_only = load_camvid("train", tmp_path, images=False, limit=2)
    assert maps_only.images is None and torch.equal(maps_only.labels, data.labels[:2])


def test_resize_keeps_labels_valid_and_nearest(tmp_path):
    write_camvid(tmp_path, count=2)
    data = load_camvid("train", tmp_path, size=(9, 12))
    assert data.images.shape == (2, 3, 9, 12) and data.labels.shape == (2, 9, 12)
    full = load_camvid("train", tmp_path).labels
    # halving a map of 6x6 blocks by nearest neighbour keeps every block's class (pixel-centre sampling)
    assert torch.equal(data.labels, full[:, 1::2, 1::2])
    assert torch.equal(resize_labels(full, (18, 24)), full)


def test_colorize_uses_the_palette():
    labels = torch.tensor([[0, 3], [11, 8]])
    rgb = colorize(labels)
    assert rgb.shape == (3, 2, 2)
    assert torch.allclose(rgb[:, 0, 1] * 255, torch.tensor([128.0, 64, 128]))  # road
    assert torch.equal(rgb[:, 1, 0], torch.zeros(3))  # void is black
    assert CAMVID.colorize(labels[None]).shape == (1, 3, 2, 2)
    assert CAMVID.num_classes == 12 and CAMVID.classes[CAMVID.ignore_index] == "void"


def test_crops_are_aligned_reproducible_and_flipped():
    labels = torch.arange(6 * 8).reshape(1, 6, 8).repeat(2, 1, 1) % 12
    images = labels[:, None].float().div(11).repeat(1, 3, 1, 1)
    crops = LabelCrops(labels, images, size=(4, 5))
    x, y = crops.sample(16, torch.Generator().manual_seed(0))
    x2, y2 = crops.sample(16, torch.Generator().manual_seed(0))
    assert x.shape == (16, 3, 4, 5) and y.shape == (16, 4, 5) and torch.equal(y, y2) and torch.equal(x, x2)
    assert torch.equal((x[:, 0] * 11).round().long(), y)  # image and map cut and flipped together
    rows = labels[0].tolist()
    windows = [[r[j:j + 5] for r in rows[i:i + 4]] for i in range(3) for j in range(4)]
    flipped = [[r[::-1] for r in w] for w in windows]
    found = [y[k].tolist() in windows for k in range(16)]
    found_flipped = [y[k].tolist() in flipped for k in range(16)]
    assert all(a or b for a, b in zip(found, found_flipped)) and any(found) and any(found_flipped)
    with pytest.raises(SemcomError, match="does not fit"):
        LabelCrops(labels, size=7)


def test_missing_folder_and_unpaired_files(tmp_path):
    with pytest.raises(SemcomError, match="CamVid folder not found"):
        load_camvid("train", tmp_path / "nope")
    with pytest.raises(SemcomError, match="train images folder not found"):
        load_camvid("train", tmp_path)
    write_camvid(tmp_path, count=2)
    (tmp_path / "train" / "images" / "f1.png").unlink()
    with pytest.raises(SemcomError, match="without a partner.*f1.png"):
        camvid_pairs("train", tmp_path)
    with pytest.raises(SemcomError, match="unknown CamVid split"):
        camvid_pairs("dev", tmp_path)


def test_mismatched_sizes_and_bad_label_values(tmp_path):
    write_camvid(tmp_path, count=2)
    Image.new("RGB", (20, 18)).save(tmp_path / "train" / "images" / "f0.png")
    with pytest.raises(SemcomError, match="image f0.png is 20x18 but its label map is 24x18") as info:
        load_camvid("train", tmp_path)
    assert "\n" not in str(info.value)
    bad = tmp_path / "bad.png"
    Image.fromarray(np.full((4, 4), 12, dtype=np.uint8), mode="L").save(bad)
    with pytest.raises(SemcomError, match=r"class indices 0\.\.11, got 12\.\.12"):
        load_label_map(bad)
    Image.new("RGB", (4, 4)).save(bad)
    with pytest.raises(SemcomError, match="pixel mode RGB"):
        load_label_map(bad)


def test_check_labels_errors():
    with pytest.raises(SemcomError, match="integer class indices"):
        check_labels(torch.zeros(1, 2, 2), 12)
    with pytest.raises(SemcomError, match=r"shape \[B, H, W\]"):
        check_labels(torch.zeros(2, 2, dtype=torch.long), 12)
    with pytest.raises(SemcomError, match="got -1..0"):
        check_labels(torch.tensor([[[-1, 0]]]), 12)


def test_shared_camvid_splits():
    root = shared_path("camvid")
    assert [len(camvid_pairs(s, root)) for s in ("train", "val", "test")] == [367, 101, 233]
    data = load_camvid("val", root, limit=4)
    assert data.images.shape == (4, 3, 180, 240) and data.labels.shape == (4, 180, 240)
    assert 0 <= data.labels.min() and data.labels.max() <= 11
