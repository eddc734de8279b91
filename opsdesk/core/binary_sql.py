"""Statements that move large byte strings (an ingest batch of 30 KB, a pass's chunks), with their
parameters and results sent as binary on PostgreSQL.

Django's PostgreSQL backend binds parameters on the client: a `bytes` value travels inside the
statement text as a hex literal twice its size, which the server then lexes and decodes, and a
bytea result comes back hex-encoded too. For a 1,000-sample push that was 715 µs of server CPU
and 365 µs of the web process's against 390 and 250 with the value sent as a binary parameter,
and a batch read back cost 100 + 100 µs against 55 + 45 (measured on PostgreSQL 15). Here a
statement goes through psycopg's own (server-binding) cursor on Django's connection, so it runs
in the same transaction as everything else; other databases take Django's cursor as ever.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


class _LoggedCursor:
    """psycopg's cursor, its statements in `connection.queries` while Django logs them (DEBUG,
    a test's query count), so that nothing run here goes uncounted."""

    def __init__(self, cursor: Any, wrapper: Any) -> None:
        self.cursor = cursor
        self.wrapper = wrapper

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        if not self.wrapper.queries_logged:
            return self.cursor.execute(sql, params, binary=True)
        started = time.monotonic()
        try:
            return self.cursor.execute(sql, params, binary=True)
        finally:
            self.wrapper.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})

    def copy(self, statement: str) -> Any:
        if self.wrapper.queries_logged:
            self.wrapper.queries_log.append({"sql": statement, "time": "0.000"})
        return self.cursor.copy(statement)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.cursor)


@contextmanager
def binary_cursor(using: str = DEFAULT_DB_ALIAS) -> Iterator[Any]:
    """A DB-API cursor that sends parameters and reads results as binary on PostgreSQL (`%s`
    placeholders, as Django's), and has `copy`; Django's own cursor on other databases."""
    wrapper = connections[using]
    if wrapper.vendor != "postgresql":
        with wrapper.cursor() as cursor:
            yield cursor
        return
    import psycopg

    wrapper.ensure_connection()
    with wrapper.wrap_database_errors, psycopg.Cursor(wrapper.connection) as cursor:
        yield _LoggedCursor(cursor, wrapper)
