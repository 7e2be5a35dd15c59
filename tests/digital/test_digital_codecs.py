import numpy as np
import pytest
import skimage.data
from PIL import Image

from semcom.digital.codecs import CODEC_NAMES, available_codecs, get_codec
from semcom.errors import SemcomError

IMAGE = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((64, 48)))
AVAILABLE = available_codecs()


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def test_core_codecs_are_available():
    assert set(AVAILABLE) <= set(CODEC_NAMES)
    assert {"jpeg", "webp", "jpeg2000"} <= set(AVAILABLE)  # built into Pillow wheels


@pytest.mark.parametrize("name", AVAILABLE)
def test_round_trip_keeps_shape_and_quality(name):
    codec = get_codec(name)
    lo, hi = codec.quality_range
    decoded = codec.decode(codec.encode(IMAGE, (lo + 3 * hi) // 4))
    assert decoded.shape == IMAGE.shape and decoded.dtype == np.uint8
    assert psnr_db(decoded, IMAGE) > 25.0


@pytest.mark.parametrize("name", AVAILABLE)
def test_more_quality_means_more_bytes_and_less_error(name):
    codec = get_codec(name)
    lo, hi = codec.quality_range
    low, high = codec.encode(IMAGE, lo + (hi - lo) // 5), codec.encode(IMAGE, hi - (hi - lo) // 10)
    assert len(low) < len(high)
    assert psnr_db(codec.decode(low), IMAGE) < psnr_db(codec.decode(high), IMAGE)


@pytest.mark.parametrize("name", AVAILABLE)
@pytest.mark.parametrize("budget", [700, 1500, 4000])
def test_rate_control_never_exceeds_budget_and_is_tight(name, budget):
    codec = get_codec(name)
    found = codec.search_quality(IMAGE, budget)
    if budget >= 1500:
        assert found is not None
    if found is None:
        assert len(codec.encode(IMAGE, codec.quality_range[0])) > budget
        return
    quality, data = found
    assert len(data) <= budget
    assert data == codec.encode_to_budget(IMAGE, budget)
    if quality < codec.quality_range[1]:
        assert len(codec.encode(IMAGE, quality + 1)) > budget
    assert codec.decode(data).shape == IMAGE.shape


@pytest.mark.parametrize("name", AVAILABLE)
def test_budget_below_smallest_file_gives_none(name):
    assert get_codec(name).encode_to_budget(IMAGE, 40) is None


@pytest.mark.parametrize("name", AVAILABLE)
def test_corrupted_bytes_raise_semcom_error(name):
    codec = get_codec(name)
    data = codec.encode(IMAGE, sum(codec.quality_range) // 2)
    for bad in (b"", b"definitely not an image", data[: len(data) // 2]):
        with pytest.raises(SemcomError, match=f"cannot decode .* as {name}"):
            codec.decode(bad)


def test_headers_are_stripped():
    if "jpeg" in AVAILABLE:
        jpeg = get_codec("jpeg").encode(IMAGE, 50)
        assert jpeg[:2] == b"\xff\xd8" and b"JFIF" not in jpeg
    if "jpeg2000" in AVAILABLE:
        j2k = get_codec("jpeg2000").encode(IMAGE, 500)
        assert j2k[:2] == b"\xff\x4f" and b"OpenJPEG" not in j2k


def test_pil_input_matches_array_input():
    codec = get_codec("jpeg")
    assert codec.encode(Image.fromarray(IMAGE), 60) == codec.encode(IMAGE, 60)


def test_bad_inputs_raise_semcom_error():
    codec = get_codec("jpeg")
    with pytest.raises(SemcomError, match="choose one of jpeg, webp"):
        get_codec("png")
    with pytest.raises(SemcomError, match="uint8"):
        codec.encode(IMAGE.astype(np.float32), 50)
    with pytest.raises(SemcomError, match=r"\[H, W, 3\]"):
        codec.encode(IMAGE[..., 0], 50)
    with pytest.raises(SemcomError, match="quality"):
        codec.encode(IMAGE, 0)
    with pytest.raises(SemcomError, match="quality"):
        codec.encode(IMAGE, 50.5)
    with pytest.raises(SemcomError, match="max_bytes"):
        codec.encode_to_budget(IMAGE, -1)
    with pytest.raises(SemcomError, match="bytes"):
        codec.decode("not bytes")
