"""semcom serve: the edge<->server deployment of split inference, attention-aware offloading and JSCC.

``wire`` (the binary frame format), ``models`` (which schemes are served, their weights hash), ``server`` (FastAPI
app, dynamic batching, metrics, uvicorn runner), ``client`` (device side: the scheme's device part, a simulated
channel, retries with idempotency keys). The device and server halves are the schemes' own ``device_part`` /
``channel_part`` / ``server_part``, the same calls their in-process ``transmit`` makes.
"""
