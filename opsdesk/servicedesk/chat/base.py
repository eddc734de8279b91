"""What every chat vendor module declares, and the shapes passed between a module and the intake.

A vendor module (dingtalk.py, feishu.py, wecom.py) knows one vendor's wire format only: how its
callbacks are signed or encrypted and what they hold (`receive`), and how the bot answers a
message through the vendor's API (`send`). It knows nothing of tickets; the intake does."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

# A request to a vendor gives up after this; the outbox retries it later.
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Callbacks signed longer ago (or further ahead) than this are refused: a captured request
# cannot be played again later (DingTalk documents one hour; the same window serves all).
MAX_SKEW_SECONDS = 3600


def now() -> float:
    """The wall clock the callbacks' timestamps are checked against (a test of the vendors'
    published samples, signed in 2014, sets it back)."""
    return time.time()


class Refused(Exception):
    """A callback that is not answered: 400 (malformed), 401 (signature, token or timestamp
    wrong), 403 (a receiver that is not ours). `message` is for the sender, never a secret."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Callback:
    method: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    now: float


@dataclass(frozen=True)
class Handshake:
    """The vendor checks the URL (Feishu's challenge, WeCom's echostr): answer this, write nothing."""

    content_type: str
    body: bytes


@dataclass(frozen=True)
class Ignored:
    """A verified callback that carries no message for the desk (another event type)."""

    reason: str


@dataclass
class Incoming:
    """A verified message, in the vendor's own ids."""

    message_id: str
    conversation_id: str
    text: str
    is_group: bool
    addressed: bool  # the bot was @-mentioned
    sender_id: str = ""
    sender_name: str = ""
    conversation_title: str = ""
    # DingTalk signs only a timestamp: the signature, to refuse it on another message (a replay).
    signature: str = ""
    # Where the bot can answer this message (DingTalk session webhook, WeCom response URL) and until when.
    reply_url: str = ""
    reply_url_expires_at: float | None = None
    kind: str = "text"


@dataclass(frozen=True)
class Target:
    """Where an answer goes: the message answered (its vendor id, its reply URL)."""

    message_id: str
    reply_url: str = ""


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int = 0
    detail: str = ""
    retry_after: float | None = None


@dataclass(frozen=True)
class Vendor:
    kind: str
    # Secret settings (encrypted at rest) and plain ones with their defaults.
    secrets: tuple[str, ...]
    settings: Mapping[str, str]
    required: tuple[str, ...]
    # receive(settings, callback) -> Incoming | Handshake | Ignored, or raises Refused.
    receive: Callable[[Mapping[str, str], Callback], Any]
    # send(settings, target, text, *, key, client) -> SendResult: one request to the vendor.
    send: Callable[..., SendResult]
    # check(settings) -> {field: message} for what a form cannot see (a key's length).
    check: Callable[[Mapping[str, str]], dict[str, str]] = lambda settings: {}
    # Answers go to the message itself (Feishu's reply API): always possible, no reply URL needed.
    replies_by_message_id: bool = False
    # A reply URL that takes one answer only (WeCom's response_url).
    reply_url_single_use: bool = False
    # What the vendor wants as the answer to a message callback: an empty body (WeCom) or JSON.
    empty_answer: bool = False


def header(callback: Callback, name: str) -> str:
    return str(callback.headers.get(name.lower(), "") or "")


def check_skew(timestamp_s: float, now_s: float) -> None:
    if abs(now_s - timestamp_s) > MAX_SKEW_SECONDS:
        raise Refused(401, "The request's timestamp is more than an hour away from now.")


def answer_json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def post(client: httpx.Client, url: str, body: dict, *, headers: dict | None = None,
         hide: tuple[str, ...] = ()) -> httpx.Response | SendResult:
    """One POST; a network failure is a SendResult naming no secret (a URL may hold one)."""
    try:
        return client.post(url, json=body, headers=headers or {}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        detail = f"{type(exc).__name__}: {exc}"
        for secret in hide:
            if secret:
                detail = detail.replace(secret, "•••")
        return SendResult(ok=False, status=0, detail=detail[:500])
