"""POSTs answered before Django's request handling: the routes apps add with
`registry.add_fast_route` (the monitoring push: every agent, every interval, hundreds a second).

Django's handler and its fifteen middlewares (sessions, locale, CSRF, authentication, audit, …)
cost about a millisecond of CPU a request, more than checking and storing a 1,000-sample batch,
and nothing of them matters to a machine's token-authenticated JSON. A route answers the body of
a 200, a `FastAnswer` (another status, the same answer Django's way would give), or None: then
Django answers the request as ever, with the body put back for it to read, so every error (401,
400 naming the field, 415, 503) keeps its one place and language handling. A route must leave
nothing written when it answers None.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signals
from django.db import connection

from opsdesk.core.registry import registry

StartResponse = Callable[..., Any]
# Set in the environ of a request a fast route declined: the view need not try the same again.
DECLINED = "opsdesk.fast_route_declined"


class FastRoute:
    """The sender of the request signals for a request answered here."""


@dataclass(frozen=True)
class FastAnswer:
    """A route's answer other than a 200: its status line, JSON body and extra headers."""

    status: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


SIGNALS_SECONDS = 1.0
_signals_sent = threading.local()


def with_fast_routes(application: Callable) -> Callable:
    routes: dict[str, Callable[[dict, bytes], bytes | FastAnswer | None]] = registry["fast_routes"]
    if not routes:
        return application
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2**31

    def fast(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        route = routes.get(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "POST" else None
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if route is None or not 0 <= length <= limit:
            return application(environ, start_response)
        body = environ["wsgi.input"].read(length)
        # Django's signals of a request's start and end, as its handler sends them: their receivers
        # close a broken or too old database connection, reset the query log and close the caches'
        # connections (and tests that run the application inside a transaction disconnect a
        # receiver, which a direct call would not respect). At most once every SIGNALS_SECONDS per
        # thread: they cost 130 µs of a forwarded push's CPU under load (bench/ingest.py), a push
        # that reads the database only every few seconds. A connection that broke meanwhile makes
        # the route raise and decline, and Django's way below sends them, reconnects and answers.
        now = time.monotonic()
        signalled = now - getattr(_signals_sent, "at", -1e9) >= SIGNALS_SECONDS
        if signalled:
            signals.request_started.send(sender=FastRoute, environ=environ)
            # The route's first query stands for the connection's health check (CONN_HEALTH_CHECKS:
            # a `SELECT 1` round trip before it, 3 % of a push's CPU).
            connection.health_check_done = True
        try:
            answer = route(environ, body)
        except Exception:  # a locked database, a bug: Django's way answers and reports it
            answer = None
        finally:
            if signalled:
                signals.request_finished.send(sender=FastRoute)
                _signals_sent.at = now
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(body)
            environ[DECLINED] = True
            return application(environ, start_response)
        if isinstance(answer, FastAnswer):
            start_response(answer.status, [("Content-Type", "application/json"),
                                           ("Content-Length", str(len(answer.body))), *answer.headers])
            return [answer.body]
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
        return [answer]

    return fast
