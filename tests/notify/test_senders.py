"""A worker's sender threads (opsdesk/notify/senders.py) and the claim that lets several senders
at once (threads, processes) each send a notification exactly once: woken in-process when the row
commits, a wake-up for a busy destination kept, one request in flight per destination, and on
PostgreSQL claims that take turns per destination, not on the channel's row."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction

from opsdesk.notify import delivery, senders, services
from opsdesk.notify.models import Channel, DeliveryAttempt, Notification
from tests.notify.test_delivery import notify, states, webhook

A, B, C = (1, ""), (2, ""), (3, "ops@example.com")

# Serialized rollback, as every transactional test here: a plain flush makes the content types
# again under new ids, and the serialized tests that follow in this worker could not load theirs.
transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: connections writing at once (SQLite's test database is one)")


# --- the bookkeeping of the threads ----------------------------------------------------------------

def idle() -> senders.Senders:
    """Senders whose threads are not started: the test takes and finishes destinations itself."""
    return senders.Senders(lambda destination: False)


def test_destinations_are_served_in_turn_and_a_busy_one_goes_to_the_back():
    s = idle()
    s.wake(A)
    s.wake(B)
    s.wake(A)  # already waiting: once is enough
    assert s.take(0) == A
    s.done(A, more=True)  # it made a request: more may be due, after B
    assert s.take(0) == B
    s.done(B, more=False)
    assert s.take(0) == A
    s.done(A, more=False)
    assert s.take(0) is None


def test_a_destination_woken_while_in_hand_is_looked_at_again_after():
    s = idle()
    s.wake(A)
    assert s.take(0) == A
    s.wake(A)  # its row committed while a thread was at A (whose claim may have missed it)
    assert s.take(0) is None  # never in two threads' hands at once
    s.done(A, more=False)  # the claim found nothing, but the wake-up was kept
    assert s.take(0) == A
    s.done(A, more=False)
    assert s.take(0) is None


def test_a_destination_woken_for_later_comes_when_its_time_does():
    s = idle()
    s.wake(C, delay=0.05)  # a rate limit's or a retry's time
    s.wake(A)
    assert s.take(0) == A
    assert s.take(0) is None  # C's time has not come
    assert s.take(5) == C


def test_only_a_worker_has_sender_threads(monkeypatch):
    monkeypatch.setattr(senders, "_enabled", False)
    monkeypatch.setattr(senders, "_senders", None)
    assert senders.local() is None  # the web, the scheduler, the tests: a task wakes a sender
    senders._on_worker_init()  # Celery's worker_init
    assert senders._enabled is True


# --- in a worker process ---------------------------------------------------------------------------

@pytest.fixture
def worker_senders(monkeypatch):
    """This process as a worker: its sender threads start with the first wake-up. Yields the names
    of the threads each request was made from."""
    made_by: list[str] = []

    def step(destination):
        made_by.append(threading.current_thread().name)
        return delivery_step(destination)

    delivery_step = delivery.step
    monkeypatch.setattr(delivery, "step", step)
    monkeypatch.setattr(senders, "_enabled", True)
    monkeypatch.setattr(senders, "_senders", None)
    yield made_by
    if senders._senders is not None:
        senders._senders.stop(15)


@transactional
def test_a_worker_sends_from_its_own_threads_as_soon_as_the_row_commits(vendor, worker_senders):
    channel = webhook(vendor)
    with transaction.atomic():
        row = notify(channel, 1)  # the alert's transaction: the wake-up waits for the commit
    assert vendor.arrived.wait(10)
    assert senders.local().wait_idle(15)  # the request in hand is settled
    assert vendor.keys() == [row.key]
    assert states(row) == ["sent"]
    assert worker_senders and all(name.startswith("notify-sender-") for name in worker_senders)


@transactional
def test_in_a_worker_the_task_and_the_sweep_hand_over_to_the_threads(vendor, worker_senders, monkeypatch):
    channel = webhook(vendor)
    with monkeypatch.context() as m:
        m.setattr(services, "wake_sender", lambda ids, destination=None: None)  # a lost wake-up
        row, later = notify(channel, 1), notify(channel, 2)
    Notification.objects.filter(pk=later.pk).update(due_at=later.due_at + dt.timedelta(days=1))

    assert delivery.send([row.pk]) == 0  # the task's thread hands over and is free again
    assert senders.local().wait_idle(15)
    assert states(row) == ["sent"] and vendor.keys() == [row.key]

    Notification.objects.filter(pk=later.pk).update(due_at=row.due_at)
    assert delivery.sweep() == 1
    assert senders.local().wait_idle(15)
    assert states(later) == ["sent"] and vendor.keys() == [row.key, later.key]
    assert len(worker_senders) >= 2 and all(name.startswith("notify-sender-") for name in worker_senders)


# --- several senders at once -----------------------------------------------------------------------

@transactional
def test_a_row_that_finds_its_destination_busy_goes_with_the_next_request_not_the_sweep(vendor):
    channel = webhook(vendor)
    vendor.release = threading.Event()  # the vendor answers only when the test says
    first: list[Notification] = []

    def earlier_sender() -> None:
        try:
            first.append(notify(channel, 1))  # committed: its wake-up sends it, and waits on the vendor
        finally:
            connections.close_all()

    thread = threading.Thread(target=earlier_sender)
    thread.start()
    assert vendor.arrived.wait(10)

    # Committed while the first request is in flight: its own wake-up finds the destination busy.
    second = notify(channel, 2)
    assert states(second) == ["pending"] and len(vendor.requests) == 1
    vendor.release.set()
    thread.join(30)
    assert not thread.is_alive()

    # The busy sender claimed again after its request and took it; no sweep ran.
    assert vendor.keys() == [first[0].key, second.key]
    assert states(first[0], second) == ["sent", "sent"]


@postgresql_only
@transactional
def test_two_senders_claiming_at_once_send_each_notification_exactly_once(vendor, monkeypatch):
    channel = webhook(vendor)
    monkeypatch.setattr(delivery, "BATCH_LIMIT", 3)  # many requests: many claims to race on
    monkeypatch.setattr(services, "wake_sender", lambda ids, destination=None: None)  # the test's senders only
    rows = [notify(channel, n) for n in range(40)]
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def sender() -> None:
        try:
            barrier.wait()
            delivered = 0
            while Notification.objects.filter(channel=channel).exclude(state="sent").exists():
                delivered += delivery.deliver((channel.pk, ""))
            counts.append(delivered)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(counts) == 40
    assert sorted(vendor.keys()) == sorted(row.key for row in rows)  # each once
    assert vendor.most_in_flight == 1  # one request at a time to one destination: the digest and limits hold
    assert set(Notification.objects.values_list("state", "attempts")) == {("sent", 1)}
    assert DeliveryAttempt.objects.count() == 40


@postgresql_only
@transactional
def test_a_claim_takes_no_lock_on_the_channels_row(vendor, monkeypatch):
    """Claims take turns per destination, not per channel: a transaction holding the channel's row
    (a person saving the channel, the settle of another address writing the channel's health)
    does not hold up a claim for this address."""
    channel = Channel.objects.create(name="mail", kind="webhook", config={"url": vendor.base_url + "/hook"})
    monkeypatch.setattr(services, "wake_sender", lambda ids, destination=None: None)  # the test sends
    row = services.queue(channel, {"title": "disk full"}, key="mail:1", address="ops@example.com")
    locked, finish = threading.Event(), threading.Event()

    def other_address_settling() -> None:
        try:
            with transaction.atomic():
                Channel.objects.filter(pk=channel.pk).update(last_error="HTTP 502")
                locked.set()
                finish.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_address_settling)
    thread.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            # Waiting for a lock fails at once instead of hanging the test.
            cursor.execute("SET lock_timeout = '2s'")
        try:
            assert delivery.deliver((channel.pk, "ops@example.com")) == 1
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
    finally:
        finish.set()
        thread.join(30)
    assert vendor.keys() == [row.key]
    assert states(row) == ["sent"]
