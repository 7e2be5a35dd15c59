"""Load test of ``semcom serve`` on loopback, in the spirit of perf_analyzer: throughput and p50/p95/p99 latency at
1, 8 and 32 concurrent clients, with dynamic batching (``--max-batch``, ``--max-queue-delay-ms``) and without
(``--max-batch 1``). Writes ``benchmarks/results/serve_load.json`` (rows + the command and configuration).

The server runs in its own process, started through the real command (``semcom serve``, token in SEMCOM_TOKEN) and
stopped with SIGTERM (graceful drain). The device part and the channel run once, before timing (payloads of CIFAR-like
32x32 images at ``--snr``); during a cell each of ``concurrency`` keep-alive connections (one asyncio thread, raw
HTTP/1.1, so the load generator's own cost stays small next to the server's) sends those payloads as fresh request
frames (new idempotency key each) back to back. Every loop is bounded: a cell stops after ``--seconds`` or ``--max-requests``,
whichever comes first, and the whole run refuses to start when its planned time exceeds ``--budget-s``.

    .venv/bin/python benchmarks/serve_load.py                         # splitnn, 3 s per cell, ~40 s
    .venv/bin/python benchmarks/serve_load.py --scheme jscc --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def start_server(scheme: str, token: str, max_batch: int, delay_ms: float, threads: int, timeout_s: float = 120):
    """``semcom serve`` in a child process on a free port; (process, url)."""
    env = {**os.environ, "SEMCOM_TOKEN": token}
    command = [sys.executable, "-c", "from semcom.cli import entry; entry()", "serve", "--scheme", scheme, "--port", "0",
               "--max-batch", str(max_batch), "--max-queue-delay-ms", str(delay_ms), "--threads", str(threads)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    found: dict = {}

    def watch():
        for line in process.stderr:
            if " on http://" in line and "url" not in found:
                found["url"] = line.split(" on ")[1].split(";")[0].strip()

    threading.Thread(target=watch, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while "url" not in found:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the server did not start (exit {process.poll()})")
        time.sleep(0.05)
    return process, found["url"]


def stop_server(process, timeout_s: float = 30) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def scrape(url: str, token: str) -> dict:
    import httpx

    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def _connection(host: str, port: int, token: str, frames, stop_at: float, budget: list, latencies: list,
                      errors: list) -> None:
    """One keep-alive HTTP/1.1 connection sending frames back to back (a raw client: a Python HTTP library's per-request
    cost on 2 cores would be measured instead of the server's)."""
    import asyncio

    reader, writer = await asyncio.open_connection(host, port)
    head = f"POST /v1/infer HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n" \
           "Content-Type: application/x-semcom-frame\r\n"
    try:
        while time.monotonic() < stop_at and budget[0] > 0:
            budget[0] -= 1
            frame = next(frames)
            start = time.perf_counter()
            writer.write(f"{head}Content-Length: {len(frame)}\r\n\r\n".encode() + frame)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if status_line.split()[1:2] == [b"200"]:
                latencies.append(time.perf_counter() - start)
            else:
                errors[0] += 1
    except (OSError, asyncio.IncompleteReadError):
        errors[0] += 1
    finally:
        writer.close()


def run_cell(url: str, token: str, client, payloads, concurrency: int, seconds: float, max_requests: int) -> dict:
    """``concurrency`` connections sending back to back until the cell ends; latency of every answered request."""
    import asyncio
    import itertools

    host, port = url.removeprefix("http://").rsplit(":", 1)
    frames = (client.frame(p) for p in itertools.cycle(payloads))  # a fresh idempotency key for every request
    latencies: list[float] = []
    errors, budget = [0], [max_requests]

    async def cell():
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*(_connection(host, int(port), token, frames, stop_at, budget, latencies, errors)
                               for _ in range(concurrency)))

    before = scrape(url, token)
    start = time.perf_counter()
    asyncio.run(asyncio.wait_for(cell(), seconds + 60))
    wall = time.perf_counter() - start
    after = scrape(url, token)
    batches = after.get("semcom_batch_size_count", 0) - before.get("semcom_batch_size_count", 0)
    items = after.get("semcom_batch_size_sum", 0) - before.get("semcom_batch_size_sum", 0)
    ms = [1000 * v for v in latencies]
    return {"concurrency": concurrency, "requests": len(latencies), "errors": errors[0], "seconds": round(wall, 3),
            "throughput_rps": round(len(latencies) / wall, 2), "p50_ms": _round(percentile(ms, 50)),
            "p95_ms": _round(percentile(ms, 95)), "p99_ms": _round(percentile(ms, 99)),
            "mean_batch_size": round(items / batches, 2) if batches else None}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scheme", default="splitnn", choices=["splitnn", "attention-ci", "jscc"])
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=3.0, help="per cell")
    parser.add_argument("--max-requests", type=int, default=20000, help="per cell")
    parser.add_argument("--max-batch", type=int, default=32, help="with batching")
    parser.add_argument("--max-queue-delay-ms", type=float, default=5.0, help="with batching")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the server")
    parser.add_argument("--snr", type=float, default=7.0)
    parser.add_argument("--images", type=int, default=64, help="distinct payloads, cycled")
    parser.add_argument("--budget-s", type=float, default=300.0, help="refuse to run longer than this (estimate)")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve_load.json")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    planned = 2 * (len(levels) * args.seconds + 20)  # cells + a server start per mode
    if planned > args.budget_s:
        raise SystemExit(f"planned ~{planned:.0f} s exceeds --budget-s {args.budget_s:g}")

    import torch

    from semcom.serve.client import OffloadClient
    from semcom.serve.models import build_served

    torch.set_num_threads(1)
    served = build_served(args.scheme)
    g = torch.Generator().manual_seed(0)
    size = (32, 32) if args.scheme != "jscc" else (64, 64)
    low = torch.rand(args.images, 3, 4, 4, generator=g)
    images = torch.nn.functional.interpolate(low, size=size, mode="bilinear").clamp(0, 1)
    payloads = []
    for i, x in enumerate(images):
        gen = torch.Generator().manual_seed(i)
        p = served.scheme.channel_part(served.scheme.device_part(x, args.snr, gen), args.snr, gen)
        if p.data is not None and p.ok:
            payloads.append(p)
    if not payloads:
        raise SystemExit("no payload to send (the device answered every image itself)")
    token = secrets.token_urlsafe(32)
    client = OffloadClient("http://unused", served)
    rows, started = [], time.perf_counter()
    for batching in (False, True):
        max_batch, delay = (args.max_batch, args.max_queue_delay_ms) if batching else (1, 0.0)
        process, url = start_server(args.scheme, token, max_batch, delay, args.threads)
        try:
            for level in levels:
                row = {"scheme": args.scheme, "model_id": served.model_id, "batching": batching, "max_batch": max_batch,
                       "max_queue_delay_ms": delay, **run_cell(url, token, client, payloads, level, args.seconds,
                                                                 args.max_requests)}
                rows.append(row)
                print(json.dumps(row), flush=True)
        finally:
            stop_server(process)
    result = {"command": "python benchmarks/serve_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "cpus": os.cpu_count(), "server_threads": args.threads, "payload_bytes": len(payloads[0].data),
              "wall_s": round(time.perf_counter() - started, 1), "rows": rows}
    for level in levels:
        pair = {r["batching"]: r["throughput_rps"] for r in rows if r["concurrency"] == level}
        if pair.get(False):
            result.setdefault("batching_speedup", {})[str(level)] = round(pair[True] / pair[False], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} ({result['wall_s']} s); batching speed-up by concurrency: {result.get('batching_speedup')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
