"""The server: a FastAPI app over one served scheme's server part, with dynamic batching, token auth, limits and
Prometheus metrics; a uvicorn runner with graceful shutdown.

Endpoints: ``POST /v1/infer`` (body: one request frame, ``semcom.serve.wire``; answer: one response frame, or a JSON
``{"error", "reason"}`` with a 4xx/5xx status), ``GET /health/live``, ``GET /health/ready`` (503 while starting or
draining), ``GET /metrics`` (Prometheus text format 0.0.4).

A request goes through, in order: token check (``Authorization: Bearer``, constant-time compare of SHA-256 digests;
before the body is read), the size limit (``Content-Length`` and the bytes actually read) and body timeout, the frame's
own checks (``wire.unpack``), scheme, model id and weights hash, the idempotency cache (a key seen before, with the
same bytes, waits for or replays the first answer instead of running again; with other bytes it is a conflict), the
queue (bounded) and the batcher: queued payloads run together through ``server_part`` once ``max_batch`` are waiting
or the oldest has waited ``max_queue_delay_ms`` (the Triton / TorchServe / Ray Serve convention), in one worker thread,
so the event loop keeps accepting. A batch that fails validation runs item by item, so one bad payload fails alone.

Shutdown (SIGTERM/SIGINT, or ``ServerThread.stop``): readiness turns 503 and new requests get 503 ``draining`` at once,
requests in flight finish (up to ``drain_timeout_s``), then the batcher runs whatever is queued and stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import signal
import socket
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from semcom.errors import SemcomError
from semcom.serve import wire
from semcom.serve.models import Served, to_bytes
from semcom.types import Payload

TOKEN_ENV = "SEMCOM_TOKEN"
MIN_TOKEN_CHARS = 16
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True)
class ServeConfig:
    """``max_batch``: payloads run together at most; ``max_queue_delay_ms``: how long the oldest queued payload waits
    for company (0: run what is there); ``max_queue``: queued payloads before 503 ``queue_full``; ``max_body_bytes``:
    the largest request frame; ``request_timeout_s``: from a request's arrival to its answer (504 after);
    ``body_timeout_s``: to receive the body (408 after); ``drain_timeout_s``: how long shutdown waits for requests in
    flight; ``idempotency_entries``, ``idempotency_bytes``: answers remembered for retries (the oldest are forgotten
    beyond either); ``token``: the bearer token (None only with
    ``auth=False``)."""

    max_batch: int = 8
    max_queue_delay_ms: float = 5.0
    max_queue: int = 256
    max_body_bytes: int = 4 << 20
    request_timeout_s: float = 30.0
    body_timeout_s: float = 10.0
    drain_timeout_s: float = 30.0
    idempotency_entries: int = 4096
    idempotency_bytes: int = 256 << 20
    auth: bool = True
    token: str | None = field(default=None, repr=False)

    def __post_init__(self):
        if not 1 <= self.max_batch <= 1024:
            raise SemcomError(f"max_batch must be in 1..1024, got {self.max_batch}")
        if not 0 <= self.max_queue_delay_ms <= 10_000:
            raise SemcomError(f"max_queue_delay_ms must be in 0..10000, got {self.max_queue_delay_ms}")
        if self.max_queue < 1 or self.idempotency_entries < 1 or self.idempotency_bytes < 1:
            raise SemcomError("max_queue, idempotency_entries and idempotency_bytes must be >= 1")
        if not wire.HEADER.size < self.max_body_bytes <= 1 << 30:
            raise SemcomError(f"max_body_bytes must be in {wire.HEADER.size + 1}..{1 << 30}, got {self.max_body_bytes}")
        for name in ("request_timeout_s", "body_timeout_s", "drain_timeout_s"):
            if not 0 < getattr(self, name) <= 3600:
                raise SemcomError(f"{name} must be in (0, 3600] seconds, got {getattr(self, name)}")
        if self.auth:
            check_token(self.token)


def check_token(token: str | None) -> str:
    if not token:
        raise SemcomError(f"token authentication is on: set {TOKEN_ENV} or give --token-file (a loopback test may "
                          "turn it off with --no-auth)")
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise SemcomError(f"the token must be at least {MIN_TOKEN_CHARS} characters without spaces")
    return token


def load_token(token_file: Path | None = None) -> str | None:
    """The bearer token from ``token_file`` (first line) or else the environment variable ``SEMCOM_TOKEN``; None when
    neither is set. Never from the command line (it would show in the process list)."""
    if token_file is not None:
        try:
            text = Path(token_file).read_text().strip()
        except OSError as exc:
            raise SemcomError(f"cannot read the token file {token_file}: {exc.strerror}") from None
        return check_token(text.splitlines()[0].strip() if text else "")
    value = os.environ.get(TOKEN_ENV, "").strip()
    return check_token(value) if value else None


# ---- metrics ------------------------------------------------------------------------------------------------------

class Histogram:
    def __init__(self, buckets: tuple[float, ...]):
        self.buckets, self.counts, self.sum, self.count = buckets, [0] * len(buckets), 0.0, 0

    def observe(self, value: float) -> None:
        self.sum += value
        self.count += 1
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1

    def lines(self, name: str) -> list[str]:
        out = [f'{name}_bucket{{le="{bound:g}"}} {n}' for bound, n in zip(self.buckets, self.counts)]
        return out + [f'{name}_bucket{{le="+Inf"}} {self.count}', f"{name}_sum {self.sum:.6f}", f"{name}_count {self.count}"]


class Metrics:
    """What ``/metrics`` shows; updated from the event loop and the batch thread under one lock."""

    def __init__(self, served: Served, instance: str = ""):
        self.lock = threading.Lock()
        self.served, self.instance = served, instance
        self.requests: dict[str, int] = {}
        self.rejections: dict[str, int] = {}
        self.latency = Histogram(LATENCY_BUCKETS)
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.bytes_in = self.bytes_out = self.items = self.replays = self.in_flight = 0
        self.queue_depth = lambda: 0
        self.ready = lambda: False

    def request(self, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[str(status)] = self.requests.get(str(status), 0) + 1
            self.latency.observe(seconds)

    def reject(self, reason: str) -> None:
        with self.lock:
            self.rejections[reason] = self.rejections.get(reason, 0) + 1

    def add(self, **amounts: int) -> None:
        with self.lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def batch(self, size: int) -> None:
        with self.lock:
            self.batch_size.observe(size)
            self.items += size

    def render(self) -> str:
        s = self.served

        def block(name: str, kind: str, help_: str, lines: list[str]) -> list[str]:
            return [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", *lines]

        with self.lock:
            out = block("semcom_model_info", "gauge", "The served model.",
                        [f'semcom_model_info{{scheme="{s.name}",model_id="{s.model_id}",model_hash="{s.model_hash.hex()}",'
                         f'instance="{self.instance}"}} 1'])
            out += block("semcom_requests_total", "counter", "Requests to /v1/infer by HTTP status.",
                         [f'semcom_requests_total{{status="{k}"}} {v}' for k, v in sorted(self.requests.items())])
            out += block("semcom_rejections_total", "counter", "Requests refused, by reason.",
                         [f'semcom_rejections_total{{reason="{k}"}} {v}' for k, v in sorted(self.rejections.items())])
            out += block("semcom_request_latency_seconds", "histogram", "Time from arrival to answer of /v1/infer.",
                         self.latency.lines("semcom_request_latency_seconds"))
            out += block("semcom_batch_size", "histogram", "Payloads per server_part call.",
                         self.batch_size.lines("semcom_batch_size"))
            for name, value, help_ in (
                    ("semcom_items_total", self.items, "Payloads run through the server part."),
                    ("semcom_idempotent_replays_total", self.replays, "Retries answered without running again."),
                    ("semcom_bytes_in_total", self.bytes_in, "Request body bytes received."),
                    ("semcom_bytes_out_total", self.bytes_out, "Response body bytes sent.")):
                out += block(name, "counter", help_, [f"{name} {value}"])
            out += block("semcom_in_flight", "gauge", "Requests being handled.", [f"semcom_in_flight {self.in_flight}"])
        out += block("semcom_queue_depth", "gauge", "Payloads waiting for a batch.",
                     [f"semcom_queue_depth {self.queue_depth()}"])
        out += block("semcom_ready", "gauge", "1 when accepting requests.", [f"semcom_ready {int(self.ready())}"])
        return "\n".join(out) + "\n"


# ---- batching -----------------------------------------------------------------------------------------------------

class Rejection(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@dataclass(frozen=True)
class Output:
    body: bytes  # the result as little-endian float32
    shape: tuple[int, ...]
    batch: int  # how many payloads ran in the same server_part call


class Batcher:
    """Queues payloads and runs them through ``served.scheme.server_part`` in batches, in one worker thread."""

    def __init__(self, served: Served, max_batch: int, max_delay_s: float, max_queue: int, metrics: Metrics):
        self.served, self.max_batch, self.max_delay_s, self.max_queue = served, max_batch, max_delay_s, max_queue
        self.metrics = metrics
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None
        self.closed = True
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="semcom-batch")

    def depth(self) -> int:
        return self.queue.qsize() if self.queue is not None else 0

    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.closed = False
        self.task = asyncio.create_task(self._loop())

    def submit(self, payload: Payload) -> asyncio.Future:
        if self.closed:
            raise Rejection(503, "draining", "the server is shutting down; retry on another replica or later")
        if self.queue.qsize() >= self.max_queue:
            raise Rejection(503, "queue_full", f"the queue holds {self.max_queue} payloads; retry later")
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((payload, future))
        return future

    async def stop(self) -> None:
        """Refuse new payloads, run every queued one, stop the worker."""
        if self.closed and self.task is None:
            return
        self.closed = True
        self.queue.put_nowait(None)
        await self.task
        self.task = None
        self.executor.shutdown(wait=True)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            item = await self.queue.get()
            if item is None:
                break
            batch, deadline = [item], loop.time() + self.max_delay_s
            while len(batch) < self.max_batch:
                try:
                    item = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(self.queue.get(), remaining)
                    except TimeoutError:
                        break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            results = await loop.run_in_executor(self.executor, self._execute, [p for p, _ in batch])
            for (_, future), result in zip(batch, results):
                if not future.done():
                    (future.set_exception if isinstance(result, BaseException) else future.set_result)(result)

    def _execute(self, payloads: list[Payload]) -> list:
        """Results (``Output`` or the exception) for every payload; a SemcomError reruns the batch item by item."""
        try:
            return self._outputs(payloads)
        except SemcomError as exc:
            if len(payloads) == 1:
                return [exc]
        except Exception as exc:  # noqa: BLE001 - reported as 500 to each waiting request
            return [exc] * len(payloads)
        results = []
        for p in payloads:
            try:
                results += self._outputs([p])
            except Exception as exc:  # noqa: BLE001
                results.append(exc)
        return results

    def _outputs(self, payloads: list[Payload]) -> list[Output]:
        outputs = self.served.scheme.server_part(payloads)
        self.metrics.batch(len(payloads))
        return [Output(to_bytes(o, "float32"), tuple(o.shape), len(payloads)) for o in outputs]


class IdempotencyCache:
    """Idempotency key -> (digest of the request bytes, the future of its answer). The oldest answered keys are
    forgotten beyond ``capacity`` entries or ``max_bytes`` of answers (a JSCC answer is a whole image)."""

    def __init__(self, capacity: int, max_bytes: int = 256 << 20):
        self.capacity, self.max_bytes = capacity, max_bytes
        self.entries: OrderedDict[bytes, tuple[bytes, asyncio.Future]] = OrderedDict()
        self.sizes: dict[bytes, int] = {}
        self.total = 0

    def lookup(self, key: bytes, digest: bytes) -> asyncio.Future | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry[0] != digest:
            raise Rejection(409, "idempotency_conflict", "this idempotency key was used for a different request")
        self.entries.move_to_end(key)
        return entry[1]

    def add(self, key: bytes, digest: bytes, future: asyncio.Future) -> None:
        self.entries[key] = (digest, future)
        future.add_done_callback(lambda f: self._answered(key, f))
        self._evict()

    def _answered(self, key: bytes, future: asyncio.Future) -> None:
        if key in self.entries and self.entries[key][1] is future and not future.cancelled() \
                and future.exception() is None:
            self.sizes[key] = len(future.result().body)
            self.total += self.sizes[key]
            self._evict()

    def _evict(self) -> None:
        for old in list(self.entries):
            if len(self.entries) <= self.capacity and self.total <= self.max_bytes:
                break
            if self.entries[old][1].done():
                self._drop(old)

    def _drop(self, key: bytes) -> None:
        del self.entries[key]
        self.total -= self.sizes.pop(key, 0)

    def forget(self, key: bytes, future: asyncio.Future) -> None:
        if key in self.entries and self.entries[key][1] is future:
            self._drop(key)


# ---- the app ------------------------------------------------------------------------------------------------------

@dataclass
class ServiceState:
    """What the app and the runner share (the tests read it too)."""

    served: Served
    config: ServeConfig
    metrics: Metrics
    batcher: Batcher
    cache: IdempotencyCache
    ready: bool = False
    draining: bool = False

    def drain(self) -> None:
        self.draining, self.ready = True, False


def create_app(served: Served, config: ServeConfig) -> FastAPI:
    """The FastAPI app serving ``served`` (``app.state.semcom``: the ``ServiceState``). Each app has a random instance
    id (``/health/ready``, the ``X-Semcom-Instance`` header, ``semcom_model_info``): which replica answered."""
    instance = uuid.uuid4().hex[:12]
    metrics = Metrics(served, instance)
    batcher = Batcher(served, config.max_batch, config.max_queue_delay_ms / 1000, config.max_queue, metrics)
    cache = IdempotencyCache(config.idempotency_entries, config.idempotency_bytes)
    state = ServiceState(served, config, metrics, batcher, cache)
    metrics.queue_depth, metrics.ready = batcher.depth, lambda: state.ready
    token_digest = hashlib.sha256(config.token.encode()).digest() if config.auth else None

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        state.ready = True
        try:
            yield
        finally:
            state.drain()
            await batcher.stop()

    app = FastAPI(title="semcom serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.semcom = state

    def authorized(request: Request) -> bool:
        if token_digest is None:
            return True
        kind, _, value = request.headers.get("authorization", "").partition(" ")
        given = hashlib.sha256(value.strip().encode() if kind.lower() == "bearer" else b"").digest()
        return hmac.compare_digest(given, token_digest)

    def refusal(r: Rejection):
        metrics.reject(r.reason)
        headers = {"WWW-Authenticate": "Bearer"} if r.status == 401 else None
        return JSONResponse({"error": r.message, "reason": r.reason}, status_code=r.status, headers=headers)

    async def read_body(request: Request) -> bytes:
        limit = config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Rejection(400, "bad_length", "Content-Length is not a number")
            if int(declared) > limit:
                raise Rejection(413, "too_large", f"the body has {declared} bytes, the limit is {limit}")
        chunks, size = [], 0

        async def collect():
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Rejection(413, "too_large", f"the body exceeds the limit of {limit} bytes")
                chunks.append(chunk)

        try:
            await asyncio.wait_for(collect(), config.body_timeout_s)
        except TimeoutError:
            raise Rejection(408, "body_timeout", f"the body did not arrive within {config.body_timeout_s:g} s") from None
        return b"".join(chunks)

    def check_frame(frame: wire.Frame) -> None:
        if frame.kind != "request":
            raise Rejection(400, "frame_kind", "expected a request frame")
        if frame.scheme != served.name:
            raise Rejection(400, "scheme_mismatch", f"this server serves {served.name}, the frame is for {frame.scheme}")
        if frame.model_id != served.model_id or not hmac.compare_digest(frame.model_hash, served.model_hash):
            raise Rejection(409, "model_mismatch",
                            f"the frame is for model {frame.model_id} #{frame.model_hash.hex()}, this server runs "
                            f"{served.model_id} #{served.model_hash.hex()}")

    @app.post("/v1/infer")
    async def infer(request: Request):
        start, status = time.perf_counter(), 500
        metrics.add(in_flight=1)
        try:
            if not authorized(request):
                raise Rejection(401, "auth", "missing or wrong bearer token")
            if state.draining:
                raise Rejection(503, "draining", "the server is shutting down; retry later")
            body = await read_body(request)
            metrics.add(bytes_in=len(body))
            try:
                frame = wire.unpack(body, config.max_body_bytes - wire.HEADER.size)
            except wire.WireError as exc:
                raise Rejection(400, f"frame_{exc.field}", str(exc)) from None
            check_frame(frame)
            digest = hashlib.sha256(body).digest()
            future = state.cache.lookup(frame.key, digest)
            replay = future is not None
            if future is None:
                payload = Payload(data=frame.body, dtype=frame.dtype, shape=frame.shape, snr_db=frame.snr_db)
                future = batcher.submit(payload)
                state.cache.add(frame.key, digest, future)
            try:
                out: Output = await asyncio.wait_for(asyncio.shield(future), config.request_timeout_s)
            except TimeoutError:
                raise Rejection(504, "timeout", f"no answer within {config.request_timeout_s:g} s; retry with the "
                                                "same idempotency key to collect it") from None
            except SemcomError as exc:
                raise Rejection(422, "bad_payload", str(exc)) from None
            except Exception as exc:  # noqa: BLE001
                state.cache.forget(frame.key, future)
                raise Rejection(500, "internal", f"the server part failed: {type(exc).__name__}") from None
            answer = wire.pack(wire.Frame(kind="response", scheme=served.name, dtype="float32", shape=out.shape,
                                          snr_db=frame.snr_db, model_id=served.model_id, model_hash=served.model_hash,
                                          key=frame.key, body=out.body))
            metrics.add(bytes_out=len(answer), replays=int(replay))
            status = 200
            return Response(answer, media_type=wire.CONTENT_TYPE,
                            headers={"X-Semcom-Batch-Size": str(out.batch), "X-Semcom-Replay": str(int(replay)),
                                     "X-Semcom-Instance": instance})
        except Rejection as r:
            status = r.status
            return refusal(r)
        finally:
            metrics.add(in_flight=-1)
            metrics.request(status, time.perf_counter() - start)

    @app.get("/health/live")
    async def live():
        return {"status": "live"}

    @app.get("/health/ready")
    async def ready():
        if state.ready and not state.draining:
            return {"status": "ready", "scheme": served.name, "model_id": served.model_id,
                    "model_hash": served.model_hash.hex(), "instance": instance}
        return JSONResponse({"status": "draining" if state.draining else "starting"}, status_code=503)

    @app.get("/metrics")
    async def metrics_text(request: Request):
        if not authorized(request):
            return refusal(Rejection(401, "auth", "missing or wrong bearer token"))
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


# ---- running it ---------------------------------------------------------------------------------------------------

def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: an ephemeral port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on such sockets; without it each response's body waited
    # for the client's delayed ACK of its headers (~40 ms per request on loopback)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SemcomError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_server(app, config: ServeConfig, log_level: str = "warning"):
    """A uvicorn server for ``app`` whose shutdown first marks the service as draining (503 to new requests and to
    readiness), then lets requests in flight finish for up to ``config.drain_timeout_s``."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            app.state.semcom.drain()
            super().handle_exit(sig, frame)

    return Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=config.drain_timeout_s,
                                 timeout_keep_alive=5, access_log=False, lifespan="on"))


def run_server(served: Served, config: ServeConfig, host: str = "127.0.0.1", port: int = 8000,
               log_level: str = "info", on_ready=None) -> None:
    """Serve until SIGTERM/SIGINT, then drain (blocking). ``on_ready(url)`` is called once the socket listens."""
    sock = bind(host, port)
    server = uvicorn_server(create_app(served, config), config, log_level)
    if on_ready:
        on_ready(f"http://{host}:{sock.getsockname()[1]}")
    server.run(sockets=[sock])


class ServerThread:
    """The server in a background thread of this process (tests, benchmarks): ``start()`` returns the base URL once
    it is ready; ``stop()`` drains as SIGTERM would and waits (bounded)."""

    def __init__(self, served: Served, config: ServeConfig, host: str = "127.0.0.1", port: int = 0):
        self.app = create_app(served, config)
        self.config, self.host, self.port = config, host, port
        self.server, self.thread, self.url = None, None, None

    @property
    def state(self) -> ServiceState:
        return self.app.state.semcom

    def start(self, timeout_s: float = 30.0) -> str:
        sock = bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        self.server = uvicorn_server(self.app, self.config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True,
                                       name=f"semcom-serve-{self.port}")
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not (self.server.started and self.state.ready):
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.stop()
                raise SemcomError(f"the server on port {self.port} did not start within {timeout_s:g} s")
            time.sleep(0.01)
        self.url = f"http://{self.host}:{self.port}"
        return self.url

    def stop(self, timeout_s: float | None = None) -> None:
        if self.server is None:
            return
        self.server.handle_exit(signal.SIGTERM, None)  # what SIGTERM does: drain, let requests in flight finish, exit
        self.thread.join(timeout_s if timeout_s is not None else self.config.drain_timeout_s + 10)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(5)
        self.server = None

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
