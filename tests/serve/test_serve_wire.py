"""The wire format: every frame round-trips; truncated, bit-flipped or fuzzed bytes raise WireError (never anything
else) and are never accepted as valid."""

import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semcom.errors import SemcomError
from semcom.serve import wire
from semcom.serve.wire import Frame, WireError, new_key, pack, unpack

FLOAT32_SNR = st.floats(-20, 40, width=32, allow_nan=False, allow_subnormal=False)  # semcom.cli.main flushes subnormals
frames = st.builds(
    Frame,
    kind=st.sampled_from(sorted(wire.KINDS.values())),
    scheme=st.sampled_from(sorted(wire.SCHEMES.values())),
    dtype=st.just("uint8"),
    shape=st.lists(st.integers(1, wire.MAX_DIM), min_size=1, max_size=4).map(tuple),
    snr_db=FLOAT32_SNR,
    model_id=st.text(sorted(wire.MODEL_ID_CHARS), min_size=1, max_size=32),
    model_hash=st.binary(min_size=8, max_size=8),
    key=st.binary(min_size=16, max_size=16).filter(any),
    body=st.binary(max_size=300),
)


def frame(**changes) -> Frame:
    base = dict(kind="request", scheme="splitnn", dtype="uint8", shape=(3, 32, 32), snr_db=7.0,
                model_id="splitnn:semanticnn-c8b3", model_hash=bytes(range(8)), key=new_key(), body=b"\x01\x02\x03")
    return Frame(**{**base, **changes})


@settings(max_examples=200, deadline=None)
@given(frames)
def test_round_trip(f):
    assert unpack(pack(f)) == f


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames, st.data())
def test_corrupted_frames_are_rejected(f, data):
    """1,000 frames, each truncated, extended, bit-flipped (1..8 bits) or overwritten: WireError every time."""
    raw = bytearray(pack(f))
    how = data.draw(st.sampled_from(["truncate", "extend", "flip", "overwrite"]))
    if how == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif how == "extend":
        raw += data.draw(st.binary(min_size=1, max_size=16))
    elif how == "flip":  # CRC-32 detects every error pattern of up to 3 bits and every burst up to 32 bits
        start = data.draw(st.integers(0, len(raw) * 8 - 1))
        span = data.draw(st.integers(1, 8))
        for bit in data.draw(st.sets(st.integers(start, min(start + 31, len(raw) * 8 - 1)), min_size=1, max_size=span)):
            raw[bit // 8] ^= 1 << (bit % 8)
    else:
        at = data.draw(st.integers(0, len(raw) - 1))
        chunk = data.draw(st.binary(min_size=1, max_size=min(4, len(raw) - at)))
        if raw[at:at + len(chunk)] == chunk:
            return  # nothing changed
        raw[at:at + len(chunk)] = chunk
    with pytest.raises(WireError):
        unpack(bytes(raw))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(raw):
    try:
        unpack(raw)
    except WireError:
        pass
    else:
        pytest.fail("random bytes were accepted as a frame")


def repack(raw: bytes, **fields) -> bytes:
    """Rewrite header fields of a valid frame and fix its CRC, so only the named field is wrong."""
    names = ["magic", "version", "kind", "scheme", "dtype", "flags", "ndim", "reserved", "d0", "d1", "d2", "d3",
             "snr_db", "model_id", "model_hash", "key", "payload_length", "crc32"]
    values = dict(zip(names, wire.HEADER.unpack_from(raw)))
    values.update(fields)
    head = wire.HEADER.pack(*values.values())[: wire.CRC_OFFSET]
    body = raw[wire.HEADER.size:]
    return head + struct.pack(">I", zlib.crc32(body, zlib.crc32(head))) + body


@pytest.mark.parametrize("field, value", [
    ("magic", b"HTTP"), ("version", 2), ("kind", 9), ("scheme", 0), ("dtype", 7), ("flags", 1), ("ndim", 0),
    ("ndim", 5), ("reserved", 1), ("d3", 4), ("snr_db", float("nan")), ("snr_db", 80.0), ("snr_db", float("inf")),
    ("model_id", b"Bad Name"), ("model_id", b"a\0b"), ("model_id", b"\xff"), ("key", bytes(16)),
])
def test_every_header_field_is_validated(field, value):
    bad = repack(pack(frame()), **{field: value})
    with pytest.raises(WireError) as info:
        unpack(bad)
    message = str(info.value)
    assert "\n" not in message and info.value.field in message
    expected = {"d3": "shape"}.get(field, field)
    assert info.value.field == expected, message


def test_length_checks():
    raw = pack(frame(body=b"x" * 10))
    with pytest.raises(WireError, match="'length'"):
        unpack(raw[:50])
    with pytest.raises(WireError, match="'payload_length'.*truncated"):
        unpack(raw[:-1])
    with pytest.raises(WireError, match="'payload_length'.*exceeds"):
        unpack(raw, max_payload=9)
    with pytest.raises(WireError, match="'payload_length'.*whole number"):
        unpack(repack(pack(frame(dtype="uint8", body=b"123")), dtype=2))
    assert isinstance(WireError("x", "y"), SemcomError)


@pytest.mark.parametrize("change", [dict(kind="reply"), dict(shape=()), dict(shape=(0,)), dict(shape=(3, 1 << 17)),
                                    dict(snr_db=41.0), dict(model_id=""), dict(model_id="x" * 33),
                                    dict(model_hash=b"1234"), dict(key=bytes(16)), dict(dtype="float32", body=b"123")])
def test_pack_refuses_invalid_frames(change):
    with pytest.raises(WireError):
        frame(**change)
