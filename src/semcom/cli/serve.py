"""``semcom serve`` (the server half of a scheme behind HTTP) and ``semcom offload`` (the device half: images through
the device part and a simulated channel, then to the server)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

from semcom.cli.common import CHANNEL_HELP, Column, app, check_channel, console, integer, out_console, parse_cbr, \
    parse_snrs, refuse_inapplicable, render
from semcom.errors import SemcomError

SERVED_HELP = "splitnn | attention-ci | jscc"
TOKEN_HELP = ("File whose first line is the bearer token (else the SEMCOM_TOKEN environment variable; never on the "
              "command line).")
OFFLOAD_COLUMNS = [
    Column("image", lambda r: r["image"], key=True), Column("answer", lambda r: r["answer"], key=True),
    Column("channel uses", integer("channel_uses")), Column("ok", lambda r: "yes" if r["ok"] else "no"),
    Column("ms", integer("ms")),
]


def scheme_options(scheme: str, checkpoint: Path | None, cbr: str | None, variant: str | None = None) -> dict:
    from semcom.experiments import registry
    from semcom.serve.models import SERVED

    if scheme not in SERVED:
        raise SemcomError(f"scheme {scheme!r} is not served; choose one of {', '.join(SERVED)}")
    if variant is not None:
        if scheme != "splitnn" or checkpoint is not None:
            raise SemcomError("--variant names a shipped splitnn codec: use it with --scheme splitnn, without --checkpoint")
        from semcom.schemes.splitnn.checkpoint import CHECKPOINT_DIR, shipped_checkpoint

        checkpoint = shipped_checkpoint(variant)
        if not checkpoint.is_file():
            names = sorted(p.stem for p in CHECKPOINT_DIR.glob("*.pt"))
            raise SemcomError(f"no shipped splitnn variant {variant!r}; choose one of {', '.join(names)}")
    options = {"checkpoint": checkpoint, "cbr": cbr}
    refuse_inapplicable(options, set(registry.get(scheme).options), f"--scheme {scheme}")
    return {**options, "cbr": parse_cbr(cbr) if cbr else None}


@app.command()
def serve(
    scheme: str = typer.Option(..., help=SERVED_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(8000, help="TCP port (0: any free port, printed)."),
    variant: Optional[str] = typer.Option(None, help="splitnn: a shipped codec by name (semcom models lists them), "
                                                     "e.g. semanticnn-c4b2."),
    checkpoint: Optional[Path] = typer.Option(None, help="splitnn: a codec checkpoint (default semanticnn-c8b3); jscc: "
                                                         "a JSCC checkpoint (default the shipped model for --cbr)."),
    cbr: Optional[str] = typer.Option(None, help="jscc: the channel bandwidth ratio (default 1/16)."),
    max_batch: int = typer.Option(8, help="Payloads run together at most."),
    max_queue_delay_ms: float = typer.Option(5.0, help="How long the oldest queued payload waits for company."),
    max_queue: int = typer.Option(256, help="Queued payloads before new requests get 503."),
    max_body_bytes: int = typer.Option(4 << 20, help="Largest request accepted (413 above)."),
    request_timeout_s: float = typer.Option(30.0, help="Arrival to answer (504 after)."),
    drain_timeout_s: float = typer.Option(30.0, help="On SIGTERM/SIGINT, how long requests in flight may finish."),
    token_file: Optional[Path] = typer.Option(None, help=TOKEN_HELP),
    no_auth: bool = typer.Option(False, "--no-auth", help="Accept requests without a token (loopback tests only)."),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads for the server part (default: torch's)."),
    ray_replicas: Optional[int] = typer.Option(None, help="Run N replicas as a Ray Serve deployment on a local Ray "
                                                          "instance instead (needs Ray with its serve extra)."),
):
    """Serve a scheme's server part over HTTP: POST /v1/infer (binary frames), /health/live, /health/ready, /metrics.

    Token authentication is on unless --no-auth: the token comes from --token-file or SEMCOM_TOKEN. Requests are
    batched dynamically (--max-batch, --max-queue-delay-ms). SIGTERM/SIGINT drains requests in flight, then exits."""
    from semcom.serve.models import build_served
    from semcom.serve.server import ServeConfig, load_token, run_server

    if no_auth and token_file:
        raise SemcomError("--no-auth and --token-file contradict each other")
    token = None if no_auth else load_token(token_file)
    if threads:
        import torch

        torch.set_num_threads(threads)
    config = ServeConfig(max_batch=max_batch, max_queue_delay_ms=max_queue_delay_ms, max_queue=max_queue,
                         max_body_bytes=max_body_bytes, request_timeout_s=request_timeout_s,
                         drain_timeout_s=drain_timeout_s, auth=not no_auth, token=token)
    options = scheme_options(scheme, checkpoint, cbr, variant)
    if ray_replicas is not None:
        from semcom.serve.ray_app import run_ray

        if threads:
            os.environ["SEMCOM_THREADS"] = str(threads)
        return run_ray(scheme, options, config, ray_replicas, host, port, token_file, on_ready=lambda url: console.print(
            f"serving {scheme} with {ray_replicas} Ray Serve replicas on {url}", highlight=False))
    served = build_served(scheme, **options)

    def ready(url: str) -> None:
        console.print(f"serving {served.name} ({served.model_id} #{served.model_hash.hex()}) on {url}"
                      f"{'' if token else ' WITHOUT authentication'}; max batch {max_batch}, queue delay "
                      f"{max_queue_delay_ms:g} ms", highlight=False, soft_wrap=True)

    run_server(served, config, host, port, on_ready=ready)


@app.command()
def offload(
    source: Path = typer.Argument(..., help="An image file or a folder of images."),
    server: str = typer.Option(..., help="The server's base URL, e.g. http://127.0.0.1:8000."),
    scheme: str = typer.Option(..., help=SERVED_HELP),
    snr: str = typer.Option("10", help="SNR in dB of the simulated channel (and the one the decoder is told)."),
    channel: str = typer.Option("awgn", help=f"{CHANNEL_HELP} | none (the payload arrives as sent)."),
    variant: Optional[str] = typer.Option(None, help="splitnn: the same shipped codec the server runs."),
    checkpoint: Optional[Path] = typer.Option(None, help="The same checkpoint the server runs (splitnn, jscc)."),
    cbr: Optional[str] = typer.Option(None, help="jscc: the server's CBR (default 1/16)."),
    seed: int = typer.Option(0, help="Noise seed: image i draws as 'semcom eval' / semcom.evaluate do."),
    token_file: Optional[Path] = typer.Option(None, help=TOKEN_HELP),
    concurrency: int = typer.Option(1, help="Requests in flight at once."),
    retries: int = typer.Option(5, help="Further attempts per request after a connection error, timeout or 5xx."),
    timeout_s: float = typer.Option(30.0, help="Per attempt."),
    out: Optional[Path] = typer.Option(None, help="jscc: folder for the received images (PNG, one per input)."),
    as_json: bool = typer.Option(False, "--json", help="Print every row as JSON."),
):
    """Offload images to a 'semcom serve' server: the device part runs here, the payload crosses the simulated channel,
    the server answers with class scores (splitnn, attention-ci) or the reconstruction (jscc)."""
    from semcom.cli.transmit import class_name, fit_to
    from semcom.data import load_image, save_image
    from semcom.data.images import list_images
    from semcom.seeding import make_generator, noise_seed
    from semcom.serve.client import OffloadClient
    from semcom.serve.models import build_served
    from semcom.serve.server import load_token

    snrs = parse_snrs(snr)
    if len(snrs) != 1:
        raise SemcomError(f"offload sends at one SNR, got {snr!r}")
    snr_db = snrs[0]
    simulate = channel != "none"
    served = build_served(scheme, channel=check_channel(channel) if simulate else "awgn",
                          **scheme_options(scheme, checkpoint, cbr, variant))
    if out is not None and served.task != "image":
        raise SemcomError(f"--out does not apply to --scheme {scheme}: the server answers with class scores")
    paths = list_images(source) if source.is_dir() else [source]
    images = [load_image(p) for p in paths]
    if served.task == "classify":
        images = [fit_to(x, served.scheme.input_shape) for x in images]
    cbr_value = float(getattr(served.scheme, "cbr", 0.0) or 0.0)
    items = [(x, snr_db, make_generator(noise_seed(seed, i, snr_db, cbr_value))) for i, x in enumerate(images)]
    import time

    start = time.perf_counter()
    with OffloadClient(server, served, load_token(token_file), timeout_s=timeout_s, retries=retries) as client:
        sent = client.offload_many(items, channel=simulate, concurrency=concurrency)
    ms = 1000 * (time.perf_counter() - start) / max(1, len(items))
    rows = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for path, x, tx in zip(paths, images, sent):
        row = {"image": path.stem, "scheme": served.name, "model_id": served.model_id, "snr_db": snr_db,
               "channel": channel, "channel_uses": tx.channel_uses, "ok": tx.ok, "ms": ms, "seed": seed, **tx.details}
        if tx.x_hat is not None:
            from semcom.metrics import psnr_db

            row["psnr_db"] = float(psnr_db(x, tx.x_hat))
            row["answer"] = f"PSNR {row['psnr_db']:.2f} dB"
            if out is not None:
                save_image(tx.x_hat, out / f"{path.stem}.png")
                row["written_to"] = str(out / f"{path.stem}.png")
        else:
            name = class_name(tx.prediction, len(tx.logits))
            row.update(prediction=tx.prediction, class_name=name)
            row["answer"] = f"class {tx.prediction}" + (f" ({name})" if name else "")
        rows.append(row)
    if as_json:
        out_console.out(json.dumps(rows, indent=1, default=str), highlight=False)
    else:
        render(rows, OFFLOAD_COLUMNS, f"{served.name} via {server} at {snr_db:g} dB ({channel})")
