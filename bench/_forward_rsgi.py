"""The RSGI application bench/forward_floor.py serves with `--interface rsgi`: the same work as
bench/_forward_app.py (read, optionally parse and spend FORWARD_WORK_US of Python CPU, post the
body unchanged to VictoriaMetrics' JSON-lines import), but called by granian on its event loop
and posting over asyncio streams, a pool of kept-alive connections, instead of from a thread
over a blocking socket. Not a benchmark itself (`make bench` skips `_*.py`)."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import urlsplit

from _forward_app import work

URL = urlsplit(os.environ["FORWARD_VM_URL"])
HEAD = (f"POST /api/v1/import HTTP/1.1\r\nHost: {URL.hostname}:{URL.port}\r\n"
        "Content-Type: application/stream+json\r\nContent-Length: ").encode()
IDLE: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []


async def post(body: bytes) -> int:
    """VictoriaMetrics' status for the body, over an idle connection or a new one."""
    reader, writer = IDLE.pop() if IDLE else await asyncio.open_connection(URL.hostname, URL.port)
    writer.write(HEAD + str(len(body)).encode() + b"\r\n\r\n" + body)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    IDLE.append((reader, writer))
    return int(head[9:12])


async def app(scope: Any, proto: Any) -> None:
    body = await proto()
    work(body)
    status = await post(body)
    proto.response_empty(204 if status == 204 else 502, [])
