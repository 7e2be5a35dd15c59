"""The server's mechanics on a stand-in scheme (fast): auth, header and payload validation, limits, timeouts,
idempotency, batching, metrics, draining. Every server listens on 127.0.0.1 on an ephemeral port."""

import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from semcom.errors import SemcomError
from semcom.serve import wire
from semcom.serve.server import ServeConfig, load_token
from serve_support import TOKEN, auth, echo_frame, echo_served, metric, start_server  # noqa: F401 (fixture)


def post(url, body, headers=None, **kwargs):
    return httpx.post(f"{url}/v1/infer", content=body, headers=headers if headers is not None else auth(), timeout=10,
                      **kwargs)


def scrape(url) -> str:
    return httpx.get(f"{url}/metrics", headers=auth(), timeout=10).text


def test_answers_a_valid_frame(start_server):
    server = start_server(echo_served())
    frame = echo_frame()
    r = post(server.url, frame)
    assert r.status_code == 200 and r.headers["content-type"] == wire.CONTENT_TYPE
    answer = wire.unpack(r.content)
    request = wire.unpack(frame)
    assert (answer.kind, answer.key, answer.shape, answer.dtype) == ("response", request.key, (4,), "float32")
    assert list(memoryview(answer.body).cast("f")) == [1.0, 2.0, 3.0, 4.0]
    assert httpx.get(f"{server.url}/health/live").json() == {"status": "live"}
    ready = httpx.get(f"{server.url}/health/ready").json()
    assert ready["status"] == "ready" and ready["model_hash"] == bytes(range(8)).hex()


def test_no_request_is_accepted_without_the_token(start_server):
    server = start_server(echo_served())
    bad = [None, {}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}, auth(TOKEN[:-1]),
           auth(TOKEN + "x"), auth(TOKEN.upper()), auth("x"), auth("x" * 64), {"Authorization": "Bearer"}]
    rng = random.Random(0)
    bad += [auth("".join(rng.choice("abcdef0123456789-") for _ in range(len(TOKEN)))) for _ in range(20)]
    with httpx.Client(timeout=10) as client:
        for headers in bad:
            r = client.post(f"{server.url}/v1/infer", content=echo_frame(), headers=headers)
            assert r.status_code == 401 and r.json()["reason"] == "auth" and r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    text = scrape(server.url)
    assert metric(text, "semcom_items_total") == 0 and metric(text, "semcom_rejections_total", reason="auth") == len(bad) + 1  # + the /metrics GET
    assert server.state.served.scheme.calls == []


@pytest.mark.parametrize("make, status, reason", [
    (lambda: echo_frame()[:40], 400, "frame_length"),
    (lambda: echo_frame()[:-3], 400, "frame_payload_length"),
    (lambda: b"GET / HTTP/1.1\r\n" + bytes(100), 400, "frame_magic"),
    (lambda: bytes([b ^ (i == 60) for i, b in enumerate(echo_frame())]), 400, "frame_crc32"),
    (lambda: echo_frame(kind="response"), 400, "frame_kind"),
    (lambda: echo_frame(scheme="jscc"), 400, "scheme_mismatch"),
    (lambda: echo_frame(model_hash=bytes(8)), 409, "model_mismatch"),
    (lambda: echo_frame(model_id="test:other"), 409, "model_mismatch"),
    (lambda: echo_frame(body=b"\x01\x02\x03"), 422, "bad_payload"),
])
def test_invalid_requests_are_refused_with_a_reason(start_server, make, status, reason):
    server = start_server(echo_served())
    r = post(server.url, make())
    assert r.status_code == status and r.json()["reason"] == reason, r.text
    assert "\n" not in r.json()["error"]
    assert server.state.served.scheme.calls == []


def test_fuzzed_frames_never_run_and_never_crash_the_server(start_server):
    server = start_server(echo_served())
    rng = random.Random(1)
    with httpx.Client(headers=auth(), timeout=10) as client:
        for i in range(150):
            raw = bytearray(echo_frame())
            if i % 3 == 0:
                raw = raw[: rng.randrange(len(raw))]
            else:
                for _ in range(rng.randint(1, 4 if i % 3 == 1 else 1)):
                    bit = rng.randrange(len(raw) * 8)
                    raw[bit // 8] ^= 1 << (bit % 8)
            r = client.post(f"{server.url}/v1/infer", content=bytes(raw))
            assert r.status_code == 400, (i, r.status_code, r.text)
    assert server.state.served.scheme.calls == []
    assert post(server.url, echo_frame()).status_code == 200  # still serving


def test_oversized_bodies_are_refused_before_they_are_read(start_server):
    server = start_server(echo_served(), max_body_bytes=1024)
    r = post(server.url, echo_frame(body=bytes(2000)))
    assert r.status_code == 413 and r.json()["reason"] == "too_large"

    def chunks():  # no Content-Length: the limit applies to the bytes actually read
        for _ in range(100):
            yield bytes(100)

    r = post(server.url, chunks())
    assert r.status_code == 413
    assert metric(scrape(server.url), "semcom_rejections_total", reason="too_large") == 2


def test_a_slow_client_is_cut_off(start_server):
    server = start_server(echo_served(), body_timeout_s=0.3)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(f"POST /v1/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                     f"Content-Length: 500\r\n\r\n".encode() + bytes(10))
        reply = b""
        for _ in range(20):  # the server answers without waiting for the rest of the body
            chunk = sock.recv(4096)
            reply += chunk
            if not chunk or b"body_timeout" in reply:
                break
        reply = reply.decode(errors="replace")
    assert reply.startswith("HTTP/1.1 408") and "body_timeout" in reply


def test_a_request_that_takes_too_long_times_out_and_a_retry_collects_the_answer(start_server):
    served = echo_served(delay=0.6)
    server = start_server(served, request_timeout_s=0.2)
    frame = echo_frame()
    first = post(server.url, frame)
    assert first.status_code == 504 and first.json()["reason"] == "timeout"
    time.sleep(0.6)
    again = post(server.url, frame)  # the same key: the answer computed meanwhile, not a second run
    assert again.status_code == 200 and again.headers["x-semcom-replay"] == "1"
    assert served.scheme.calls == [1]


def test_retries_with_the_same_key_run_once_and_get_the_same_bytes(start_server):
    served = echo_served()
    server = start_server(served)
    frame = echo_frame()
    answers = [post(server.url, frame) for _ in range(3)]
    assert all(a.status_code == 200 for a in answers)
    assert answers[0].content == answers[1].content == answers[2].content
    assert [a.headers["x-semcom-replay"] for a in answers] == ["0", "1", "1"]
    assert served.scheme.calls == [1]
    key = wire.unpack(frame).key
    conflict = post(server.url, echo_frame(body=b"\x09" * 8, key=key))
    assert conflict.status_code == 409 and conflict.json()["reason"] == "idempotency_conflict"
    text = scrape(server.url)
    assert metric(text, "semcom_idempotent_replays_total") == 2 and metric(text, "semcom_items_total") == 1


def test_concurrent_requests_are_batched_and_one_bad_payload_fails_alone(start_server):
    served = echo_served(delay=0.05)
    server = start_server(served, max_batch=8, max_queue_delay_ms=100)
    bodies = [bytes([i] * 8) for i in range(15)] + [b"\x01\x02"]
    with httpx.Client(headers=auth(), timeout=10) as client, ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda b: client.post(f"{server.url}/v1/infer", content=echo_frame(body=b)), bodies))
    assert [r.status_code for r in replies] == [200] * 15 + [422]
    for body, r in zip(bodies, replies[:15]):
        assert list(memoryview(wire.unpack(r.content).body).cast("f")) == [float(body[0])] * 4
    sizes = [int(r.headers["x-semcom-batch-size"]) for r in replies[:15]]
    assert max(sizes) > 1 and max(served.scheme.calls) <= 8 and sum(served.scheme.calls) == 15
    text = scrape(server.url)
    assert metric(text, "semcom_batch_size_count") < 15  # fewer batches than requests
    assert metric(text, "semcom_batch_size_bucket", le="1") < metric(text, "semcom_batch_size_count")
    assert metric(text, "semcom_requests_total", status="200") == 15
    assert metric(text, "semcom_bytes_in_total") > 0 and metric(text, "semcom_bytes_out_total") > 0
    assert metric(text, "semcom_request_latency_seconds_count") == 16


def test_a_full_queue_is_refused_with_503(start_server):
    server = start_server(echo_served(delay=0.3), max_batch=1, max_queue=1, max_queue_delay_ms=0)
    with httpx.Client(headers=auth(), timeout=10) as client, ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(lambda _: client.post(f"{server.url}/v1/infer", content=echo_frame()).status_code,
                                range(6)))
    assert 200 in codes and 503 in codes and set(codes) <= {200, 503}


def test_shutdown_drains_requests_in_flight(start_server):
    served = echo_served(delay=0.4)
    server = start_server(served, max_batch=4, max_queue_delay_ms=50)
    results = []
    senders = [threading.Thread(target=lambda: results.append(post(server.url, echo_frame()).status_code))
               for _ in range(3)]
    for t in senders:
        t.start()
    deadline = time.monotonic() + 10
    while server.state.metrics.in_flight < 3 and time.monotonic() < deadline:  # all three are queued or running
        time.sleep(0.01)
    assert server.state.metrics.in_flight == 3
    server.stop(timeout_s=10)
    for t in senders:
        t.join(10)
    assert results == [200, 200, 200] and sum(served.scheme.calls) == 3
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health/live", timeout=2)


def test_readiness_and_new_requests_are_refused_while_draining(start_server):
    server = start_server(echo_served())
    server.state.drain()
    assert httpx.get(f"{server.url}/health/ready").status_code == 503
    r = post(server.url, echo_frame())
    assert r.status_code == 503 and r.json()["reason"] == "draining"


def test_config_and_token_rules(tmp_path, monkeypatch):
    with pytest.raises(SemcomError, match="token authentication is on"):
        ServeConfig()
    with pytest.raises(SemcomError, match="at least 16"):
        ServeConfig(token="short")
    assert ServeConfig(auth=False).token is None
    with pytest.raises(SemcomError, match="max_batch"):
        ServeConfig(token=TOKEN, max_batch=0)
    monkeypatch.delenv("SEMCOM_TOKEN", raising=False)
    assert load_token() is None
    monkeypatch.setenv("SEMCOM_TOKEN", TOKEN)
    assert load_token() == TOKEN
    (tmp_path / "token").write_text("file-token-0123456789abcdef\n")
    assert load_token(tmp_path / "token") == "file-token-0123456789abcdef"
    with pytest.raises(SemcomError, match="cannot read the token file"):
        load_token(tmp_path / "missing")
    assert "token" not in repr(ServeConfig(token=TOKEN)).replace("auth=True", "")


def test_the_idempotency_cache_is_bounded_in_entries_and_bytes(start_server):
    served = echo_served()
    server = start_server(served, idempotency_entries=3, idempotency_bytes=40)  # 16 bytes per echo answer
    frames = [echo_frame() for _ in range(5)]
    with httpx.Client(headers=auth(), timeout=10) as client:
        for frame in frames:
            assert client.post(f"{server.url}/v1/infer", content=frame).status_code == 200
        cache = server.state.cache
        assert len(cache.entries) == 2 and cache.total == 32  # 3 entries would hold 48 bytes
        assert client.post(f"{server.url}/v1/infer", content=frames[-1]).headers["x-semcom-replay"] == "1"
        assert client.post(f"{server.url}/v1/infer", content=frames[0]).headers["x-semcom-replay"] == "0"
    assert served.scheme.calls == [1] * 6
