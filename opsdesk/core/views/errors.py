"""Error pages: JSON for the API, the normal page layout elsewhere.

Two server-side failures are not bugs and say what they are instead of "Internal error": the
database is locked by another writer (SQLite during a long import: 503 with Retry-After, try
again shortly) and the disk is full (507 until an administrator frees space).
"""

from __future__ import annotations

import errno
import logging
import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

LOCKED = "locked"
DISK_FULL = "disk_full"
# Seconds a client should wait after "database is locked": a few, as most writes are short and a
# long import frees the lock between its batches.
RETRY_AFTER_SECONDS = 5

# PostgreSQL SQLSTATEs: 53100 disk_full, 55P03 lock_not_available (a lock_timeout ran out).
_PG_DISK_FULL = "53100"
_PG_LOCKED = "55P03"


def database_trouble(exc: BaseException | None) -> str | None:
    """LOCKED, DISK_FULL or None for an exception, looking through the causes Django chains
    (django.db.OperationalError wraps sqlite3's or psycopg's error as its __cause__)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return DISK_FULL
        code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
        if code == _PG_DISK_FULL:
            return DISK_FULL
        if code == _PG_LOCKED:
            return LOCKED
        # sqlite3 gives only the message (and, on 3.11+, sqlite_errorname) for both.
        name = getattr(exc, "sqlite_errorname", "")
        message = str(exc).lower()
        if name == "SQLITE_FULL" or "database or disk is full" in message:
            return DISK_FULL
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in message \
                or "database table is locked" in message:
            return LOCKED
        # Only explicit chaining (`raise … from`): an error raised while handling another one
        # (its __context__) may well be a real bug and must stay a 500.
        exc = exc.__cause__
    return None


def trouble_message(kind: str) -> str:
    if kind == LOCKED:
        return _("The database is busy with another change. Nothing was saved; try again in a few seconds.")
    return _("The server's disk is full: your change was not saved. Ask an administrator to free space.")


def trouble_status(kind: str) -> int:
    # 507 Insufficient Storage says what is wrong; 503 with Retry-After tells clients to retry.
    return 503 if kind == LOCKED else 507


def log_trouble(request: HttpRequest, kind: str, exc: BaseException | None) -> None:
    # No traceback: the cause is known, and the message names it for the administrator.
    if kind == LOCKED:
        logger.warning("database is locked: %s %s answered 503 (%s)", request.method, request.path, exc)
    else:
        logger.error("disk full: %s %s answered 507 (%s)", request.method, request.path, exc)


def trouble_response(request: HttpRequest, kind: str, exc: BaseException | None = None) -> HttpResponse:
    """The page or JSON for a locked database or a full disk."""
    log_trouble(request, kind, exc)
    status = trouble_status(kind)
    message = trouble_message(kind)
    if _wants_json(request):
        response: HttpResponse = JsonResponse({"detail": message, "code": kind}, status=status)
    else:
        try:
            response = render(request, f"errors/{status}.html", {"message": message}, status=status)
        except Exception:
            # The page needs the session and the navigation; if even those fail, plain text.
            logger.exception("cannot render the %s page", status)
            response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    if kind == LOCKED:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return render(request, "errors/404.html", status=404)


def forbidden(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": _("You do not have permission to do this.")}, status=403)
    return render(request, "errors/403.html", {"reason": str(exception or "")}, status=403)


def server_error(request):
    # Django calls this while handling the exception, so it is still in sys.exc_info(). Errors
    # from a view are answered by DatabaseTroubleMiddleware already; this catches the rest (a
    # session saved by middleware after the view, for instance).
    kind = database_trouble(sys.exc_info()[1])
    if kind is not None:
        return trouble_response(request, kind, sys.exc_info()[1])
    if _wants_json(request):
        return JsonResponse({"detail": _("Internal error.")}, status=500)
    return render(request, "errors/500.html", status=500)
