"""Pushing spooled batches to the server, oldest first, each at least once.

The protocol (the server side comes with the monitoring app's push API):

    POST <server>/api/monitoring/push/
    Authorization: Bearer <agent token>
    {"seq": 17, "sent_at": 1764000000.0, "columns": [[name, {labels}, [time, …], [value, …]], …]}

    200 {"stored_up_to": 17}   stored (or stored before: a re-sent batch is not stored twice)

The agent forgets batches up to `stored_up_to`. A timeout, a connection error, a 5xx or an answer
that is not JSON leaves the batch in the spool for the next round; a 4xx other than 429 means the
server will never take it (a malformed batch, a revoked token) and is reported rather than retried
as if the server were down.

`client` is the agent's own (opsdesk.agent.transport.Client); an httpx.Client works too (the
server's tests use one): anything with `post(url, json=…, headers=…)` answering `status_code`,
`text` and `json()`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opsdesk.agent.spool import Spool
from opsdesk.agent.transport import TransportError

PUSH_PATH = "/api/monitoring/push/"


@dataclass
class PushResult:
    sent: int = 0
    stored_up_to: int = 0
    error: str = ""
    refused: bool = False  # the server answered that it will never take the batch
    status: int = 0  # the HTTP status of the answer that stopped the round (0: none, or all sent)
    seq: int = 0  # the batch that stopped the round


def transport_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "no answer" for the clients push_pending accepts. httpx is only
    named when something else imported it: the agent itself never does."""
    errors: list[type[BaseException]] = [TransportError]
    httpx = sys.modules.get("httpx")
    if httpx is not None:
        errors.append(httpx.HTTPError)
    return tuple(errors)


def describe(exc: BaseException) -> str:
    """A short text for a request that got no answer ("Connection refused", "timed out")."""
    if isinstance(exc, TransportError):
        return exc.reason
    return f"{type(exc).__name__}: {exc}"


def push_pending(spool: Spool, client: Any, server: str, token: str, *, max_batches: int = 100,
                 stop: Callable[[], bool] | None = None) -> PushResult:
    """Send what the spool holds, in order, stopping at the first failure (order matters: the
    server de-duplicates by sequence number), after `max_batches`, or when `stop()` says so
    (checked between batches, so a batch being sent is finished)."""
    result = PushResult()
    url = server.rstrip("/") + PUSH_PATH
    no_answer = transport_errors()
    for count, (seq, batch) in enumerate(spool.pending()):
        if count >= max_batches or (stop is not None and stop()):
            break
        try:
            response = client.post(url, json={**batch, "seq": seq, "sent_at": time.time()},
                                   headers={"Authorization": f"Bearer {token}"})
        except no_answer as exc:
            result.error, result.seq = describe(exc), seq
            break
        if response.status_code == 200:
            try:
                stored = int(response.json().get("stored_up_to", seq))
            except (ValueError, TypeError, AttributeError):
                result.error, result.status, result.seq = "HTTP 200 without a JSON answer", 200, seq
                break
            spool.ack(stored)
            result.sent += 1
            result.stored_up_to = stored
            continue
        result.error = f"HTTP {response.status_code}: {response.text[:200]}"
        if 300 <= response.status_code < 400:  # not followed: a POST must not turn into a GET
            result.error = f"HTTP {response.status_code}: redirected to {response.headers.get('Location', '?')}"
        result.status, result.seq = response.status_code, seq
        result.refused = 400 <= response.status_code < 500 and response.status_code != 429
        break
    return result
