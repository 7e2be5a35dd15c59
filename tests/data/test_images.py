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


# ---- every pixel mode a user's file may have: read faithfully, or refused with a one-line SemcomError ----------

def grey16():
    """[3, 4] uint16 covering the whole 16-bit range (a 16-bit photo read as 8 bits would clip to white)."""
    return (np.arange(12, dtype=np.uint32).reshape(3, 4) * 5957).astype(np.uint16)


def assert_grey(x, expected):
    assert x.dtype == torch.float32 and x.shape == (3, *expected.shape)
    for c in range(3):
        assert torch.allclose(x[c], torch.as_tensor(expected, dtype=torch.float32), atol=1e-6)


def write_png_rgb48(path, rgb):
    """A 16-bit-per-channel RGB PNG written by hand (Pillow cannot write one): [H, W, 3] uint16."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[i].astype(">u2").tobytes() for i in range(h))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_16bit_grey_png_keeps_its_values(tmp_path):
    Image.fromarray(grey16()).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    assert_grey(load_image(tmp_path / "g16.png"), grey16() / 65535)


def test_16bit_big_endian_tiff(tmp_path):
    Image.fromarray(grey16().astype(">u2")).save(tmp_path / "g16b.tif")
    assert Image.open(tmp_path / "g16b.tif").mode == "I;16B"
    assert_grey(load_image(tmp_path / "g16b.tif"), grey16() / 65535)


def test_32bit_integer_image_with_16bit_values_and_refused_beyond(tmp_path):
    Image.fromarray(grey16().astype(np.int32)).save(tmp_path / "i.tif")
    assert Image.open(tmp_path / "i.tif").mode == "I"
    assert_grey(load_image(tmp_path / "i.tif"), grey16() / 65535)
    Image.fromarray(np.full((2, 2), 70000, np.int32)).save(tmp_path / "big.tif")
    with pytest.raises(SemcomError, match="32-bit integer"):
        load_image(tmp_path / "big.tif")


def test_48bit_rgb_png(tmp_path):
    rgb = np.stack([grey16(), 65535 - grey16(), np.full((3, 4), 40000, np.uint16)], axis=-1)
    write_png_rgb48(tmp_path / "rgb48.png", rgb)
    x = load_image(tmp_path / "rgb48.png")
    expected = torch.from_numpy(rgb.astype(np.float32) / 65535).permute(2, 0, 1)
    assert x.shape == (3, 3, 4) and (x - expected).abs().max() <= 1 / 255 + 1e-6  # Pillow reads the top 8 bits


def test_8bit_grey(tmp_path):
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5) * 13
    Image.fromarray(grey).save(tmp_path / "l.png")
    assert torch.equal(load_image(tmp_path / "l.png"), torch.from_numpy(grey).float().div(255).expand(3, 4, 5))


def test_1bit_image(tmp_path):
    bits = np.indices((4, 6)).sum(0) % 2 == 0
    Image.fromarray(bits).save(tmp_path / "b.png")
    assert Image.open(tmp_path / "b.png").mode == "1"
    assert torch.equal(load_image(tmp_path / "b.png"), torch.from_numpy(bits).float().expand(3, 4, 6))


def test_grey_with_alpha_is_composited_over_white(tmp_path):
    la = np.zeros((1, 3, 2), np.uint8)
    la[0, :, 0] = 60
    la[0, :, 1] = [255, 0, 128]  # opaque, transparent, half
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    x = load_image(tmp_path / "la.png")
    a = 128 / 255
    assert torch.allclose(x[:, 0], torch.tensor([60 / 255, 1.0, 60 / 255 * a + 1 - a]).expand(3, 3), atol=1e-6)


def test_rgba_is_composited_over_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 255], [0, 0, 255, 0], [0, 0, 0, 51]]], np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    x = load_image(tmp_path / "rgba.png")
    assert torch.allclose(x[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))  # opaque: unchanged
    assert torch.allclose(x[:, 0, 1], torch.ones(3))  # transparent: white, whatever colour it hides
    assert torch.allclose(x[:, 0, 2], torch.full((3,), 0.8), atol=1e-6)  # 20 % black over white


def test_palette_image(tmp_path):
    idx = np.array([[0, 1], [2, 1]], np.uint8)
    img = Image.fromarray(idx, "P")
    img.putpalette([255, 0, 0, 0, 255, 0, 10, 20, 30] + [0] * (3 * 253))
    img.save(tmp_path / "p.png")
    x = load_image(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").mode == "P"
    assert torch.equal(x[:, 0, 0] * 255, torch.tensor([255.0, 0, 0]))
    assert torch.equal(x[:, 1, 0] * 255, torch.tensor([10.0, 20, 30]))


def test_palette_image_with_a_transparent_index(tmp_path):
    idx = np.array([[0, 1]], np.uint8)
    img = Image.fromarray(idx, "P")
    img.putpalette([0, 0, 0, 200, 100, 50] + [0] * (3 * 254))
    img.save(tmp_path / "pt.png", transparency=0)
    x = load_image(tmp_path / "pt.png")
    assert torch.allclose(x[:, 0, 0], torch.ones(3))  # the transparent black index shows as white
    assert torch.allclose(x[:, 0, 1] * 255, torch.tensor([200.0, 100, 50]), atol=1e-4)


def test_cmyk_image(tmp_path):
    cmyk = np.array([[[255, 0, 0, 0], [0, 0, 0, 255], [0, 0, 0, 0]]], np.uint8)  # cyan, black, white
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "c.tif")
    x = load_image(tmp_path / "c.tif")
    assert torch.equal(x[:, 0].T, torch.tensor([[0.0, 1, 1], [0, 0, 0], [1, 1, 1]]))


def test_float_image_in_range_and_refused_outside(tmp_path):
    values = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    Image.fromarray(values, "F").save(tmp_path / "f.tif")
    assert_grey(load_image(tmp_path / "f.tif"), values)
    Image.fromarray(values * 300, "F").save(tmp_path / "f300.tif")
    with pytest.raises(SemcomError, match="outside 0..1"):
        load_image(tmp_path / "f300.tif")


def test_exif_orientation_is_applied(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = [255, 0, 0]  # a red top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(rgb).save(tmp_path / "o.png", exif=exif)
    x = load_image(tmp_path / "o.png")
    assert x.shape == (3, 3, 2)
    assert torch.equal(x, torch.from_numpy(np.rot90(rgb, -1).copy()).permute(2, 0, 1).float() / 255)  # red at top right


def test_unsupported_mode_is_one_line_error(tmp_path):
    Image.new("LAB", (3, 2), (50, 0, 0)).save(tmp_path / "lab.tif")
    with pytest.raises(SemcomError, match="pixel mode LAB") as info:
        load_image(tmp_path / "lab.tif")
    assert "\n" not in str(info.value)


def test_saved_image_is_8bit_rgb_png(tmp_path):
    Image.fromarray(grey16()).save(tmp_path / "g16.png")
    save_image(load_image(tmp_path / "g16.png"), tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == "RGB" and out.format == "PNG"
        assert np.abs(np.asarray(out)[..., 0] / 255 - grey16() / 65535).max() <= 0.5 / 255 + 1e-6
