"""What every channel shares: the message it sends, the result it gives, the channel type in the
registry, and the digest that fits several messages into one request under the vendor's size cap.

Nothing here (or in a channel module) imports Django or another opsdesk app.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

SEVERITIES = ("critical", "major", "minor", "info")
# Worst first when several messages are sent as one digest.
SEVERITY_RANK = {"critical": 4, "major": 3, "minor": 2, "info": 1}
# A language-neutral mark per severity (the text of the message is translated by its template).
SEVERITY_MARK = {"critical": "🔴", "major": "🟠", "minor": "🟡", "info": "🔵"}
MAX_BODY = 20_000  # bytes: Feishu's "request body ≤ 20 KB", kept for every vendor (20,000 < 20 KiB)
TIMEOUT = 10.0


def gettext_noop(s: str) -> str:
    """Marks a label for translation without translating it here (xgettext knows this name)."""
    return s


MORE = gettext_noop("… and %(count)d more")
DIGEST_TITLE = gettext_noop("%(count)d notifications")
ACKNOWLEDGE = gettext_noop("Acknowledge")

# The digest's own words (DIGEST_TITLE, MORE) in the language of the notification being sent: the
# sender (Django's side) installs its gettext here; without one they stay English.
_translate: ContextVar[Callable[[str], str]] = ContextVar("opsdesk_channel_translate", default=lambda s: s)


@contextlib.contextmanager
def translating(translate: Callable[[str], str]) -> Iterator[None]:
    """Digests built inside use `translate` for their own labels (a context variable, so threads
    and tasks sending in different languages do not mix)."""
    token = _translate.set(translate)
    try:
        yield
    finally:
        _translate.reset(token)


def translated(label: str) -> str:
    return _translate.get()(label)


@dataclass(frozen=True)
class Message:
    title: str
    text: str  # Markdown (the subset the chat vendors share: bold, links, line breaks, lists)
    severity: str = "info"  # one of SEVERITIES
    url: str = ""  # the "acknowledge" link, shown when set
    fields: dict[str, str] = field(default_factory=dict)  # shown as "**name**: value" lines
    url_label: str = ACKNOWLEDGE  # the caller passes it translated
    # The notification's idempotency key: a channel that can pass it on (the webhook's headers and
    # body) does, so a receiver drops the copy an at-least-once retry may bring.
    key: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {self.severity!r}; one of {', '.join(SEVERITIES)}")


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int  # HTTP status, 0 when no answer came (connection refused, timeout)
    vendor_code: int | str | None = None  # DingTalk/WeCom errcode, Feishu code
    detail: str = ""  # the vendor's message or the transport error (never a secret)
    retry_after: float | None = None  # seconds: the destination refuses more until then
    delivered: int = 0  # how many of the messages went (in order; the rest were named as "and N more")


@dataclass(frozen=True)
class Window:
    """At most `count` requests in any `seconds`."""

    count: int
    seconds: float


SendFunction = Callable[..., SendResult]  # send(config, messages, *, client, now) -> SendResult


@dataclass(frozen=True)
class ChannelType:
    name: str
    label: str  # English, marked with gettext_noop
    send: SendFunction
    config_schema: dict  # JSON Schema draft 2020-12 of the channel's config (titles marked)
    limits: tuple[Window, ...] = ()  # the vendor's rate limits per destination
    destination: Callable[[dict], str] = lambda config: ""  # what the limits count per (robot, URL)
    secrets: tuple[str, ...] = ()  # config keys never shown or logged


# --- JSON Schema helpers (titles are marked at the call site with gettext_noop) -----------------

def schema(properties: dict[str, dict], required: Iterable[str] = ()) -> dict:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": properties, "required": list(required), "additionalProperties": False}


def string(title: str, default: str | None = None, **extra: Any) -> dict:
    prop: dict[str, Any] = {"type": "string", "title": title}
    if default is not None:
        prop["default"] = default
    prop.update(extra)
    return prop


def setting(config: dict, name: str, channel_schema: dict) -> Any:
    """config[name], or the schema's default."""
    value = config.get(name)
    if value in (None, ""):
        return channel_schema["properties"][name].get("default", "")
    return value


# --- Digest: several messages as one, under the size cap -----------------------------------------

def worst(messages: Sequence[Message]) -> str:
    return max((m.severity for m in messages), key=SEVERITY_RANK.__getitem__)


def title_of(messages: Sequence[Message], omitted: int = 0) -> str:
    if len(messages) == 1 and not omitted:
        return f"{SEVERITY_MARK[messages[0].severity]} {messages[0].title}"
    return f"{SEVERITY_MARK[worst(messages)]} {translated(DIGEST_TITLE) % {'count': len(messages) + omitted}}"


def markdown_of(message: Message, *, heading: bool = True, link: bool = True) -> str:
    lines = [f"**{SEVERITY_MARK[message.severity]} {message.title}**", ""] if heading else []
    if message.text:
        lines.append(message.text)
    if message.fields:
        lines.append("")
        lines.extend(f"- **{name}**: {value}" for name, value in message.fields.items())
    if message.url and link:
        lines.extend(["", f"[{message.url_label}]({message.url})"])
    return "\n".join(lines)


def digest_markdown(messages: Sequence[Message], omitted: int = 0, *, link: bool = True) -> str:
    """One Markdown text for all the messages, with the "and N more" note when some are left out."""
    text = "\n\n---\n\n".join(markdown_of(m, link=link) for m in messages)
    if omitted:
        text += "\n\n" + translated(MORE) % {"count": omitted}
    return text


Build = Callable[[Sequence[Message], int], dict]  # build(messages, omitted) -> JSON payload


def fit(messages: Sequence[Message], build: Build, limit: int = MAX_BODY,
        measure: Callable[[dict, bytes], int] | None = None) -> tuple[bytes, int]:
    """The JSON body of as many messages (in order) as fit in `limit` bytes, the rest named as
    "and N more", and how many went. A single message too large on its own goes with its text cut.
    `measure(payload, body)` is what is held to the limit (default: the body's length)."""
    if not messages:
        raise ValueError("nothing to send")
    size = measure or (lambda payload, body: len(body))

    def attempt(items: Sequence[Message], omitted: int) -> tuple[bytes, bool]:
        payload = build(items, omitted)
        body = encode(payload)
        return body, size(payload, body) <= limit

    body, ok = attempt(messages, 0)
    if ok:
        return body, len(messages)
    low, high = 1, len(messages) - 1  # the largest k that fits, by bisection (size grows with k)
    best: bytes | None = None
    while low <= high:
        k = (low + high) // 2
        candidate, ok = attempt(messages[:k], len(messages) - k)
        if ok:
            best, low = candidate, k + 1
        else:
            high = k - 1
    if best is not None:
        return best, high
    # Even the first message alone is too large: cut its text (and its title, if need be).
    first = messages[0]
    omitted = len(messages) - 1
    for part in ("text", "title"):
        text = getattr(first, part)
        low, high = 0, len(text)
        best = None
        while low <= high:
            n = (low + high) // 2
            cut = _replace(first, part, text[:n] + "…")
            if part == "title":
                cut = _replace(cut, "fields", {})
            candidate, ok = attempt([cut], omitted)
            if ok:
                best, low = candidate, n + 1
            else:
                high = n - 1
        if best is not None:
            return best, 1
        first = _replace(_replace(first, "text", "…"), "fields", {})
    raise ValueError("the message cannot be made to fit the size limit")


def _replace(message: Message, name: str, value: Any) -> Message:
    return replace(message, **{name: value})


def encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- Sending -----------------------------------------------------------------------------------

def post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str] | None = None,
         *, hide: Iterable[str] = ()) -> httpx.Response | SendResult:
    """POSTs a JSON body; a transport error becomes a SendResult (with the secrets taken out)."""
    try:
        return client.post(url, content=body, timeout=TIMEOUT,
                           headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})})
    except httpx.HTTPError as exc:
        return SendResult(ok=False, status=0, detail=scrub(f"{type(exc).__name__}: {exc}", hide))


def answer(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def retry_after_header(response: httpx.Response, default: float | None) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:500]


def token(value: str, query_key: str | None = None) -> str:
    """The robot's token, also when the whole webhook address was pasted: the query parameter
    `query_key` of it, or else its last path segment."""
    value = (value or "").strip()
    if not value.startswith(("http://", "https://")):
        return value
    url = urllib.parse.urlsplit(value)
    if query_key:
        found = urllib.parse.parse_qs(url.query).get(query_key)
        if found:
            return found[0]
    return url.path.rstrip("/").rsplit("/", 1)[-1]


def fingerprint(kind: str, secret: str) -> str:
    """A destination key for the limiter that does not reveal the token."""
    return f"{kind}:{hashlib.sha256(secret.encode()).hexdigest()[:16]}"
