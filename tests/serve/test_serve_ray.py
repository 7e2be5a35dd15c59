"""The same app as a Ray Serve deployment with 2 replicas on a local Ray instance: served answers equal the in-process
ones and both replicas answer (slow: Ray starts its processes; skipped without ray[serve])."""

import re
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import torch

from semcom.serve.client import OffloadClient
from semcom.serve.server import ServeConfig
from serve_support import TOKEN, jscc  # noqa: F401 (fixture)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_ray_serve_replicas(jscc, monkeypatch):
    ray = pytest.importorskip("ray")
    serve = pytest.importorskip("ray.serve")
    from semcom.serve.ray_app import ray_application

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("SEMCOM_TOKEN", TOKEN)  # the local Ray workers inherit it; each replica reads it
    port = free_port()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(ray_application("jscc", {}, ServeConfig(token=TOKEN, max_batch=4, max_queue_delay_ms=10),
                                  num_replicas=2), name="semcom", route_prefix="/")
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/health/ready", timeout=10).json()["model_hash"] == jscc.model_hash.hex()
        assert httpx.post(f"{url}/v1/infer", content=b"x", timeout=10).status_code == 401
        g = torch.Generator().manual_seed(0)
        xs = [torch.rand(3, 32, 32, generator=g) for _ in range(24)]
        with OffloadClient(url, jscc, TOKEN) as client, ThreadPoolExecutor(8) as pool:
            served = list(pool.map(lambda i: client.offload(xs[i], 7.0, True, torch.Generator().manual_seed(i)),
                                   range(len(xs))))
        for i, (x, tx) in enumerate(zip(xs, served)):
            want = jscc.scheme.transmitter.transmit(x, 7.0, torch.Generator().manual_seed(i))
            assert torch.allclose(tx.x_hat, want.x_hat, atol=1e-5) and tx.channel_uses == want.channel_uses
        replicas = serve.status().applications["semcom"].deployments["SemcomServe"].replica_states
        assert replicas.get("RUNNING") == 2
        # every replica keeps its own metrics; Ray routes each scrape to one of them: scrape until both were seen
        items, headers = {}, {"Authorization": f"Bearer {TOKEN}"}
        for _ in range(60):
            text = httpx.get(f"{url}/metrics", headers=headers, timeout=10).text
            instance = re.search(r'instance="(\w+)"', text).group(1)
            items[instance] = float(re.search(r"^semcom_items_total (\S+)$", text, re.M).group(1))
            if len(items) == 2:
                break
        assert len(items) == 2 and sum(items.values()) == len(xs)
    finally:
        serve.shutdown()
        ray.shutdown()
