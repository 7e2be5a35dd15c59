"""The device side: run the scheme's device part, pass the payload through the simulated channel (or none), send it
to a ``semcom serve`` server and turn its answer into the scheme's ``Transmission``.

Every request carries a fresh idempotency key; a retry (connection error, timeout, 408/429/5xx) resends the same bytes
with the same key after an exponential back-off with jitter, so a reconnect or a server restart loses nothing, and a
server that already answered (or is still working on) that key does not run it again. Retries are bounded in count
and in total time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import torch

from semcom.errors import SemcomError
from semcom.serve import wire
from semcom.serve.models import Served, from_bytes
from semcom.types import Payload, Transmission

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class ServerError(SemcomError):
    """The server refused a request (``status``, ``reason`` as it gave them) or could not be reached in time."""

    def __init__(self, message: str, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status, self.reason = status, reason


class OffloadClient:
    """Sends ``served``'s payloads to the server at ``url``.

    ``token``: the bearer token (None: send none); ``timeout_s``: per attempt; ``retries``: further attempts after the
    first; ``backoff_s``/``max_backoff_s``: the back-off before retry k is uniform in [0, min(max, backoff * 2**k)]
    ("full jitter"); ``deadline_s``: all attempts of one request together; ``seed``: the jitter's random generator.
    Thread-safe: one connection pool, used by ``offload_many``'s threads."""

    def __init__(self, url: str, served: Served, token: str | None = None, timeout_s: float = 30.0, retries: int = 5,
                 backoff_s: float = 0.05, max_backoff_s: float = 2.0, deadline_s: float = 120.0, seed: int | None = None,
                 transport=None):
        import httpx

        if retries < 0 or backoff_s < 0 or max_backoff_s < 0 or timeout_s <= 0 or deadline_s <= 0:
            raise SemcomError("retries, back-off and timeouts must be positive")
        self.url, self.served = url.rstrip("/"), served
        self.retries, self.backoff_s, self.max_backoff_s, self.deadline_s = retries, backoff_s, max_backoff_s, deadline_s
        self.random = random.Random(seed)
        headers = {"Content-Type": wire.CONTENT_TYPE}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(timeout=timeout_s, headers=headers, transport=transport)
        self.attempts = 0  # every HTTP attempt made (for tests and the load benchmark)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> OffloadClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- one request ---------------------------------------------------------------------------------------------
    def frame(self, payload: Payload, key: bytes | None = None) -> bytes:
        """The request frame for an arrived payload (``key``: a fresh one unless given)."""
        s = self.served
        return wire.pack(wire.Frame(kind="request", scheme=s.name, dtype=payload.dtype, shape=tuple(payload.shape),
                                    snr_db=payload.snr_db, model_id=s.model_id, model_hash=s.model_hash,
                                    key=key or wire.new_key(), body=payload.data))

    def post(self, frame: bytes) -> bytes:
        """POST one frame with retries; the response frame's bytes, or ServerError."""
        import httpx

        start, attempt = time.monotonic(), 0
        while True:
            self.attempts += 1
            problem, status, reason = None, None, None
            try:
                response = self.http.post(f"{self.url}/v1/infer", content=frame)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return response.content
                status, reason, message = response.status_code, *_error(response)
                problem = f"HTTP {status} {reason}: {message}"
                if status not in RETRY_STATUSES:
                    raise ServerError(f"the server refused the request: {problem}", status, reason)
            pause = self.random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2 ** attempt))
            if attempt >= self.retries or time.monotonic() - start + pause > self.deadline_s:
                raise ServerError(f"no answer from {self.url} after {attempt + 1} attempts: {problem}", status, reason)
            attempt += 1
            time.sleep(pause)

    def send(self, payload: Payload) -> torch.Tensor:
        """An arrived payload -> the server part's output for it (logits [classes] or an image [3, H, W])."""
        key = wire.new_key()
        answer = wire.unpack(self.post(self.frame(payload, key)))
        s = self.served
        if answer.kind != "response" or answer.key != key or answer.scheme != s.name:
            raise ServerError("the server answered with a frame for another request")
        if answer.model_id != s.model_id or answer.model_hash != s.model_hash:
            raise ServerError(f"the server runs model {answer.model_id} #{answer.model_hash.hex()}, expected "
                              f"{s.model_id} #{s.model_hash.hex()}")
        expected = s.output_shape(tuple(payload.shape))
        if answer.dtype != "float32" or answer.shape != expected:
            raise ServerError(f"the server answered {answer.dtype} {list(answer.shape)}, expected float32 {list(expected)}")
        return from_bytes(answer.body, "float32", answer.shape)

    # ---- one item end to end ---------------------------------------------------------------------------------------
    def offload(self, x: torch.Tensor, snr_db: float, channel: bool = True,
                generator: torch.Generator | None = None) -> Transmission:
        """``x`` through the device part, the simulated channel (``channel``; False: the payload arrives as sent) and
        the server; the same ``Transmission`` as the scheme's in-process ``transmit`` for the same generator. Nothing is
        sent when the device answers itself or the simulated link lost the payload."""
        scheme = self.served.scheme
        payload = scheme.device_part(x, snr_db, generator)
        if channel:
            payload = scheme.channel_part(payload, snr_db, generator)
        sent = payload.data is not None and payload.ok
        return scheme.result(payload, self.send(payload) if sent else None)

    def offload_many(self, items: Iterable[tuple[torch.Tensor, float, torch.Generator | None]], channel: bool = True,
                     concurrency: int = 1) -> list[Transmission]:
        """``offload`` for (x, snr_db, generator) items; the device and channel parts run here in order (they draw from
        the generators), the requests go out ``concurrency`` at a time."""
        scheme = self.served.scheme
        payloads = []
        for x, snr_db, generator in items:
            p = scheme.device_part(x, snr_db, generator)
            payloads.append(scheme.channel_part(p, snr_db, generator) if channel else p)

        def one(p: Payload) -> Transmission:
            return scheme.result(p, self.send(p) if p.data is not None and p.ok else None)

        if concurrency <= 1:
            return [one(p) for p in payloads]
        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(one, payloads))


def _error(response) -> tuple[str, str]:
    try:
        body = response.json()
        return str(body.get("reason", "")), str(body.get("error", ""))
    except ValueError:
        return "", response.text[:200]
