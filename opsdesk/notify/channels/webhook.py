"""Generic webhook: the messages as JSON, POSTed to a URL, signed when a secret is set.

The body is `{"messages": [{"title", "text", "severity", "url", "fields"}, …], "omitted": N}`
(N messages named but left out to keep the body under 20 KB). With a secret, two headers come:

    X-Opsdesk-Timestamp: 1718000000            (seconds since the epoch)
    X-Opsdesk-Signature: sha256=<hex>          (HMAC-SHA256, key = the secret, over "{timestamp}.{body}")

To verify, the receiver recomputes the HMAC over the timestamp header, a dot and the raw body bytes
as received (before parsing any JSON), compares it with `hmac.compare_digest`, and refuses a
timestamp more than 5 minutes from its own clock (a replayed request):

    expected = hmac.new(secret.encode(), f"{ts}.".encode() + raw_body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(f"sha256={expected}", signature) and abs(time.time() - int(ts)) <= 300

Each message carries its notification's `key` when the sender knows it, and the request names
them in headers, so a receiver can drop the copy an at-least-once retry brings:

    X-Opsdesk-Delivery: <key>[,<key>…]        (the keys of the messages in this body, in order)
    Idempotency-Key: <key>                    (one message; a digest: "digest-" + sha256 of the keys)

A 2xx answer is success; 429 (with Retry-After, else 60 s) asks us to wait.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import asdict

import httpx

from .base import (
    ChannelType,
    Message,
    SendResult,
    fingerprint,
    fit,
    gettext_noop,
    post,
    retry_after_header,
    schema,
    string,
)

RETRY_AFTER = 60.0


SCHEMA = schema({
    "url": string(gettext_noop("Webhook address"), format="uri"),
    "secret": string(gettext_noop("Signing secret"), ""),
}, required=["url"])


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def build(messages: Sequence[Message], omitted: int) -> dict:
    return {"messages": [{k: v for k, v in asdict(m).items() if k != "url_label" and (k != "key" or v)}
                         for m in messages],
            "omitted": omitted}


def delivery_headers(messages: Sequence[Message]) -> dict[str, str]:
    keys = [m.key for m in messages if m.key]
    if not keys:
        return {}
    single = keys[0] if len(keys) == 1 else "digest-" + hashlib.sha256(",".join(keys).encode()).hexdigest()[:32]
    return {"X-Opsdesk-Delivery": ",".join(keys), "Idempotency-Key": single}


def send(config: dict, messages: list[Message], *, client: httpx.Client, now: float) -> SendResult:
    body, delivered = fit(messages, build)
    headers = delivery_headers(messages[:delivered])
    secret = config.get("secret") or ""
    if secret:
        timestamp = int(now)
        headers.update({"X-Opsdesk-Timestamp": str(timestamp),
                        "X-Opsdesk-Signature": signature(secret, timestamp, body)})
    response = post(client, config["url"], body, headers, hide=(secret,))
    if isinstance(response, SendResult):
        return response
    status = response.status_code
    if 200 <= status < 300:
        return SendResult(ok=True, status=status, delivered=delivered)
    return SendResult(ok=False, status=status, detail=response.text[:200] or response.reason_phrase,
                      retry_after=retry_after_header(response, RETRY_AFTER) if status in (429, 503) else None)


CHANNEL = ChannelType(
    name="webhook",
    label=gettext_noop("Generic webhook"),
    send=send,
    config_schema=SCHEMA,
    destination=lambda config: fingerprint("webhook", config.get("url", "")),
    secrets=("secret",),
)
