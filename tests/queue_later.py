"""The queue's rows that wait (queue_insert.insert_later), held for the test to insert."""

from __future__ import annotations

import os

import pytest

from opsdesk.monitoring import queue_insert


class FakeWriter:
    """Stands for the process' thread that inserts the queue's rows that wait
    (queue_insert.insert_later): a test inserts them by calling queue_insert.flush_later."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


@pytest.fixture
def later(monkeypatch) -> FakeWriter:
    """Rows that wait stay waiting until the test flushes them, in lists of the test's own."""
    writer = FakeWriter()
    monkeypatch.setattr(queue_insert, "_writer", writer)
    monkeypatch.setattr(queue_insert, "_later", [])
    monkeypatch.setattr(queue_insert, "_later_keys", set())
    monkeypatch.setattr(queue_insert, "_later_highest", {})
    monkeypatch.setattr(queue_insert, "_merging", {})
    return writer
