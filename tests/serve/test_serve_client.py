"""The client's retry policy (bounded, back-off, same idempotency key on every attempt) and its checks of the answer,
against a scripted transport."""

import httpx
import pytest
import torch

from semcom.serve import wire
from semcom.serve.client import OffloadClient, ServerError
from semcom.types import Payload
from serve_support import TOKEN, echo_served


def payload():
    return Payload(data=bytes(range(1, 9)), shape=(3, 32, 32), snr_db=7.0)


def answer_to(request: httpx.Request, key: bytes | None = None, shape=(4,)) -> httpx.Response:
    frame = wire.unpack(request.content)
    body = torch.arange(4, dtype=torch.float32).numpy().tobytes()
    reply = wire.Frame(kind="response", scheme=frame.scheme, dtype="float32", shape=shape, snr_db=frame.snr_db,
                       model_id=frame.model_id, model_hash=frame.model_hash, key=key or frame.key,
                       body=body if shape == (4,) else bytes(4 * shape[0]))
    return httpx.Response(200, content=wire.pack(reply))


def scripted(*steps):
    """A transport answering attempt k with steps[k]: an HTTP status, an exception to raise, or 'ok'."""
    seen = []

    def handle(request: httpx.Request):
        seen.append(request)
        step = steps[min(len(seen) - 1, len(steps) - 1)]
        if isinstance(step, Exception):
            raise step
        if step == "ok":
            return answer_to(request)
        return httpx.Response(step, json={"error": "scripted", "reason": f"r{step}"})

    return httpx.MockTransport(handle), seen


def client(transport, **kw):
    return OffloadClient("http://test", echo_served(), TOKEN, transport=transport, backoff_s=0.001, seed=0, **kw)


def test_retries_transient_failures_with_the_same_key():
    transport, seen = scripted(503, httpx.ConnectError("refused"), 504, "ok")
    c = client(transport)
    assert c.send(payload()).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert c.attempts == 4 and len({r.content for r in seen}) == 1  # byte-identical retries: same key
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("status", [400, 401, 409, 413, 422])
def test_refusals_are_not_retried(status):
    transport, seen = scripted(status)
    with pytest.raises(ServerError, match=f"HTTP {status} r{status}") as info:
        client(transport).send(payload())
    assert info.value.status == status and len(seen) == 1


def test_retries_are_bounded_in_count_and_time():
    transport, seen = scripted(httpx.ReadTimeout("slow"))
    with pytest.raises(ServerError, match="after 4 attempts"):
        client(transport, retries=3).send(payload())
    assert len(seen) == 4
    transport, seen = scripted(503)
    with pytest.raises(ServerError, match="no answer"):
        OffloadClient("http://test", echo_served(), TOKEN, transport=transport, retries=100, backoff_s=0.05,
                      max_backoff_s=0.05, deadline_s=0.2, seed=0).send(payload())
    assert len(seen) < 20


def test_answers_for_another_request_or_shape_are_rejected():
    transport = httpx.MockTransport(lambda r: answer_to(r, key=wire.new_key()))
    with pytest.raises(ServerError, match="another request"):
        client(transport).send(payload())
    transport = httpx.MockTransport(lambda r: answer_to(r, shape=(5,)))
    with pytest.raises(ServerError, match="expected float32"):
        client(transport).send(payload())
