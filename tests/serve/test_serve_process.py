"""``semcom serve`` as its own process: it starts, answers, and on SIGTERM finishes the request in flight before it
exits (~8 s: a fresh interpreter loads torch and the model)."""

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import torch

from semcom.serve.client import OffloadClient
from serve_support import TOKEN, jscc  # noqa: F401 (fixture)


def test_sigterm_drains_the_request_in_flight(jscc):
    command = [sys.executable, "-c", "from semcom.cli import entry; entry()", "serve", "--scheme", "jscc", "--port",
               "0", "--max-queue-delay-ms", "1500", "--max-batch", "4"]
    process = subprocess.Popen(command, env={**os.environ, "SEMCOM_TOKEN": TOKEN}, stderr=subprocess.PIPE, text=True)
    try:
        url, deadline = None, time.monotonic() + 90
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if " on http://" in line:
                url = line.split(" on ")[1].split(";")[0].strip()
        assert url, "the server did not start"
        x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
        answers = []
        with OffloadClient(url, jscc, TOKEN, retries=0) as client:
            # 10 dB: the side block of the JSCC's power scale is lost with predicted probability ~1e-11 (a lost one is
            # never sent to the server)
            sender = threading.Thread(target=lambda: answers.append(client.offload(x, 10.0, True, torch.Generator())))
            sender.start()
            headers = {"Authorization": f"Bearer {TOKEN}"}
            deadline = time.monotonic() + 30
            while "semcom_in_flight 1" not in httpx.get(f"{url}/metrics", headers=headers).text:  # metrics: not counted
                assert time.monotonic() < deadline
                time.sleep(0.02)
            process.send_signal(signal.SIGTERM)  # the request waits 1.5 s for company: it must still be answered
            sender.join(30)
        assert len(answers) == 1 and answers[0].x_hat.shape == x.shape
        process.wait(30)
        log = process.stderr.read()
        assert "Shutting down" in log and "Application shutdown complete" in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
