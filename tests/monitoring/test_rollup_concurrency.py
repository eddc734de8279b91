"""Roll-ups beside other writers (opsdesk/monitoring/store/sql.py): a pass reads and sums its
chunks before its write transaction, drops its sums when another pass moved the cursor
meanwhile, and on PostgreSQL never moves its cursor over chunks a writer has yet to commit."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from opsdesk.monitoring.models import Rollup, Series, StoreCursor
from opsdesk.monitoring.store import sql
from opsdesk.monitoring.store.base import ONE_HOUR, Points
from opsdesk.monitoring.store.sql import SQLStore
from tests.factories import ConfigurationItemFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

T0 = 1_764_000_000.0  # a whole hour: 2025-11-24 16:00 UTC


@pytest.fixture
def series(customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    return Series.objects.create(customer=customer_a, configuration_item=item, name="cpu", labels={}, key="k")


def write(series, ts: float, value: float = 1.0) -> None:
    SQLStore().write([Points(series_id=series.id, item_id=series.configuration_item_id,
                             customer_id=series.customer_id, name=series.name, labels={}, ts=[ts], values=[value])])


def in_thread(target) -> tuple[threading.Thread, dict]:
    """`target` in a thread of its own (its own connection); its answer or error in the dict."""
    out: dict = {}

    def run() -> None:
        try:
            out["answer"] = target()
        except BaseException as exc:  # reported by the test
            out["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def while_reading(monkeypatch, action) -> dict:
    """Run `action` in another thread when the pass reads its first chunk, and wait for it."""
    seen: dict = {}
    unpack = sql.packing.unpack

    def reading(data):
        if not seen:
            thread, seen["out"] = in_thread(action)
            thread.join(20)
            seen["finished"] = not thread.is_alive()
        return unpack(data)

    monkeypatch.setattr(sql.packing, "unpack", reading)
    return seen


def test_a_roll_up_pass_reads_and_sums_without_holding_the_writer(series, monkeypatch):
    """On SQLite the filer waits for the one writer: a pass of 100,000 chunks held it 1.2-2.5 s
    while reading and summing. Another connection writes while this pass reads."""
    write(series, T0)

    def other_writer() -> bool:
        with transaction.atomic():  # IMMEDIATE on SQLite: the writer's lock
            StoreCursor.objects.create(name="another-writer", value=1)
        return True

    seen = while_reading(monkeypatch, other_writer)
    assert SQLStore().roll_up() == 1
    assert seen["finished"] and seen["out"] == {"answer": True}
    assert Rollup.objects.get(series=series, step=ONE_HOUR).count == 1


def test_a_pass_whose_cursor_moved_meanwhile_drops_its_sums(series, monkeypatch):
    write(series, T0)
    write(series, T0 + 60)
    # Another worker's pass rolls the same chunks up while this one reads them.
    seen = while_reading(monkeypatch, lambda: SQLStore().roll_up())
    assert SQLStore().roll_up() == 0
    assert seen["out"] == {"answer": 2}
    assert Rollup.objects.get(series=series, step=ONE_HOUR).count == 2  # counted once
    assert SQLStore().roll_up() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: its chunk ids come from a "
                    "sequence, so concurrent writers may commit them out of order; SQLite has one writer")
def test_a_chunk_committed_after_a_higher_id_is_rolled_up_all_the_same(series):
    written, release = threading.Event(), threading.Event()

    def slow_writer() -> bool:
        with transaction.atomic():
            write(series, T0)  # the lower id, committed last
            written.set()
            assert release.wait(20)
        return True

    slow, slow_out = in_thread(slow_writer)
    assert written.wait(20)
    write(series, T0 + 60)  # a higher id, committed at once
    roller, rolled = in_thread(lambda: SQLStore().roll_up())
    roller.join(0.5)
    # The pass waits for the writer that has not committed yet, rather than read past its chunk.
    assert roller.is_alive()
    release.set()
    slow.join(20)
    roller.join(20)
    assert slow_out == {"answer": True}
    assert rolled == {"answer": 2}
    assert Rollup.objects.get(series=series, step=ONE_HOUR).count == 2
