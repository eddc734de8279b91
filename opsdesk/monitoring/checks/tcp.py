"""tcp: connect to host:port, optionally send a string and expect a substring in the answer.

Samples: tcp_connect_seconds, and tcp_response_seconds (connect + send + expected answer) when
`expect` is set.
Thresholds: `warning` / `critical` on the connect time in milliseconds (above).
"""

from __future__ import annotations

import asyncio
import time

from .base import (
    CheckResult,
    CheckSpec,
    CheckType,
    Outcome,
    boolean,
    failure,
    gettext_noop,
    integer,
    number,
    param,
    schema,
    string,
)
from .http import tls_context

SCHEMA = schema({
    "port": integer(gettext_noop("Port"), None, 1, 65535),
    "send": string(gettext_noop("Text to send"), ""),
    "expect": string(gettext_noop("Expect in the answer"), ""),
    "tls": boolean(gettext_noop("Use TLS"), False),
    "warning": number(gettext_noop("Warning above (ms, connect time)"), None, 0),
    "critical": number(gettext_noop("Critical above (ms, connect time)"), None, 0),
}, required=["port"])

READ_LIMIT = 65536  # enough to find a banner or a protocol greeting


def _unescape(text: str) -> bytes:
    return text.replace("\\r", "\r").replace("\\n", "\n").encode()


async def run(spec: CheckSpec, memo: dict) -> CheckResult:
    port = param(spec, "port", SCHEMA)
    send, expect = param(spec, "send", SCHEMA), param(spec, "expect", SCHEMA)
    # The tcp check answers "does it accept connections"; certificates are the http check's business.
    tls = tls_context(verify=False) if param(spec, "tls", SCHEMA) else None
    outcome = Outcome()
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(spec.target, port, ssl=tls),
                                                spec.timeout)
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what=f"{spec.target}:{port}")
    connected = time.perf_counter() - started
    outcome.sample("tcp_connect_seconds", connected)
    try:
        if send:
            writer.write(_unescape(send))
            await writer.drain()
        if expect:
            found = await asyncio.wait_for(_read_until(reader, expect.encode()), spec.timeout - connected)
            outcome.sample("tcp_response_seconds", time.perf_counter() - started)
            if not found:
                outcome.problem("critical", "body_mismatch", f"the answer does not contain {expect!r}",
                                expect=expect)
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what=f"{spec.target}:{port}")
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1)
        except Exception:  # closing is best effort: the answer was already judged
            pass
    outcome.threshold(connected * 1000, param(spec, "warning", SCHEMA), param(spec, "critical", SCHEMA),
                      what="connect time", unit=" ms")
    return outcome.result(f"connected to {spec.target}:{port} in {connected * 1000:.1f} ms",
                          ms=round(connected * 1000, 1))


async def _read_until(reader: asyncio.StreamReader, expect: bytes) -> bool:
    """Reads until `expect` appears, the peer closes, or READ_LIMIT bytes came without it."""
    seen = b""
    while len(seen) < READ_LIMIT:
        chunk = await reader.read(4096)
        if not chunk:
            return expect in seen
        seen += chunk
        if expect in seen:
            return True
    return False


CHECK = CheckType(name="tcp", label=gettext_noop("TCP port"), run=run, params_schema=SCHEMA,
                  default_interval=60.0, needs_secrets=())
