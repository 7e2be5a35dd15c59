"""Served answers equal the schemes' in-process ``transmit`` for the same inputs and seeds; a server restart in the
middle of a stream loses and duplicates nothing; the model hash is checked end to end."""

import threading
import time
from dataclasses import replace

import pytest
import torch

from semcom.serve.client import OffloadClient, ServerError
from serve_support import TOKEN, attention_ci, jscc, splitnn, start_server  # noqa: F401 (fixtures)

SNR = 4.0


def images(n, size=(32, 32), seed=0):
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 4, 4, generator=g)
    return list(torch.nn.functional.interpolate(low, size=size, mode="bilinear").clamp(0, 1))


def gen(i):
    return torch.Generator().manual_seed(100 + i)


def same(a, b, exact=True):
    assert (a.channel_uses, a.ok, a.details) == (b.channel_uses, b.ok, b.details)
    if a.logits is not None:
        assert (torch.equal(a.logits, b.logits) if exact else torch.allclose(a.logits, b.logits, atol=1e-5))
        assert a.prediction == b.prediction
    else:
        assert torch.equal(a.x_hat, b.x_hat) if exact else torch.allclose(a.x_hat, b.x_hat, atol=1e-5)


def test_splitnn_served_equals_in_process(splitnn, start_server):
    server = start_server(splitnn, max_batch=8, max_queue_delay_ms=30)
    xs = images(8)
    with OffloadClient(server.url, splitnn, TOKEN) as client:
        for i, x in enumerate(xs[:3]):  # one at a time: batch size 1, bit-identical
            same(client.offload(x, SNR, True, gen(i)), splitnn.scheme.transmit(x, SNR, gen(i)))
        batched = client.offload_many([(x, SNR, gen(i)) for i, x in enumerate(xs)], concurrency=8)
    for i, (x, tx) in enumerate(zip(xs, batched)):  # run in batches: equal to float rounding, same class
        same(tx, splitnn.scheme.transmit(x, SNR, gen(i)), exact=False)
    assert server.state.metrics.batch_size.count < 3 + len(xs)  # the 8 concurrent ones ran in fewer than 8 batches


def test_attention_ci_served_equals_in_process(attention_ci, start_server):
    server = start_server(attention_ci)
    xs = images(4, seed=1)
    with OffloadClient(server.url, attention_ci, TOKEN) as client:
        served = [client.offload(x, 10.0, True, gen(i)) for i, x in enumerate(xs)]
    for i, (x, tx) in enumerate(zip(xs, served)):
        same(tx, attention_ci.scheme.transmit(x, 10.0, gen(i)))
    asked = sum(tx.details["offloaded"] for tx in served)
    assert server.state.metrics.items == sum(tx.details["answered_by"] == "server" for tx in served) <= asked


def test_jscc_served_equals_the_transmitter(jscc, start_server):
    server = start_server(jscc, max_batch=4, max_queue_delay_ms=30)
    xs = images(2, (48, 64), seed=2) + images(2, (32, 32), seed=3)  # two sizes: decoded in separate groups
    with OffloadClient(server.url, jscc, TOKEN) as client:
        served = client.offload_many([(x, SNR, gen(i)) for i, x in enumerate(xs)], concurrency=4)
        clean = client.offload(xs[0], SNR, channel=False)
    for i, (x, tx) in enumerate(zip(xs, served)):
        same(tx, jscc.scheme.transmitter.transmit(x, SNR, gen(i)), exact=False)
    assert clean.channel_uses == served[0].channel_uses and not torch.equal(clean.x_hat, served[0].x_hat)


def test_a_model_hash_mismatch_is_refused_without_retries(splitnn, start_server):
    server = start_server(splitnn)
    other = replace(splitnn, model_hash=bytes(8))
    with OffloadClient(server.url, other, TOKEN, retries=3) as client:
        with pytest.raises(ServerError, match="model_mismatch") as info:
            client.offload(images(1)[0], SNR, True, gen(0))
        assert info.value.status == 409 and client.attempts == 1
    assert server.state.metrics.items == 0


def test_a_server_restart_mid_stream_loses_and_duplicates_nothing(splitnn, start_server):
    first = start_server(splitnn, max_batch=2, max_queue_delay_ms=5)
    xs = images(12, seed=4)
    results = {}
    with OffloadClient(first.url, splitnn, TOKEN, retries=30, backoff_s=0.02, max_backoff_s=0.2, deadline_s=30,
                       seed=0) as client:
        def run():
            results["tx"] = client.offload_many([(x, SNR, gen(i)) for i, x in enumerate(xs)], concurrency=3)

        worker = threading.Thread(target=run)
        worker.start()
        deadline = time.monotonic() + 20
        while first.state.metrics.items < 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        first.stop(timeout_s=10)  # drains what it holds; the rest find no server and retry
        second = start_server(splitnn, port=first.port, max_batch=2, max_queue_delay_ms=5)
        worker.join(30)
        assert not worker.is_alive()
    served = results["tx"]
    assert len(served) == len(xs)
    for i, (x, tx) in enumerate(zip(xs, served)):
        same(tx, splitnn.scheme.transmit(x, SNR, gen(i)), exact=False)
    done_first, done_second = first.state.metrics.items, second.state.metrics.items
    assert done_first >= 4 and done_second >= 1 and done_first + done_second == len(xs)  # each ran exactly once


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_hybrid_jscc_served_equals_in_process_bit_for_bit(channel, tmp_path, start_server):
    from semcom.jscc.hybrid import HybridConfig, HybridJSCC
    from semcom.serve.models import HybridSplit, build_served
    from semcom.training.checkpoint import atomic_save

    torch.manual_seed(0)
    model = HybridJSCC(HybridConfig(width=8, blocks=1))
    for p in model.parameters():  # a non-trivial model: the zero-initialised conv tails too
        p.data.add_(0.01 * torch.randn_like(p))
    atomic_save({"model_config": model.cfg.to_dict(), "state_dict": model.state_dict()}, tmp_path / "hybrid.pt")
    served = build_served("jscc", channel=channel, checkpoint=str(tmp_path / "hybrid.pt"))
    assert isinstance(served.scheme, HybridSplit)
    server = start_server(served)
    xs = images(2, (48, 64), seed=4) + images(1, (40, 36), seed=5)  # one off the 16-pixel grid
    with OffloadClient(server.url, served, TOKEN) as client:
        for i, x in enumerate(xs):
            tx = client.offload(x, SNR, True, gen(i))
            same(tx, served.scheme.transmitter.transmit(x, SNR, gen(i)))  # bit-identical, with the side scale and CSI


def test_adjscc_served_equals_the_transmitter(start_server):
    from semcom.jscc.transmitter import DEFAULT_CHECKPOINT
    from semcom.serve.models import JSCCSplit, build_served

    served = build_served("jscc", checkpoint=str(DEFAULT_CHECKPOINT))
    assert type(served.scheme) is JSCCSplit
    server = start_server(served)
    x = images(1, (48, 64), seed=6)[0]
    with OffloadClient(server.url, served, TOKEN) as client:
        same(client.offload(x, SNR, True, gen(0)), served.scheme.transmitter.transmit(x, SNR, gen(0)))


def test_served_jscc_without_a_checkpoint_is_the_general_model_at_every_snr():
    """Device and server must code with the same weights (the model id and hash name them), so the shipped pick by
    SNR is not served: the general model for the CBR, also where a specialist would be picked in process."""
    from pathlib import Path

    from semcom.serve.models import build_served

    served = build_served("jscc")
    transmitter = served.scheme.transmitter
    assert not transmitter.by_snr and transmitter.for_snr(13.0) is transmitter
    assert Path(transmitter.checkpoint).name == "hybrid-cbr16.pt"
