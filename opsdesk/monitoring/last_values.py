"""Each series' last value (Series.last_ts, last_value: the pages' "latest data", the overview's
current values), written by filing.

A filing pass writes the newest sample of every series it saw, in one statement. Under heavy
ingest a pass may instead keep them in the process (`defer`) for the next pass that writes, at
most LAST_VALUES_SECONDS later: a row update per series and pass was most of what a pass cost
the database once the samples themselves went straight to VictoriaMetrics (bench/ingest.py:
20,000 series a pass, a pass a second). The price: a last value shown up to that much later
under heavy ingest, and, should the worker stop in between, not shown until the series' next
sample.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from django.db import connection, transaction

from opsdesk.monitoring.models import Series

_SERIES = Series._meta.db_table
LAST_VALUES_SECONDS = 5.0

Newest = dict[int, tuple[float, float]]  # series id -> (time, value)

_deferred: Newest = {}
_lock = threading.Lock()
_written_at = time.monotonic()


def merge(into: Newest, newer: Mapping[int, tuple[float, float]]) -> None:
    """Keep in `into` the newer of each series' two samples."""
    for series_id, sample in newer.items():
        old = into.get(series_id)
        if old is None or old[0] <= sample[0]:
            into[series_id] = sample


def record(newest: Newest, *, defer: bool = False) -> None:
    """Inside a filing pass's transaction: write the pass's newest samples with those kept from
    passes before, or, with `defer` and the last write less than LAST_VALUES_SECONDS ago, keep
    them (once the pass commits) for a later pass."""
    with _lock:
        if defer and time.monotonic() - _written_at < LAST_VALUES_SECONDS:
            kept = None
        else:
            kept = dict(_deferred)
    if kept is None:
        transaction.on_commit(lambda: _keep(newest))
        return
    merge(kept, newest)
    _write(kept)
    transaction.on_commit(lambda: _done(kept))


def flush() -> None:
    """Write what passes kept (at the end of a filing run)."""
    with _lock:
        kept = dict(_deferred)
    if not kept:
        return
    with transaction.atomic():
        _write(kept)
        transaction.on_commit(lambda: _done(kept))


def forget() -> None:
    """Let go of what was kept (tests: their series were rolled back)."""
    with _lock:
        _deferred.clear()


def _keep(newest: Newest) -> None:
    with _lock:
        merge(_deferred, newest)


def _done(written: Newest) -> None:
    global _written_at
    with _lock:
        for series_id, sample in written.items():
            if _deferred.get(series_id) == sample:
                del _deferred[series_id]
        _written_at = time.monotonic()


def _write(newest: Newest) -> None:
    if not newest:
        return
    series = list(newest)
    times = [float(sample[0]) for sample in newest.values()]
    values = [float(sample[1]) for sample in newest.values()]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement for the pass: a statement per series (20,000 a pass in the ingest
            # benchmark) cost more than the rest of the pass.
            cursor.execute(f"UPDATE {_SERIES} AS s SET last_ts = v.ts, last_value = v.value "
                           f"FROM unnest(%s::bigint[], %s::float8[], %s::float8[]) AS v(id, ts, value) "
                           f"WHERE s.id = v.id AND (s.last_ts IS NULL OR s.last_ts <= v.ts)", [series, times, values])
            return
        cursor.executemany(f"UPDATE {_SERIES} SET last_ts = %s, last_value = %s "
                           f"WHERE id = %s AND (last_ts IS NULL OR last_ts <= %s)",
                           list(zip(times, values, series, times, strict=True)))
