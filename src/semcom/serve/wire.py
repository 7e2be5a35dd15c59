"""The edge<->server wire format: one binary frame per request or response, versioned, checksummed.

Layout (big-endian, ``HEADER``: 96 bytes, then ``payload_length`` bytes of body)::

    magic          4s   b"SMCW"
    version        B    FORMAT_VERSION (1)
    kind           B    1 request (device -> server), 2 response (server -> device)
    scheme         B    1 splitnn, 2 attention-ci, 3 jscc (``SCHEMES``)
    dtype          B    the body's element type: 1 uint8, 2 float32, 3 complex64 (``DTYPES``)
    flags          H    reserved, 0
    ndim           B    1..4
    reserved       B    0
    shape          4I   a request: the source item's shape (the server checks it against its model and, for jscc, decodes
                        to it); a response: the result tensor's shape. Unused trailing dimensions are 0.
    snr_db         f    float32: the SNR the server's decoder is told (response: echoed); finite, in the core's range
    model_id       32s  ASCII name of the trained model (``[a-z0-9._:+-]``), NUL-padded
    model_hash     8s   the first 8 bytes of the SHA-256 of the model's weights (``serve.models.weights_sha256``)
    key            16s  idempotency key (a UUID's bytes, never all zero): a retry sends the same key
    payload_length I    bytes of body
    crc32          I    CRC-32 (zlib) of the header's first 92 bytes and the body

The body is the scheme's own payload (``semcom.types.Payload.data``) for a request, the result tensor (float32,
little-endian) for a response. ``unpack`` checks every field and raises ``WireError`` (a one-line ``SemcomError``
naming the field) for anything else; the CRC is checked right after the length, so a corrupted frame is reported
as such before its fields are read. Nothing here unpickles or ``torch.load``s: bodies are raw numbers.
"""

from __future__ import annotations

import math
import struct
import uuid
import zlib
from dataclasses import dataclass

from semcom.errors import SemcomError
from semcom.units import SNR_DB_MAX, SNR_DB_MIN

MAGIC = b"SMCW"
FORMAT_VERSION = 1
HEADER = struct.Struct(">4sBBBBHBB4If32s8s16sII")
CRC_OFFSET = HEADER.size - 4
KINDS = {1: "request", 2: "response"}
SCHEMES = {1: "splitnn", 2: "attention-ci", 3: "jscc"}
DTYPES = {1: "uint8", 2: "float32", 3: "complex64"}
ITEMSIZE = {"uint8": 1, "float32": 4, "complex64": 8}
MAX_DIMS = 4
MAX_DIM = 1 << 16  # per dimension
MODEL_ID_BYTES = 32
HASH_BYTES = 8
KEY_BYTES = 16
MODEL_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._:+-")
DEFAULT_MAX_PAYLOAD = 16 << 20
CONTENT_TYPE = "application/x-semcom-frame"

_CODE = {table_name: {v: k for k, v in table.items()} for table_name, table in
         (("kind", KINDS), ("scheme", SCHEMES), ("dtype", DTYPES))}


class WireError(SemcomError):
    """A frame that is not valid; ``field`` names the offending header field (``length`` for a short frame)."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"wire frame: field '{field}': {problem}")
        self.field = field


@dataclass(frozen=True)
class Frame:
    """One decoded frame (see the module docstring for each field's meaning)."""

    kind: str
    scheme: str
    dtype: str
    shape: tuple[int, ...]
    snr_db: float
    model_id: str
    model_hash: bytes
    key: bytes
    body: bytes

    def __post_init__(self):
        check_fields(self)


def new_key() -> bytes:
    """A fresh random idempotency key (16 bytes)."""
    return uuid.uuid4().bytes


def _name(table: str, value: str) -> int:
    code = _CODE[table].get(value)
    if code is None:
        raise WireError(table, f"unknown {table} {value!r}; valid: {', '.join(_CODE[table])}")
    return code


def check_fields(frame: Frame) -> None:
    """WireError unless every field of ``frame`` may be sent (the same rules ``unpack`` applies)."""
    for table in ("kind", "scheme", "dtype"):
        _name(table, getattr(frame, table))
    shape = frame.shape
    if not isinstance(shape, tuple) or not 1 <= len(shape) <= MAX_DIMS:
        raise WireError("ndim", f"shape must have 1 to {MAX_DIMS} dimensions, got {shape!r}")
    if any(not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= MAX_DIM for d in shape):
        raise WireError("shape", f"every dimension must be an integer in 1..{MAX_DIM}, got {list(shape)}")
    snr = frame.snr_db
    if not isinstance(snr, (int, float)) or not math.isfinite(snr) or not SNR_DB_MIN <= snr <= SNR_DB_MAX:
        raise WireError("snr_db", f"must be finite and in [{SNR_DB_MIN:g}, {SNR_DB_MAX:g}] dB, got {snr!r}")
    model_id = frame.model_id
    if (not isinstance(model_id, str) or not 1 <= len(model_id) <= MODEL_ID_BYTES
            or not set(model_id) <= MODEL_ID_CHARS):
        raise WireError("model_id", f"must be 1..{MODEL_ID_BYTES} characters of [a-z0-9._:+-], got {model_id!r}")
    if not isinstance(frame.model_hash, bytes) or len(frame.model_hash) != HASH_BYTES:
        raise WireError("model_hash", f"must be {HASH_BYTES} bytes")
    if not isinstance(frame.key, bytes) or len(frame.key) != KEY_BYTES or not any(frame.key):
        raise WireError("key", f"the idempotency key must be {KEY_BYTES} bytes, not all zero")
    body = frame.body
    if not isinstance(body, bytes):
        raise WireError("payload_length", f"the body must be bytes, got {type(body).__name__}")
    if len(body) % ITEMSIZE[frame.dtype]:
        raise WireError("payload_length", f"{len(body)} bytes is not a whole number of {frame.dtype} elements")


def pack(frame: Frame) -> bytes:
    """The frame as bytes (header + body)."""
    check_fields(frame)
    shape = tuple(frame.shape) + (0,) * (MAX_DIMS - len(frame.shape))
    head = HEADER.pack(MAGIC, FORMAT_VERSION, _name("kind", frame.kind), _name("scheme", frame.scheme),
                       _name("dtype", frame.dtype), 0, len(frame.shape), 0, *shape, float(frame.snr_db),
                       frame.model_id.encode("ascii"), frame.model_hash, frame.key, len(frame.body), 0)
    crc = zlib.crc32(frame.body, zlib.crc32(head[:CRC_OFFSET]))
    return head[:CRC_OFFSET] + struct.pack(">I", crc) + frame.body


def unpack(data: bytes, max_payload: int = DEFAULT_MAX_PAYLOAD) -> Frame:
    """Bytes -> ``Frame``; ``WireError`` naming the field for a short, oversized, corrupted or invalid frame."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise WireError("length", f"a frame is bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < HEADER.size:
        raise WireError("length", f"truncated: {len(data)} bytes, the header alone takes {HEADER.size}")
    (magic, version, kind, scheme, dtype, flags, ndim, reserved, d0, d1, d2, d3, snr, model_id, model_hash, key,
     length, crc) = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise WireError("magic", f"not a semcom frame (magic {magic!r}, expected {MAGIC!r})")
    if version != FORMAT_VERSION:
        raise WireError("version", f"format version {version} is not supported (this build speaks {FORMAT_VERSION})")
    if length > max_payload:
        raise WireError("payload_length", f"{length} bytes exceeds the limit of {max_payload}")
    if length != len(data) - HEADER.size:
        raise WireError("payload_length", f"header says {length} bytes, the frame carries {len(data) - HEADER.size}"
                        f" ({'truncated' if length > len(data) - HEADER.size else 'trailing bytes'})")
    if zlib.crc32(data[HEADER.size:], zlib.crc32(data[:CRC_OFFSET])) != crc:
        raise WireError("crc32", "checksum mismatch: the frame was corrupted")
    names = {}
    for table, code, known in (("kind", kind, KINDS), ("scheme", scheme, SCHEMES), ("dtype", dtype, DTYPES)):
        if code not in known:
            raise WireError(table, f"unknown code {code}")
        names[table] = known[code]
    if flags:
        raise WireError("flags", f"reserved, must be 0, got {flags:#06x}")
    if reserved:
        raise WireError("reserved", f"must be 0, got {reserved}")
    if not 1 <= ndim <= MAX_DIMS:
        raise WireError("ndim", f"must be 1..{MAX_DIMS}, got {ndim}")
    dims = (d0, d1, d2, d3)
    if any(dims[ndim:]):
        raise WireError("shape", f"dimensions beyond ndim={ndim} must be 0, got {list(dims)}")
    stripped = model_id.rstrip(b"\0")
    if b"\0" in stripped:
        raise WireError("model_id", "NUL inside the name")
    try:
        text = stripped.decode("ascii")
    except UnicodeDecodeError:
        raise WireError("model_id", "not ASCII") from None
    return Frame(kind=names["kind"], scheme=names["scheme"], dtype=names["dtype"], shape=dims[:ndim], snr_db=snr,
                 model_id=text, model_hash=model_hash, key=key, body=data[HEADER.size:])
