"""The server request: round trip, every corruption, and the server answering from the received patches alone."""

import struct
import zlib

import pytest
import torch

from semcom.errors import SemcomError
from semcom.schemes.attention_ci.adapters import OwnViTAdapter
from semcom.schemes.attention_ci.patches import (
    HEADER,
    assemble,
    decode_request,
    encode_request,
    request_size,
    server_input,
)
from semcom.vit.grid import patchify
from semcom.vit.model import ViT, ViTConfig

GRID, PATCH = (4, 4), 4


@pytest.fixture
def image():
    return torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


KEEP = torch.tensor([9, 0, 15, 4])


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_keeps_indices_pixels_and_order(image, compress):
    data = encode_request(image, KEEP, PATCH, compress=compress)
    if not compress:
        assert len(data) == request_size(4, PATCH) == 13 + 4 * (2 + 48)
    indices, patches = decode_request(data, GRID, PATCH)
    assert indices.tolist() == KEEP.tolist() and patches.dtype == torch.uint8
    assert torch.equal(patches[0], image[:, 8:12, 4:8])  # patch 9: row 2, col 1
    assert torch.equal(patches[2], image[:, 12:16, 12:16])


def test_compression_pays_off_on_smooth_images():
    smooth = torch.full((3, 16, 16), 100, dtype=torch.uint8)
    keep = torch.arange(16)
    assert len(encode_request(smooth, keep, PATCH, compress=True)) < len(encode_request(smooth, keep, PATCH)) // 4


def test_assemble_places_patches_and_leaves_the_rest_black(image):
    indices, patches = decode_request(encode_request(image, KEEP, PATCH), GRID, PATCH)
    canvas = assemble(patches, indices, GRID, PATCH)
    assert canvas.shape == (3, 16, 16) and canvas.dtype == torch.uint8
    assert torch.equal(canvas[:, 8:12, 4:8], image[:, 8:12, 4:8]) and torch.equal(canvas[:, 0:4, 0:4], image[:, :4, :4])
    assert canvas[:, 0:4, 4:8].eq(0).all()  # patch 1 was not sent
    everything = torch.randperm(16)
    assert torch.equal(assemble(patchify(image[None], PATCH)[0][everything], everything, GRID, PATCH), image)


def test_the_server_answers_from_the_request_as_from_the_client_image(image):
    torch.manual_seed(0)
    server = OwnViTAdapter(ViT(ViTConfig(dim=16, depth=2, heads=2, image_size=16, patch=4)).eval())
    x, keep = server_input(encode_request(image, KEEP, PATCH, compress=True), server.grid, server.patch_size)
    assert x.shape == (1, 3, 16, 16) and x.dtype == torch.float32 and keep.tolist() == [KEEP.tolist()]
    with torch.no_grad():
        received = server.logits_on_patches(x, keep)
        at_client = server.logits_on_patches(image[None].float() / 255, KEEP[None])
    assert torch.allclose(received, at_client, atol=1e-6)


def corrupt(data: bytes, **fields) -> bytes:
    values = dict(zip(("magic", "flags", "rows", "cols", "patch", "count"), HEADER.unpack_from(data)))
    values.update(fields)
    return HEADER.pack(*values.values()) + data[HEADER.size:]


def with_indices(data: bytes, indices) -> bytes:
    return data[:HEADER.size] + struct.pack(f">{len(indices)}H", *indices) + data[HEADER.size + 2 * len(indices):]


@pytest.mark.parametrize("damage, match", [
    (lambda d: d[:10], "truncated"),
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"\x00", "trailing"),
    (lambda d: b"XXXX" + d[4:], "magic"),
    (lambda d: corrupt(d, flags=4), "flags"),
    (lambda d: corrupt(d, rows=8), "grid"),
    (lambda d: corrupt(d, patch=8), "grid"),
    (lambda d: corrupt(d, count=0), "carries 0"),
    (lambda d: corrupt(d, count=17), "carries 17"),
    (lambda d: corrupt(d, count=3), "trailing"),
    (lambda d: corrupt(d, count=5), "truncated"),
    (lambda d: with_indices(d, [9, 0, 9, 4]), "repeats"),
    (lambda d: with_indices(d, [9, 0, 16, 4]), "out of range"),
    (lambda d: "not bytes", "bytes"),
])
def test_corrupt_requests_are_errors(image, damage, match):
    with pytest.raises(SemcomError, match=match):
        decode_request(damage(encode_request(image, KEEP, PATCH)), GRID, PATCH)


@pytest.mark.parametrize("damage, match", [
    (lambda d: d[:-3], "truncated"),
    (lambda d: corrupt(d, flags=0), "holds"),
    (lambda d: d[:HEADER.size] + b"garbage", "zlib"),
    (lambda d: d + b"\x00", "after its zlib stream"),
    (lambda d: d[:HEADER.size] + zlib.compress(bytes(4 * 50 + 1)), "holds"),
])
def test_corrupt_compressed_requests_are_errors(image, damage, match):
    with pytest.raises(SemcomError, match=match):
        decode_request(damage(encode_request(image, KEEP, PATCH, compress=True)), GRID, PATCH)


@pytest.mark.parametrize("make, keep, match", [
    (lambda im: im.float(), KEEP, "uint8"),
    (lambda im: im[:1], KEEP, r"\[3, H, W\]"),
    (lambda im: im[None], KEEP, r"\[3, H, W\]"),
    (lambda im: im[:, :15], KEEP, "whole number"),
    (lambda im: im, torch.tensor([1, 1]), "repeats"),
    (lambda im: im, torch.tensor([16]), "out of range"),
    (lambda im: im, torch.tensor([], dtype=torch.long), "1 <= k"),
    (lambda im: im, torch.tensor([[1, 2]]), "1-D"),
])
def test_bad_client_input_is_an_error(image, make, keep, match):
    with pytest.raises(SemcomError, match=match):
        encode_request(make(image), keep, PATCH)


def test_assemble_checks_its_input(image):
    patches = patchify(image[None], PATCH)[0, :2]
    with pytest.raises(SemcomError, match="one per patch"):
        assemble(patches, torch.tensor([0]), GRID, PATCH)
    with pytest.raises(SemcomError, match="repeats"):
        assemble(patches, torch.tensor([3, 3]), GRID, PATCH)
    with pytest.raises(SemcomError, match="patches must be"):
        assemble(patches[:, :1], torch.tensor([0, 1]), GRID, PATCH)
