"""The WSGI application bench/forward_floor.py serves with granian: the least a push that passes
through a Python web process on its way to VictoriaMetrics can cost. Not a benchmark itself
(`make bench` skips `_*.py`).

It reads the body, optionally parses it with orjson (FORWARD_PARSE=1) and spends FORWARD_WORK_US
microseconds of its thread's CPU in Python (holding the GIL, as a push's checks and encoding do),
then posts the body unchanged to VictoriaMetrics' JSON-lines import over opsdesk's kept-alive
socket (opsdesk/monitoring/store/import_post.py) and answers 204 once VictoriaMetrics has."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

import orjson

from opsdesk.monitoring.store.import_post import ImportPost

PARSE = os.environ.get("FORWARD_PARSE") == "1"
WORK_S = float(os.environ.get("FORWARD_WORK_US", "0")) / 1e6
# FORWARD_FORMAT=remote-write: the bodies are snappy-compressed remote-write requests
if os.environ.get("FORWARD_FORMAT") == "remote-write":
    POST = ImportPost(os.environ["FORWARD_VM_URL"], "/api/v1/write",
                      {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}, 30.0)
else:
    POST = ImportPost(os.environ["FORWARD_VM_URL"], "/api/v1/import", {"Content-Type": "application/stream+json"},
                      30.0)


def work(body: bytes) -> None:
    """What the case does with a body before forwarding it: parse it, spend WORK_S of CPU."""
    if PARSE:
        orjson.loads(b"[" + body.rstrip(b"\n").replace(b"\n", b",") + b"]")
    if WORK_S:
        until = time.thread_time() + WORK_S
        while time.thread_time() < until:
            pass


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    work(body)
    status, _answer = POST.post(body)
    start_response("204 No Content" if status == 204 else "502 Bad Gateway", [("Content-Length", "0")])
    return [b""]
