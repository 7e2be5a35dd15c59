import io
import zipfile

import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

from semcom.data import CIFAR10_CLASSES, CifarBatches, cifar, cifar10_test, cifar10_train, random_crop_flip
from semcom.errors import SemcomError


def colour(label: int, index: int) -> tuple[int, int, int]:
    """Flat test colour that identifies (label, index) after JPEG coding."""
    return 20 * label + 10, 40 * index + 20, 128


def jpeg_bytes(rgb, size=32) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), rgb, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def fake_root(tmp_path):
    """A miniature CIFAR-10 in the shared layout: 3 test and 4 train images per class, flat colours."""
    root = tmp_path / "data"
    for label, name in enumerate(CIFAR10_CLASSES):
        (root / "cifar10_test_jpg" / name).mkdir(parents=True)
        for i in range(3):
            (root / "cifar10_test_jpg" / name / f"{i:04d}.jpg").write_bytes(jpeg_bytes(colour(label, i)))
    with zipfile.ZipFile(root / "cifar10_train_jpg.zip", "w") as zf:
        for i in reversed(range(4)):  # stored out of order: the loader must sort
            for label, name in enumerate(CIFAR10_CLASSES):
                zf.writestr(f"train/{name}/{i:04d}.jpg", jpeg_bytes(colour(label, i)))
    return root


def assert_colours(images, labels, indices):
    for img, label, index in zip(images, labels.tolist(), indices):
        mean = img.float().mean(dim=(1, 2))
        assert torch.allclose(mean, torch.tensor(colour(label, index), dtype=torch.float32), atol=3)


def test_fake_test_and_train_sets_are_interleaved_by_class(fake_root):
    images, labels = cifar10_test(fake_root)
    assert images.shape == (30, 3, 32, 32) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert labels.tolist() == list(range(10)) * 3
    assert_colours(images, labels, [i // 10 for i in range(30)])

    images, labels = cifar10_train(fake_root, per_class=2)
    assert labels.tolist() == list(range(10)) * 2
    assert_colours(images, labels, [i // 10 for i in range(20)])
    first, first_labels = cifar10_train(fake_root, limit=13)
    assert torch.equal(first, cifar10_train(fake_root)[0][:13]) and first_labels.tolist()[-3:] == [0, 1, 2]
    assert cifar10_train(fake_root, limit=0)[0].shape == (0, 3, 32, 32)


def test_shared_test_set_counts_order_and_determinism():
    root = shared_path("cifar10_test_jpg").parent
    images, labels = cifar10_test(root)
    assert images.shape == (10_000, 3, 32, 32) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert torch.bincount(labels).tolist() == [1000] * 10
    assert labels[:20].tolist() == list(range(10)) * 2
    first, first_labels = cifar10_test(root, limit=500)
    assert torch.equal(first, images[:500]) and torch.equal(first_labels, labels[:500])
    assert torch.bincount(first_labels).tolist() == [50] * 10


def test_shared_train_zip_subset():
    root = shared_path("cifar10_test_jpg").parent
    if not (root / cifar.TRAIN_ZIP).is_file():
        pytest.skip(f"needs ../shared/data/{cifar.TRAIN_ZIP}")
    images, labels = cifar10_train(root, per_class=3)
    assert images.shape == (30, 3, 32, 32) and labels.tolist() == list(range(10)) * 3
    again, _ = cifar10_train(root, per_class=3)
    assert torch.equal(images, again)
    assert torch.equal(cifar10_train(root, limit=7)[0], images[:7])
    mean = images.float().mean().item() / 255  # the README's training-set mean is about 0.47
    assert 0.3 < mean < 0.65


def test_missing_and_bad_data(fake_root, tmp_path, monkeypatch):
    with pytest.raises(SemcomError, match="test folder not found"):
        cifar10_test(tmp_path / "nowhere")
    with pytest.raises(SemcomError, match="training zip not found"):
        cifar10_train(tmp_path / "nowhere")
    monkeypatch.setattr(cifar, "shared_data_dir", lambda: None)
    with pytest.raises(SemcomError, match="SEMCOM_DATA"):
        cifar10_test()
    with pytest.raises(SemcomError, match="limit"):
        cifar10_test(fake_root, limit=-1)
    with pytest.raises(SemcomError, match="per_class"):
        cifar10_train(fake_root, per_class=1.5)

    (fake_root / "cifar10_test_jpg" / "cat" / "0000.jpg").write_bytes(jpeg_bytes((1, 2, 3), size=24))
    with pytest.raises(SemcomError, match="expected 32x32"):
        cifar10_test(fake_root)
    (fake_root / "cifar10_test_jpg" / "cat" / "0000.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(SemcomError, match="cannot read CIFAR image"):
        cifar10_test(fake_root)
    for p in (fake_root / "cifar10_test_jpg" / "truck").iterdir():
        p.unlink()
    (fake_root / "cifar10_test_jpg" / "truck").rmdir()
    with pytest.raises(SemcomError, match="class folder not found"):
        cifar10_test(fake_root)

    with zipfile.ZipFile(fake_root / "cifar10_train_jpg.zip", "w") as zf:
        zf.writestr("train/cat/0000.jpg", jpeg_bytes((1, 2, 3)))
    with pytest.raises(SemcomError, match="no images of class airplane"):
        cifar10_train(fake_root)
    (fake_root / "cifar10_train_jpg.zip").write_bytes(b"not a zip")
    with pytest.raises(SemcomError, match="cannot read"):
        cifar10_train(fake_root)


def test_cache_is_written_reused_and_keyed(fake_root, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "train.npz"
    images, labels = cifar10_train(fake_root, per_class=2, cache=cache)
    assert cache.is_file()

    def no_decoding(*args):
        raise AssertionError("decoded although the cache matches")

    monkeypatch.setattr(cifar, "_decode", no_decoding)
    cached, cached_labels = cifar10_train(fake_root, per_class=2, cache=cache)
    assert torch.equal(cached, images) and torch.equal(cached_labels, labels)
    with pytest.raises(AssertionError, match="decoded"):  # another selection does not reuse the cache
        cifar10_train(fake_root, per_class=3, cache=cache)

    with pytest.raises(SemcomError, match=".npz"):
        cifar10_test(fake_root, cache=tmp_path / "cache.bin")
    monkeypatch.setattr(cifar, "shared_data_dir", lambda: fake_root)
    with pytest.raises(SemcomError, match="must not be inside"):
        cifar10_test(fake_root, cache=fake_root / "cache.npz")


def test_batches_cover_each_example_once_per_epoch_and_are_seeded():
    images = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)
    labels = torch.arange(10)
    batches = CifarBatches(images, labels, 4, generator=torch.Generator().manual_seed(0))
    epoch = list(batches)
    assert len(batches) == 3 and [len(y) for _, y in epoch] == [4, 4, 2]
    assert sorted(torch.cat([y for _, y in epoch]).tolist()) == list(range(10))
    for x, y in epoch:
        assert x.dtype == torch.float32 and torch.equal(x, images[y].float() / 255)
    assert torch.cat([y for _, y in list(batches)]).tolist() != torch.cat([y for _, y in epoch]).tolist()
    same = CifarBatches(images, labels, 4, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(epoch, same))

    ordered = CifarBatches(images, labels, 4, shuffle=False, drop_last=True)
    assert len(ordered) == 2 and torch.cat([y for _, y in ordered]).tolist() == list(range(8))
    with pytest.raises(SemcomError, match="uint8"):
        CifarBatches(images.float(), labels, 4)
    with pytest.raises(SemcomError, match="labels"):
        CifarBatches(images, labels[:5], 4)
    with pytest.raises(SemcomError, match="batch_size"):
        CifarBatches(images, labels, 0)


def test_augmented_batches_are_padded_crops_or_their_mirror_images():
    images = torch.randint(1, 256, (64, 3, 8, 8), dtype=torch.uint8)
    out = random_crop_flip(images, 4, torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    flips = 0
    for img, src in zip(out, padded):
        crops = [(src[:, t : t + 8, u : u + 8], f) for t in range(9) for u in range(9) for f in (0, 1)]
        matches = [f for crop, f in crops if torch.equal(img, crop.flip(-1) if f else crop)]
        assert matches, "output is not a crop of the padded image"
        flips += matches[0]
    assert 10 < flips < 54  # about half are mirrored
    x, _ = next(iter(CifarBatches(images, torch.zeros(64), 64, augment=True, generator=torch.Generator())))
    assert x.shape == (64, 3, 8, 8) and (x == 0).any()  # zero padding shows at the borders
