"""The agent's HTTP client: JSON over HTTP(S) with the standard library (urllib.request).

Why not httpx, which the server uses: the agent's budget is 30 MB of resident memory
(bench/agent.py). Importing the agent takes 24.6 MB, of which urllib.request with ssl is about
8 MB; importing httpx as well takes 31 MB before the agent has done anything (httpx alone is
18 MB over a bare interpreter: h11, httpcore, anyio, idna, certifi…). urllib.request has what the
agent needs: TLS with the system's CA certificates (or the file named by SSL_CERT_FILE), proxies
from HTTPS_PROXY, HTTP_PROXY and NO_PROXY, and timeouts.

Each request opens its own connection. The agent sends one request every interval (30 s by
default), longer than any server keeps an idle connection open, so keeping connections alive
would gain nothing and would need a retry on every stale one.

Redirects are not followed: urllib would turn a redirected POST into a GET without its body. A
redirect is answered as it is (`HTTP 301 …, Location: …`), so a person can correct the address.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import urllib.error
import urllib.request
from typing import Any

from opsdesk import __version__

USER_AGENT = f"opsdesk-agent/{__version__}"
TIMEOUT_S = 15.0


class TransportError(Exception):
    """No HTTP answer: the server is unreachable, refused the connection, timed out, or the
    connection broke. `reason` is a short text for a person ("Connection refused")."""

    def __init__(self, reason: str, kind: str = "") -> None:
        self.reason = reason
        self.kind = kind
        super().__init__(f"{kind}: {reason}" if kind else reason)


class Response:
    """The parts of an answer the agent reads (the same names as httpx's Response)."""

    def __init__(self, status_code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.content = body
        self.headers = headers or {}

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx answer, which post() returns


class Client:
    """`post(url, json=…, headers=…)` answers a Response for any HTTP status and raises
    TransportError when there is no answer."""

    def __init__(self, timeout: float = TIMEOUT_S) -> None:
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect())

    def post(self, url: str, json: Any = None, headers: dict[str, str] | None = None) -> Response:
        body = jsonlib.dumps(json, separators=(",", ":"), allow_nan=False).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT,
            **(headers or {})})
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return Response(answer.status, answer.read(), dict(answer.headers))
        except urllib.error.HTTPError as exc:  # an answer, just not a 2xx one
            try:
                content = exc.read()
            except (OSError, http.client.HTTPException):
                content = b""
            finally:
                exc.close()
            return Response(exc.code, content, dict(exc.headers or {}))
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, OSError):
                raise TransportError(reason.strerror or str(reason), type(reason).__name__) from None
            raise TransportError(str(reason), "URLError") from None
        except (OSError, http.client.HTTPException) as exc:  # a timeout or a broken connection mid-answer
            raise TransportError(str(exc) or type(exc).__name__, type(exc).__name__) from None

    def close(self) -> None:
        pass  # nothing is kept open between requests

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
