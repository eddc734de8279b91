"""Pushes that meet at the queue's insert go in one statement (monitoring/queue_insert.py): each is
answered after its row committed, an error reaches each of them, and a push inside a transaction
inserts alone."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction
from django.utils import timezone

from opsdesk.core.models.tokens import new_raw_token
from opsdesk.monitoring import queue_insert
from opsdesk.monitoring.models import IngestBatch
from opsdesk.monitoring.routers import queue_database
from tests.factories import make_agent, make_series

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def row(agent_id: int, seq: int) -> queue_insert.QueueRow:
    now = connections[queue_database()].ops.adapt_datetimefield_value(timezone.now())
    return queue_insert.QueueRow(agent_id, seq, 1, b"\x02payload", now)


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def in_threads(rows: list[queue_insert.QueueRow]) -> tuple[dict[int, bool], dict[int, BaseException], list]:
    answers: dict[int, bool] = {}
    errors: dict[int, BaseException] = {}

    def push(each: queue_insert.QueueRow) -> None:
        try:
            answers[each.seq] = queue_insert.insert(each)
        except Exception as exc:  # what the push would have seen
            errors[each.seq] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=push, args=(each,)) for each in rows]
    for thread in threads:
        thread.start()
    return answers, errors, threads


@pytest.fixture
def statements(monkeypatch):
    """The rows of each statement; the first one waits until `release` is set, so that the pushes
    started meanwhile queue behind it."""
    seen: list[list[int]] = []
    release = threading.Event()
    original = queue_insert._insert_rows

    def counted(alias, rows):
        seen.append(sorted(each.seq for each in rows))
        if len(seen) == 1:
            assert release.wait(10)
        if getattr(counted, "fail", None) and len(seen) > 1:
            raise counted.fail
        return original(alias, rows)

    monkeypatch.setattr(queue_insert, "_insert_rows", counted)
    counted.seen, counted.release = seen, release
    return counted


def test_pushes_that_meet_at_the_insert_go_in_one_statement(customer_a, statements):
    agent = make_agent(customer_a, raw=new_raw_token())
    answers, errors, first = in_threads([row(agent.pk, 1)])
    wait_until(lambda: len(statements.seen) == 1)
    more, more_errors, threads = in_threads([row(agent.pk, seq) for seq in (2, 3, 4, 5)])
    wait_until(lambda: len(queue_insert._waiting) == 4)
    assert not more  # none is answered before its row is in
    statements.release.set()
    for thread in first + threads:
        thread.join(10)
    assert statements.seen == [[1], [2, 3, 4, 5]]
    assert answers == {1: True} and more == {2: True, 3: True, 4: True, 5: True}
    assert not errors and not more_errors
    assert sorted(IngestBatch.objects.values_list("seq", flat=True)) == [1, 2, 3, 4, 5]


def test_a_re_sent_batch_in_a_statement_is_not_stored_twice(customer_a, statements):
    agent = make_agent(customer_a, raw=new_raw_token())
    statements.release.set()
    assert queue_insert.insert(row(agent.pk, 1)) is True
    assert queue_insert.insert(row(agent.pk, 1)) is False
    assert IngestBatch.objects.count() == 1


def test_an_error_reaches_every_push_of_its_statement(customer_a, statements):
    agent = make_agent(customer_a, raw=new_raw_token())
    statements.fail = RuntimeError("the database went away")
    answers, errors, first = in_threads([row(agent.pk, 1)])
    wait_until(lambda: len(statements.seen) == 1)
    more, more_errors, threads = in_threads([row(agent.pk, seq) for seq in (2, 3)])
    wait_until(lambda: len(queue_insert._waiting) == 2)
    statements.release.set()
    for thread in first + threads:
        thread.join(10)
    assert answers == {1: True} and not more
    assert {seq: str(exc) for seq, exc in more_errors.items()} == {2: "the database went away",
                                                                  3: "the database went away"}
    assert list(IngestBatch.objects.values_list("seq", flat=True)) == [1]
    assert not queue_insert._waiting


def test_a_push_inside_a_transaction_inserts_alone_and_rolls_back_with_it(customer_a, statements):
    agent = make_agent(customer_a, raw=new_raw_token())
    statements.release.set()
    with transaction.atomic(using=queue_database()):
        assert queue_insert.insert(row(agent.pk, 1)) is True
        transaction.set_rollback(True, using=queue_database())
    assert statements.seen == [[1]] and not queue_insert._waiting
    assert IngestBatch.objects.count() == 0


# --- rows that may wait (forwarded batches' digests) -------------------------------------------

def test_rows_that_wait_go_in_one_statement_then_their_callbacks_once(customer_a, later, monkeypatch):
    agent = make_agent(customer_a, raw=new_raw_token())
    seen: list[list[int]] = []
    original = queue_insert._insert_rows
    monkeypatch.setattr(queue_insert, "_insert_rows", lambda alias, rows: seen.append([r.seq for r in rows])
                        or original(alias, rows))
    called: list[str] = []
    wake_filer = lambda: called.append("filer")  # noqa: E731
    for seq in (1, 2, 3):
        queue_insert.insert_later(row(agent.pk, seq), wake_filer)
    assert later.wakes == 3
    assert queue_insert.waiting_later(agent.pk, 2) and not queue_insert.waiting_later(agent.pk, 4)
    assert not IngestBatch.objects.exists()
    assert queue_insert.flush_later() == 3
    assert seen == [[1, 2, 3]]
    assert called == ["filer"]
    assert sorted(IngestBatch.objects.values_list("seq", flat=True)) == [1, 2, 3]
    assert not queue_insert.waiting_later(agent.pk, 2)
    assert queue_insert.flush_later() == 0


def test_rows_that_wait_are_kept_while_the_database_fails(customer_a, later, monkeypatch):
    from django.db import OperationalError

    agent = make_agent(customer_a, raw=new_raw_token())
    queue_insert.insert_later(row(agent.pk, 1), lambda: None)
    original = queue_insert._insert_rows

    def failing(alias, rows):
        raise OperationalError("database is locked")

    monkeypatch.setattr(queue_insert, "_insert_rows", failing)
    with pytest.raises(OperationalError):
        queue_insert.flush_later()
    queue_insert.insert_later(row(agent.pk, 2), lambda: None)
    assert queue_insert.waiting_later(agent.pk, 1)
    monkeypatch.setattr(queue_insert, "_insert_rows", original)  # the database is back
    assert [r.seq for r, _then in queue_insert._later] == [1, 2]
    assert queue_insert.flush_later() == 2
    assert sorted(IngestBatch.objects.values_list("seq", flat=True)) == [1, 2]


def test_beyond_the_bound_the_oldest_waiting_rows_are_dropped_and_said(customer_a, later, monkeypatch, caplog):
    monkeypatch.setattr(queue_insert, "LATER_MOST_WAITING", 3)
    agent = make_agent(customer_a, raw=new_raw_token())
    for seq in range(1, 6):
        queue_insert.insert_later(row(agent.pk, seq), lambda: None)
    assert [r.seq for r, _then in queue_insert._later] == [3, 4, 5]
    assert not queue_insert.waiting_later(agent.pk, 1) and queue_insert.waiting_later(agent.pk, 3)
    assert "1 forwarded batches' digests were dropped" in caplog.text


@pytest.fixture
def real_writer(monkeypatch):
    """This process' own writer thread, started by the first row, and stopped after the test (its
    connection would keep the test database from being dropped)."""
    monkeypatch.setattr(queue_insert, "_writer", None)
    yield
    if queue_insert._writer is not None:
        queue_insert._writer.stop()
        assert not queue_insert._writer.thread.is_alive()


def test_the_writer_thread_inserts_waiting_rows_within_moments(customer_a, real_writer):
    agent = make_agent(customer_a, raw=new_raw_token())
    woken = threading.Event()
    queue_insert.insert_later(row(agent.pk, 1), woken.set)
    assert woken.wait(10)
    assert list(IngestBatch.objects.values_list("seq", flat=True)) == [1]
    assert not queue_insert.waiting_later(agent.pk, 1)


def _newest(ids: list[int], at: float, value: float) -> tuple[list[int], list[float], list[float]]:
    return ids, [at] * len(ids), [value] * len(ids)


def test_newest_samples_of_an_agents_batches_in_a_row_merge_while_their_row_is_open(customer_a, later,
                                                                                      monkeypatch):
    from opsdesk.monitoring import ingest

    agent = make_agent(customer_a, raw=new_raw_token())
    layout, other = [11, 12], [11, 13]
    queue_insert.insert_newest_later(agent.pk, 1, 20, _newest(layout, 100.0, 1.0), lambda: None)
    queue_insert.insert_newest_later(agent.pk, 2, 20, _newest(layout, 130.0, 2.0), lambda: None)
    queue_insert.insert_newest_later(agent.pk, 1, 20, _newest(layout, 90.0, 9.0), lambda: None)  # not newer: no merge
    queue_insert.insert_newest_later(agent.pk, 3, 20, _newest(other, 160.0, 3.0), lambda: None)  # other series
    queue_insert.insert_later(row(agent.pk, 4), lambda: None)
    assert [r.seq for r, _then in queue_insert._later] == [2, 1, 3, 4]
    assert queue_insert.waiting_later(agent.pk, 1, or_after=True)
    assert not queue_insert.waiting_later(agent.pk, 5, or_after=True)
    assert later.wakes == 4  # a merge wakes no one
    # Within NEWEST_SECONDS only the plain row is due; the rows of newest samples stay open.
    assert queue_insert.flush_later(due_only=True) == 1
    assert list(IngestBatch.objects.values_list("seq", flat=True)) == [4]
    queue_insert.insert_newest_later(agent.pk, 5, 20, _newest(other, 190.0, 5.0), lambda: None)
    monkeypatch.setattr(queue_insert, "NEWEST_SECONDS", 0.0)
    assert queue_insert.flush_later(due_only=True) == 3
    rows = {seq: (samples, ingest.latest_samples(ingest.stored_body(bytes(payload))))
            for seq, samples, payload in IngestBatch.objects.exclude(seq=4).values_list("seq", "samples", "payload")}
    assert rows[2] == (40, [(11, 130.0, 2.0), (12, 130.0, 2.0)])
    assert rows[1] == (20, [(11, 90.0, 9.0), (12, 90.0, 9.0)])
    assert rows[5] == (40, [(11, 190.0, 5.0), (13, 190.0, 5.0)])
    assert not any(queue_insert.waiting_later(agent.pk, seq) for seq in (1, 2, 3, 5))
    assert not queue_insert.waiting_later(agent.pk, 1, or_after=True)
    # A row taken is closed: the next batch opens a row of its own.
    queue_insert.insert_newest_later(agent.pk, 6, 20, _newest(other, 220.0, 6.0), lambda: None)
    assert [r.seq for r, _then in queue_insert._later] == [6]


def test_a_row_of_newest_samples_goes_in_once_its_agent_is_quiet_before_newest_seconds(customer_a, later,
                                                                                         monkeypatch):
    monkeypatch.setattr(queue_insert, "NEWEST_SECONDS", 60.0)
    monkeypatch.setattr(queue_insert, "NEWEST_QUIET_SECONDS", 0.3)
    agent = make_agent(customer_a, raw=new_raw_token())
    layout = [21, 22]
    queue_insert.insert_newest_later(agent.pk, 1, 20, _newest(layout, 100.0, 1.0), lambda: None)
    time.sleep(0.2)
    queue_insert.insert_newest_later(agent.pk, 2, 20, _newest(layout, 130.0, 2.0), lambda: None)
    time.sleep(0.2)  # 0.4 s after the first batch, 0.2 s after the last: the agent still sends
    assert queue_insert.flush_later(due_only=True) == 0
    # The writer looks again within LOOK_SECONDS, not at the end of NEWEST_SECONDS.
    assert 0 < queue_insert._until_due() <= queue_insert.LOOK_SECONDS
    time.sleep(0.2)
    assert queue_insert.flush_later(due_only=True) == 1
    assert list(IngestBatch.objects.values_list("seq", "samples")) == [(2, 40)]


def test_the_writer_sleeps_later_seconds_for_plain_rows_alone(customer_a, later):
    agent = make_agent(customer_a, raw=new_raw_token())
    assert queue_insert._until_due() == 0.0  # nothing waits: nothing to sleep for
    queue_insert.insert_later(row(agent.pk, 1), lambda: None)
    assert queue_insert.LATER_SECONDS - 0.1 < queue_insert._until_due() <= queue_insert.LATER_SECONDS


def test_the_writer_thread_inserts_a_row_of_newest_samples_once_it_is_due(customer_a, real_writer, monkeypatch):
    monkeypatch.setattr(queue_insert, "LATER_SECONDS", 0.05)
    monkeypatch.setattr(queue_insert, "NEWEST_SECONDS", 0.3)
    agent = make_agent(customer_a, raw=new_raw_token())
    woken = threading.Event()
    queue_insert.insert_newest_later(agent.pk, 1, 10, _newest([1], 100.0, 1.0), woken.set)
    assert woken.wait(10)
    assert list(IngestBatch.objects.values_list("seq", flat=True)) == [1]


def test_a_filing_pass_weighs_merged_digests_by_their_payload_not_the_samples_they_stand_for(customer_a, later):
    from opsdesk.monitoring import filing

    series = [make_series(customer_a, name=f"m{i}") for i in range(3)]
    ids = [s.pk for s in series]
    agents = [make_agent(customer_a, raw=new_raw_token()) for _ in range(3)]
    for agent in agents:
        for seq in range(1, 33):  # 32 batches of 1,000 samples merged into one row
            queue_insert.insert_newest_later(agent.pk, seq, 1000, _newest(ids, 100.0 + seq, float(seq)), lambda: None)
    assert queue_insert.flush_later() == 3
    sizes = [len(bytes(p)) for p in IngestBatch.objects.values_list("payload", flat=True)]
    assert list(IngestBatch.objects.values_list("samples", flat=True)) == [32_000] * 3
    # A bound of 50,000 samples would have taken one row; a bound of their bytes takes all three.
    assert filing.file_pass(size=sum(sizes)) == (3, 96_000, False)
