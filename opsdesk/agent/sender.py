"""Pushing spooled batches to the server, oldest first, each at least once.

The protocol (the server side comes with the monitoring app's push API):

    POST <server>/api/monitoring/push/
    Authorization: Bearer <agent token>
    {"seq": 17, "sent_at": 1764000000.0, "samples": [{"name": …, "labels": {…}, "value": …, "ts": …}]}

    200 {"stored_up_to": 17}   stored (or stored before: a re-sent batch is not stored twice)

The agent forgets batches up to `stored_up_to`. A timeout, a connection error or a 5xx leaves the
batch in the spool for the next round; a 4xx other than 429 means the server will never take it
(a malformed batch, a revoked token) and is reported rather than retried forever.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from opsdesk.agent.spool import Spool

PUSH_PATH = "/api/monitoring/push/"


@dataclass
class PushResult:
    sent: int = 0
    stored_up_to: int = 0
    error: str = ""
    refused: bool = False  # the server answered that it will never take the batch


def push_pending(spool: Spool, client: httpx.Client, server: str, token: str, *, max_batches: int = 100) -> PushResult:
    """Send what the spool holds, in order, stopping at the first failure (order matters: the
    server de-duplicates by sequence number)."""
    result = PushResult()
    url = server.rstrip("/") + PUSH_PATH
    for count, (seq, batch) in enumerate(spool.pending()):
        if count >= max_batches:
            break
        try:
            response = client.post(url, json={**batch, "seq": seq, "sent_at": time.time()},
                                   headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            break
        if response.status_code == 200:
            stored = int(response.json().get("stored_up_to", seq))
            spool.ack(stored)
            result.sent += 1
            result.stored_up_to = stored
            continue
        result.error = f"HTTP {response.status_code}: {response.text[:200]}"
        result.refused = 400 <= response.status_code < 500 and response.status_code != 429
        break
    return result
