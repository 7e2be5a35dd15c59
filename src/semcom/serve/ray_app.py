"""Scale-out: the same server app as a Ray Serve deployment, ``num_replicas`` copies behind Ray's HTTP proxy.

Each replica builds the served scheme and ``server.create_app`` (the very app ``semcom serve`` runs: same routes, auth,
limits, metrics, its own dynamic batcher; Ray runs its lifespan, so a replica drains its queue when it stops). Ray's
proxy spreads requests over the replicas; a client talks to it exactly as to one server. The token is read on each
replica, from ``token_file`` or the ``SEMCOM_TOKEN`` environment variable (never passed as a deployment argument, so
it does not land in Ray's metadata). Needs ``ray[serve]`` (not a dependency of semcom: ``pip install "ray[serve]"``).

    semcom serve --scheme splitnn --ray-replicas 2 --port 8000 --token-file token.txt
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

from semcom.errors import SemcomError
from semcom.serve.server import ServeConfig

RAY_MISSING = 'Ray Serve is not installed: pip install "ray[serve]"'


def ray_application(scheme: str, options: dict | None = None, config: ServeConfig | None = None,
                    num_replicas: int = 2, token_file: str | Path | None = None):
    """The Ray Serve application (bound deployment) serving ``scheme`` with ``num_replicas`` replicas; ``config``
    without its token (each replica reads it itself unless ``config.auth`` is False)."""
    try:
        from ray import serve
    except ImportError:
        raise SemcomError(RAY_MISSING) from None
    if num_replicas < 1:
        raise SemcomError(f"num_replicas must be >= 1, got {num_replicas}")
    config = config or ServeConfig(auth=False)
    fields = {**asdict(config), "token": None}

    @serve.deployment(num_replicas=num_replicas, max_ongoing_requests=max(64, 4 * config.max_batch),
                      graceful_shutdown_timeout_s=config.drain_timeout_s, ray_actor_options={"num_cpus": 0.5})
    @serve.ingress()
    class SemcomServe:
        def __init__(self, scheme: str, options: dict, fields: dict, token_file: str | None):
            from semcom.seeding import fast_cpu_math
            from semcom.serve.models import build_served
            from semcom.serve.server import create_app, load_token

            fast_cpu_math(int(os.environ.get("SEMCOM_THREADS", "1")))
            if fields["auth"]:
                fields = {**fields, "token": load_token(Path(token_file) if token_file else None)}
            self.asgi = create_app(build_served(scheme, **options), ServeConfig(**fields))

        def __serve_build_asgi_app__(self):
            return self.asgi

    return SemcomServe.bind(scheme, dict(options or {}), fields, str(token_file) if token_file else None)


def run_ray(scheme: str, options: dict, config: ServeConfig, num_replicas: int, host: str = "127.0.0.1",
            port: int = 8000, token_file: str | Path | None = None, num_cpus: int | None = None, on_ready=None) -> None:
    """Start a local Ray instance and Serve on ``host``:``port``, deploy, and block until SIGTERM/SIGINT; then shut
    Serve down (replicas drain) and Ray."""
    import signal
    import threading

    try:
        import ray
        from ray import serve
    except ImportError:
        raise SemcomError(RAY_MISSING) from None
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local instance on this machine only
    app = ray_application(scheme, options, config, num_replicas, token_file)
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    stop = threading.Event()
    try:
        serve.start(http_options={"host": host, "port": port})
        serve.run(app, name="semcom", route_prefix="/")
        if on_ready:
            on_ready(f"http://{host}:{port}")
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        serve.shutdown()
        ray.shutdown()
