"""Standard image codecs on uint8 RGB images, with rate control to a byte budget.

Every codec maps an integer ``quality`` (larger = more bytes, better image) to a byte string and
back. ``encode_to_budget`` binary-searches the quality for the largest one whose file fits the
budget; the returned bytes are always verified to fit. File size is monotone in quality in practice
but not guaranteed by the libraries, so "largest" means "found by bisection between a fitting and
a non-fitting quality".

Codecs (all single-threaded, no metadata written):

- ``jpeg``: Pillow/libjpeg, quality 1..100, optimised Huffman tables, 4:2:0; the optional JFIF APP0
  segment is removed.
- ``webp``: Pillow/libwebp lossy, quality 0..100, method 4.
- ``jpeg2000``: Pillow/OpenJPEG raw codestream (no JP2 boxes), 9/7 wavelet with colour transform;
  OpenJPEG's own rate allocation at compression ratio ``1000 ** (1 - quality / 1000)``, quality
  0..1000 (0.7 % size steps); the "Created by OpenJPEG" comment segment is removed.
- ``avif``: Pillow/libavif, quality 0..100, speed 8 (fast), 4:2:0.
- ``jpegxl``: imagecodecs/libjxl bare codestream, quality 0..100 (libjxl's quality-to-distance
  mapping), effort 5.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image, UnidentifiedImageError

from semcom.errors import SemcomError

CODEC_NAMES = ("jpeg", "webp", "jpeg2000", "avif", "jpegxl")


def check_image_uint8(image: np.ndarray | Image.Image) -> np.ndarray:
    """Return ``image`` as a C-contiguous [H, W, 3] uint8 array; PIL images are converted to RGB."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if not isinstance(image, np.ndarray):
        raise SemcomError(f"image must be a numpy array or PIL image, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise SemcomError(f"image must be a [H, W, 3] uint8 array, got {image.dtype} with shape {image.shape}")
    return np.ascontiguousarray(image)


def drop_marker_segments(data: bytes, drop: frozenset[int], stop: int) -> bytes:
    """Remove header marker segments from a JPEG or JPEG 2000 codestream.

    Both formats start with a 2-byte marker (SOI / SOC) followed by segments ``FF xx`` + 2-byte
    big-endian length (counting itself). Segments whose code ``xx`` is in ``drop`` are removed, up
    to the first ``stop`` marker (JPEG SOS 0xDA, JPEG 2000 SOT 0x90). Anything unexpected leaves
    ``data`` unchanged.
    """
    out, pos = bytearray(data[:2]), 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        code = data[pos + 1]
        if code == stop:
            return bytes(out + data[pos:])
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if code not in drop:
            out += data[pos:end]
        pos = end
    return data


def pil_encode(image: np.ndarray, pil_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image, "RGB").save(buffer, format=pil_format, **options)
    return buffer.getvalue()


def pil_decode(data: bytes, pil_format: str) -> np.ndarray:
    with Image.open(io.BytesIO(data), formats=[pil_format]) as im:
        im.load()
        return np.asarray(im.convert("RGB"))


class Codec:
    """An image codec with an integer quality knob in ``quality_range`` (inclusive).

    Subclasses implement ``_encode(image, quality) -> bytes`` and ``_decode(data) -> array``.
    """

    name: str = ""
    quality_range: tuple[int, int] = (0, 100)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _encode(self, image: np.ndarray, quality: int) -> bytes:
        raise NotImplementedError

    def _decode(self, data: bytes) -> np.ndarray:
        raise NotImplementedError

    def encode(self, image: np.ndarray | Image.Image, quality: int) -> bytes:
        """``image``: [H, W, 3] uint8 array or PIL image; ``quality``: int in ``quality_range``."""
        image = check_image_uint8(image)
        lo, hi = self.quality_range
        if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not lo <= quality <= hi:
            raise SemcomError(f"{self.name} quality must be an integer in [{lo}, {hi}], got {quality!r}")
        try:
            return self._encode(image, int(quality))
        except Exception as exc:
            raise SemcomError(f"{self.name} encoder failed on a {image.shape} image: {exc}") from exc

    def decode(self, data: bytes) -> np.ndarray:
        """Decode bytes to a [H, W, 3] uint8 array; corrupted or foreign data raises SemcomError."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SemcomError(f"{self.name} data must be bytes, got {type(data).__name__}")
        try:
            image = self._decode(bytes(data))
        except UnidentifiedImageError as exc:
            raise SemcomError(f"cannot decode {len(data)} bytes as {self.name}: not a {self.name} file") from exc
        except Exception as exc:
            raise SemcomError(f"cannot decode {len(data)} bytes as {self.name}: {exc}") from exc
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise SemcomError(f"{self.name} data decoded to {image.dtype} {image.shape}, not an RGB image")
        return image

    def search_quality(self, image: np.ndarray | Image.Image, max_bytes: int) -> tuple[int, bytes] | None:
        """Bisect for the largest quality whose file has at most ``max_bytes`` bytes.

        Returns (quality, data), or None when even the lowest quality does not fit.
        """
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0:
            raise SemcomError(f"max_bytes must be an integer >= 0, got {max_bytes!r}")
        image = check_image_uint8(image)
        lo, hi = self.quality_range
        best = (lo, self.encode(image, lo))
        if len(best[1]) > max_bytes:
            return None
        top = self.encode(image, hi)
        if len(top) <= max_bytes:
            return hi, top
        while hi - lo > 1:  # invariant: lo fits, hi does not
            mid = (lo + hi) // 2
            data = self.encode(image, mid)
            if len(data) <= max_bytes:
                lo, best = mid, (mid, data)
            else:
                hi = mid
        return best

    def encode_to_budget(self, image: np.ndarray | Image.Image, max_bytes: int) -> bytes | None:
        """Bytes at the largest fitting quality (see ``search_quality``), or None if nothing fits."""
        found = self.search_quality(image, max_bytes)
        return None if found is None else found[1]


class JpegCodec(Codec):
    name = "jpeg"
    quality_range = (1, 100)

    def _encode(self, image, quality):
        data = pil_encode(image, "JPEG", quality=quality, optimize=True, subsampling="4:2:0")
        return drop_marker_segments(data, frozenset({0xE0}), stop=0xDA)  # APP0 (JFIF) is optional

    def _decode(self, data):
        return pil_decode(data, "JPEG")


class WebpCodec(Codec):
    name = "webp"
    quality_range = (0, 100)

    def _encode(self, image, quality):
        return pil_encode(image, "WEBP", quality=quality, method=4)

    def _decode(self, data):
        return pil_decode(data, "WEBP")


class Jpeg2000Codec(Codec):
    name = "jpeg2000"
    quality_range = (0, 1000)

    def _encode(self, image, quality):
        # OpenJPEG needs every resolution level to keep at least one pixel per side.
        levels = max(1, min(6, int(np.log2(min(image.shape[:2]))) + 1))
        data = pil_encode(
            image, "JPEG2000", no_jp2=True, irreversible=True, mct=1, num_resolutions=levels,
            quality_mode="rates", quality_layers=[1000.0 ** (1.0 - quality / 1000.0)],
        )
        return drop_marker_segments(data, frozenset({0x64}), stop=0x90)  # COM segment

    def _decode(self, data):
        return pil_decode(data, "JPEG2000")


class AvifCodec(Codec):
    name = "avif"
    quality_range = (0, 100)

    def __init__(self, speed: int = 8):
        self.speed = speed

    def __repr__(self) -> str:
        return f"AvifCodec(speed={self.speed})"

    def _encode(self, image, quality):
        return pil_encode(image, "AVIF", quality=quality, speed=self.speed, subsampling="4:2:0", max_threads=1)

    def _decode(self, data):
        return pil_decode(data, "AVIF")


class JpegXlCodec(Codec):
    name = "jpegxl"
    quality_range = (0, 100)

    def __init__(self, effort: int = 5):
        self.effort = effort

    def __repr__(self) -> str:
        return f"JpegXlCodec(effort={self.effort})"

    def _encode(self, image, quality):
        import imagecodecs

        data = imagecodecs.jpegxl_encode(image, level=quality, effort=self.effort, usecontainer=False, numthreads=1)
        return bytes(data)

    def _decode(self, data):
        import imagecodecs

        return imagecodecs.jpegxl_decode(data, numthreads=1)


CODECS: dict[str, type[Codec]] = {
    "jpeg": JpegCodec, "webp": WebpCodec, "jpeg2000": Jpeg2000Codec, "avif": AvifCodec, "jpegxl": JpegXlCodec,
}


@cache
def probe(name: str) -> str | None:
    """Round-trip a small image through codec ``name``; None if it works, else the reason."""
    image = (np.indices((16, 16, 3)).sum(axis=0) * 7 % 256).astype(np.uint8)
    try:
        codec = CODECS[name]()
        out = codec.decode(codec.encode(image, sum(codec.quality_range) // 2))
    except Exception as exc:  # missing plugin or library: the codec is unavailable, not broken
        return f"{type(exc).__name__}: {exc}"
    return None if out.shape == image.shape else f"round trip returned shape {out.shape}"


def available_codecs() -> tuple[str, ...]:
    """Names of the codecs that round-trip an image in this environment (probed once, cached)."""
    return tuple(name for name in CODEC_NAMES if probe(name) is None)


def get_codec(name: str) -> Codec:
    """Build codec ``name`` with its default settings; SemcomError if unknown or unavailable here."""
    if name not in CODECS:
        raise SemcomError(f"unknown codec {name!r}; choose one of {', '.join(CODEC_NAMES)}")
    reason = probe(name)
    if reason is not None:
        raise SemcomError(f"codec {name!r} is not available here ({reason})")
    return CODECS[name]()
