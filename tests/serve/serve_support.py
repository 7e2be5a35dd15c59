"""Shared pieces of the serve tests (imported by each; not a conftest.py, so ``from conftest import`` elsewhere keeps
meaning tests/conftest.py): the served schemes (built once per process), a fake scheme for the server's mechanics, and
a factory of real servers on 127.0.0.1 (ephemeral ports, stopped after each test)."""

import time
from functools import lru_cache

import pytest
import torch

from semcom.errors import SemcomError
from semcom.serve import wire
from semcom.serve.models import Served
from semcom.serve.server import ServeConfig, ServerThread
from semcom.types import Payload, Transmission

TOKEN = "serve-test-token-0123456789abcdef"


class Echo:
    """A stand-in scheme: an 8-byte payload comes back as 4 float scores (its first 4 bytes); ``delay`` seconds per
    batch; ``calls``: the batch sizes it ran."""

    task = "classify"
    classes = 4
    name = "echo"

    def __init__(self, delay: float = 0.0):
        self.delay, self.calls = delay, []

    def device_part(self, x, snr_db, generator=None):
        return Payload(data=bytes(x.tolist()), shape=(3, 32, 32), snr_db=float(snr_db))

    def channel_part(self, payload, snr_db, generator=None):
        return payload

    def server_part(self, payloads):
        time.sleep(self.delay)
        for p in payloads:
            if len(p.data) != 8:
                raise SemcomError(f"echo payloads are 8 bytes, got {len(p.data)}")
        self.calls.append(len(payloads))
        return torch.tensor([list(p.data[:4]) for p in payloads], dtype=torch.float32)

    def result(self, payload, logits):
        return Transmission(logits=logits, channel_uses=0)


def echo_served(delay: float = 0.0) -> Served:
    return Served("splitnn", Echo(delay), "test:echo", bytes(range(8)))


def echo_frame(body: bytes = b"\x01\x02\x03\x04\x05\x06\x07\x08", **changes) -> bytes:
    fields = dict(kind="request", scheme="splitnn", dtype="uint8", shape=(3, 32, 32), snr_db=7.0, model_id="test:echo",
                  model_hash=bytes(range(8)), key=wire.new_key(), body=body)
    return wire.pack(wire.Frame(**{**fields, **changes}))


def auth(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


@lru_cache(maxsize=None)
def built(name: str) -> Served:
    from semcom.serve.models import build_served

    return build_served(name)


@pytest.fixture
def splitnn():
    return built("splitnn")


@pytest.fixture
def attention_ci():
    return built("attention-ci")


@pytest.fixture
def jscc():
    return built("jscc")


@pytest.fixture
def start_server():
    """start(served, port=0, **ServeConfig fields) -> a running ServerThread (token auth with TOKEN)."""
    started = []

    def start(served, port: int = 0, **config) -> ServerThread:
        server = ServerThread(served, ServeConfig(**{"token": TOKEN, "drain_timeout_s": 10.0, **config}), port=port)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(timeout_s=10)


def metric(text: str, name: str, **labels) -> float:
    """One sample of a Prometheus text exposition (0 when absent)."""
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0
