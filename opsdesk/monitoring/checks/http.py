"""http: an HTTP(S) request with httpx: status, body match, response time and size, and the days
left on the server's TLS certificate.

The certificate is read from the connection itself, so a self-signed or otherwise unverified one
(`verify` false) still has its expiry checked.

Samples: http_response_seconds (until the body, up to `max_body_bytes`, is read),
http_status_code, http_response_size_bytes (Content-Length when larger than what was read),
http_tls_cert_days_left (HTTPS only).
Thresholds: `warning` / `critical` on the response time in milliseconds (above);
`tls_warning_days` / `tls_critical_days` on the certificate's days left (below; 14 and 7).
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from datetime import UTC, datetime
from typing import Any

from .base import (
    CheckResult,
    CheckSpec,
    CheckType,
    Outcome,
    array,
    boolean,
    failure,
    gettext_noop,
    integer,
    login,
    number,
    param,
    preload,
    result,
    schema,
    string,
)

SCHEMA = schema({
    "method": string(gettext_noop("Method"), "GET", enum=["GET", "HEAD", "POST", "OPTIONS"]),
    "expect_status": array(gettext_noop("Expected status codes (empty: 200 to 399)"),
                           {"type": "integer", "minimum": 100, "maximum": 599}, []),
    "body_match": string(gettext_noop("Body contains"), ""),
    "body_regex": string(gettext_noop("Body matches regular expression"), "", format="regex"),
    "follow_redirects": boolean(gettext_noop("Follow redirects"), False),
    "verify": boolean(gettext_noop("Verify the TLS certificate"), True),
    "headers": {"type": "object", "title": gettext_noop("Request headers"), "default": {},
                "additionalProperties": {"type": "string"}},
    "username": string(gettext_noop("User name (basic authentication)"), ""),
    "max_body_bytes": integer(gettext_noop("Read at most (bytes of body)"), 1_048_576, 0, 104_857_600),
    "warning": number(gettext_noop("Warning above (ms, response time)"), None, 0),
    "critical": number(gettext_noop("Critical above (ms, response time)"), None, 0),
    "tls_warning_days": number(gettext_noop("Warning below (days left on the certificate)"), 14, 0),
    "tls_critical_days": number(gettext_noop("Critical below (days left on the certificate)"), 7, 0),
})

USER_AGENT = "opsdesk-collector"

# The TLS contexts are built once per process: creating one costs about 30 ms of CPU, far too much
# to pay on each of thousands of runs a minute. Each run gets its own client and connection pool
# on them (about 20 µs): a pool shared by hundreds of runs at once scans all its connections for
# every request, and a shared client would carry cookies from one check to the next. Connections
# are not kept alive: each run measures a fresh connect, as the user sees it.
_contexts: dict[bool, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def tls_context(verify: bool) -> ssl.SSLContext:
    with _contexts_lock:
        if verify not in _contexts:
            context = ssl.create_default_context()
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            _contexts[verify] = context
        return _contexts[verify]


def client(verify: bool) -> Any:
    """A client for one run (use it with `async with`)."""
    import httpx

    transport = httpx.AsyncHTTPTransport(verify=tls_context(verify), trust_env=False,
                                         limits=httpx.Limits(max_keepalive_connections=0))
    return httpx.AsyncClient(transport=transport, trust_env=False, headers={"User-Agent": USER_AGENT})


def prepare() -> None:
    preload("httpx", "httpcore", "h11", "anyio", "anyio._backends._asyncio", "httpcore._backends.anyio",
            "cryptography.x509")
    tls_context(True)
    tls_context(False)


def certificate_days_left(der: bytes, now: datetime | None = None) -> float:
    from cryptography import x509

    not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
    return (not_after - (now or datetime.now(UTC))).total_seconds() / 86400


def _peer_certificate(response: Any) -> bytes | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    return ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None


async def run(spec: CheckSpec, memo: dict) -> CheckResult:
    import httpx

    if not spec.target.lower().startswith(("http://", "https://")):
        return result("unknown", "bad_target", f"not an http:// or https:// URL: {spec.target!r}")
    limit = param(spec, "max_body_bytes", SCHEMA)
    username = login(spec, "username", SCHEMA)
    auth = httpx.BasicAuth(username, spec.secrets.get("password", "")) if username else None
    started = time.perf_counter()
    der = None
    body = bytearray()
    try:
        async with client(param(spec, "verify", SCHEMA)) as http, http.stream(
                param(spec, "method", SCHEMA), spec.target, headers=param(spec, "headers", SCHEMA), auth=auth,
                follow_redirects=param(spec, "follow_redirects", SCHEMA), timeout=spec.timeout) as response:
            der = _peer_certificate(response) if response.url.scheme == "https" else None
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= limit:
                    break
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what=spec.target)
    elapsed = time.perf_counter() - started

    outcome = Outcome()
    status = response.status_code
    size = max(len(body), int(response.headers.get("content-length") or 0))
    outcome.sample("http_response_seconds", elapsed)
    outcome.sample("http_status_code", status)
    outcome.sample("http_response_size_bytes", size)
    _judge_status(outcome, status, param(spec, "expect_status", SCHEMA), response.reason_phrase)
    _judge_body(outcome, bytes(body[:limit]), response, spec)
    days = certificate_days_left(der) if der else None
    if days is not None:
        outcome.sample("http_tls_cert_days_left", days)
        _judge_certificate(outcome, days, param(spec, "tls_warning_days", SCHEMA),
                           param(spec, "tls_critical_days", SCHEMA))
    outcome.threshold(elapsed * 1000, param(spec, "warning", SCHEMA), param(spec, "critical", SCHEMA),
                      what="response time", unit=" ms")
    tls = f", certificate expires in {days:.1f} days" if days is not None else ""
    return outcome.result(f"HTTP {status} in {elapsed * 1000:.0f} ms, {size} bytes{tls}", status=status,
                          ms=round(elapsed * 1000), **({"days": round(days, 1)} if days is not None else {}))


def _judge_status(outcome: Outcome, status: int, expected: list[int], reason: str) -> None:
    good = status in expected if expected else 200 <= status < 400
    if not good:
        wanted = ", ".join(map(str, expected)) if expected else "200-399"
        outcome.problem("critical", "http_status", f"HTTP {status} {reason}, expected {wanted}".replace("  ", " "),
                        status=status)


def _judge_body(outcome: Outcome, body: bytes, response: Any, spec: CheckSpec) -> None:
    match, pattern = param(spec, "body_match", SCHEMA), param(spec, "body_regex", SCHEMA)
    if not match and not pattern:
        return
    try:
        text = body.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    if match and match not in text:
        outcome.problem("critical", "body_mismatch", f"the body does not contain {match!r}", expect=match)
    if pattern:
        try:
            found = re.search(pattern, text)
        except re.error as exc:
            outcome.problem("unknown", "bad_params", f"invalid regular expression {pattern!r}: {exc}")
            return
        if not found:
            outcome.problem("critical", "body_mismatch", f"the body does not match /{pattern}/", expect=pattern)


def _judge_certificate(outcome: Outcome, days: float, warning: float | None, critical: float | None) -> None:
    if days < 0:
        outcome.problem("critical", "tls_expired", f"the TLS certificate expired {-days:.1f} days ago",
                        days=round(days, 1))
        return
    for state, limit in (("critical", critical), ("warning", warning)):
        if limit is not None and days < limit:
            outcome.problem(state, "tls_expiring", f"the TLS certificate expires in {days:.1f} days "
                            f"(the {state} threshold is {limit:g})", days=round(days, 1), threshold=limit)
            return


CHECK = CheckType(name="http", label=gettext_noop("HTTP(S) request"), run=run, params_schema=SCHEMA,
                  default_interval=60.0, needs_secrets=("username", "password"))
