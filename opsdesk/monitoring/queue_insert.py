"""The push's insert into the queue of batches, one statement for the pushes that meet at it.

A push's row was a statement and a commit of its own: on PostgreSQL about 200 µs of the server's
CPU and 80 of the web process' a row, against 63 and 12 a row when ten go in one statement
(measured with 19 KB packed payloads). Pushes are answered by several threads of a web process at
once, so a push that finds another's insert under way waits for it, then inserts its own row with
every row that came meanwhile, in one statement: group commit, as databases do with their logs.
Each push is answered only after the statement that carries its row has committed, and an error
reaches every push of the statement.

Only pushes outside a transaction meet here: a row inserted on another thread's connection inside
the caller's transaction would commit (or roll back) with that transaction instead.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing.util
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connections, transaction

from opsdesk.core.binary_sql import binary_cursor
from opsdesk.monitoring import ingest
from opsdesk.monitoring.models import IngestBatch
from opsdesk.monitoring.routers import queue_database

log = logging.getLogger(__name__)

_BATCH = IngestBatch._meta.db_table
_COLUMNS = "(agent_id, seq, samples, payload, received_at, filed_at)"
# Rows a statement carries at most (a web process has a few threads; this bounds the statement).
MOST_ROWS = 64


@dataclass(eq=False)
class QueueRow:
    agent_id: int
    seq: int
    samples: int
    payload: bytes
    received_at: object  # as the database's adapter wants it (a Unix time for `newest` rows, until they go in)
    done: bool = False
    stored: bool = False
    error: BaseException | None = None
    # A forwarded batch's digest of newest samples only (series ids, times, values), waiting: its
    # payload is packed when it goes in, and until then a newer batch of the agent with the same
    # series is merged into it (insert_newest_later). `merged`: every sequence number it stands for.
    newest: tuple[list[int], list[float], list[float]] | None = None
    merged: list[int] | None = None
    opened_at: float = 0.0  # time.monotonic() it began waiting (for a `newest` row: its first batch)
    touched_at: float = 0.0  # time.monotonic() of a `newest` row's last batch


_waiting: list[QueueRow] = []
_waiting_lock = threading.Lock()
# Held by the thread whose statement is under way; the pushes queued behind it find their rows
# inserted when they get it, or insert them with the others waiting.
_inserting = threading.Lock()


def insert(row: QueueRow) -> bool:
    """Insert the row (unless its agent and sequence number are there already); answers whether it
    was new. Raises what the database raised."""
    alias = queue_database()
    if connections[alias].in_atomic_block:
        return _insert_rows(alias, [row]) == {(row.agent_id, row.seq)}
    with _waiting_lock:
        _waiting.append(row)
    with _inserting:
        if not row.done:
            with _waiting_lock:
                rows = _waiting[:MOST_ROWS]
                del _waiting[:MOST_ROWS]
                if row not in rows:  # more than MOST_ROWS were waiting: ours goes too, the rest next
                    rows.append(row)
                    _waiting.remove(row)
            try:
                stored = _insert_rows(alias, rows)
            except BaseException as exc:
                for each in rows:
                    each.error, each.done = exc, True
            else:
                for each in rows:
                    each.stored, each.done = (each.agent_id, each.seq) in stored, True
    if row.error is not None:
        raise row.error
    return row.stored


def _insert_rows(alias: str, rows: list[QueueRow]) -> set[tuple[int, int]]:
    """One statement; answers the (agent, seq) of the rows that were new. A re-sent batch (or two
    pushes racing) is settled by the unique constraint: no new row."""
    values = ", ".join(["(%s, %s, %s, %s, %s, NULL)"] * len(rows))
    params: list = []
    for row in rows:
        params += [row.agent_id, row.seq, row.samples, row.payload, row.received_at]
    with binary_cursor(alias) as cursor:  # the payloads as binary parameters
        cursor.execute(f"INSERT INTO {_BATCH} {_COLUMNS} VALUES {values} "
                       f"ON CONFLICT (agent_id, seq) DO NOTHING RETURNING agent_id, seq", params)
        return {(agent_id, seq) for agent_id, seq in cursor.fetchall()}


# --- rows that may wait ------------------------------------------------------------------------
#
# A forwarded batch's digest (forwarding.py) stands for samples the metric store holds already:
# the push has answered once the store took them, and the digest only feeds last values and alert
# rules. Its row waits up to LATER_SECONDS here and goes in with every other one that came
# meanwhile, in one statement from a thread of its own: a row each push, even shared by the
# threads that meet, was a third of the web process' CPU of a forwarded push and most of the
# database's (bench/ingest.py; docs/performance.md, "Round eight"). A process that stops writes
# what waits as it exits; one killed loses at most NEWEST_SECONDS of digests (their samples are in
# the store; last values wait for the agent's next batch). While the database fails the rows are kept
# and tried again, up to LATER_MOST_WAITING (the oldest are dropped beyond, with an error in the
# log: the samples are in the store, only their last values and alert rules miss them).

LATER_SECONDS = 1.0
# A row of newest samples stays open to merging (see insert_newest_later) until its agent has sent
# nothing for NEWEST_QUIET_SECONDS, and at most NEWEST_SECONDS after its first batch. An agent on
# its interval (30 s) has its last values in within half a second; one that sends several batches
# a second (a spool sent after an outage) makes a row every few seconds instead of one a batch.
# Closing on quiet keeps the last values of an agent that stopped sending from waiting the full
# NEWEST_SECONDS (with 5 s alone, a run of bench/ingest.py ended up to 5 s after its last push).
NEWEST_SECONDS = 5.0
NEWEST_QUIET_SECONDS = 0.5
# How often the writer thread looks at the rows while rows of newest samples wait (a look is a scan
# of a list of at most one row per agent under the lock).
LOOK_SECONDS = 0.25
LATER_RETRY_SECONDS = 5.0
LATER_MOST_WAITING = 5_000
LATER_ROWS_PER_STATEMENT = 500

_later: list[tuple[QueueRow, Callable[[], None]]] = []
_later_keys: set[tuple[int, int]] = set()
_later_highest: dict[int, int] = {}  # agent id -> the highest sequence number waiting
_later_lock = threading.Lock()
# Per agent: its waiting row of newest samples that a newer batch may still be merged into.
_merging: dict[int, QueueRow] = {}


class _Writer:
    """The thread of a process that inserts the rows that wait (made on the first, in the process
    that has them: never before a fork)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.ready = threading.Event()
        self.failing = False
        self.stopping = False
        self.thread = threading.Thread(target=self.run, name="opsdesk-queue-later", daemon=True)
        self.thread.start()
        multiprocessing.util.Finalize(None, flush_later, exitpriority=10)  # as the process exits

    def wake(self) -> None:
        self.ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Insert what waits and end the thread, closing its database connection (tests: a
        connection left open keeps the test database from being dropped)."""
        self.stopping = True
        self.ready.set()
        self.thread.join(timeout)

    def run(self) -> None:
        alias = queue_database()
        while not self.stopping:
            self.ready.wait()
            self.ready.clear()
            if not self.stopping:
                time.sleep(_until_due())  # the rows that come meanwhile go in the same statement
            try:
                flush_later(due_only=not self.stopping)
                with _later_lock:
                    if _later:  # rows not yet due: looked at again when the first is (_until_due)
                        self.ready.set()
            except Exception:
                connections[alias].close()
                if not self.failing:  # once per outage, not at every try
                    log.exception("forwarded batches' digests could not be queued; tried again every %s s",
                                  LATER_RETRY_SECONDS)
                self.failing = True
                time.sleep(LATER_RETRY_SECONDS)
                self.ready.set()
            else:
                if self.failing:
                    log.warning("forwarded batches' digests are queued again")
                self.failing = False
                connections[alias].close_if_unusable_or_obsolete()
        connections[alias].close()


_writer: _Writer | None = None


def insert_later(row: QueueRow, then: Callable[[], None]) -> None:
    """Have the row inserted within LATER_SECONDS, then call `then` (after its commit; once per
    statement for each distinct callable)."""
    row.opened_at = time.monotonic()
    with _later_lock:
        _add_later(row, then)
    _wake_writer()


def insert_newest_later(agent_id: int, seq: int, samples: int, newest: tuple[list[int], list[float], list[float]],
                        then: Callable[[], None]) -> None:
    """As insert_later, for the digest of a forwarded batch that holds only its series' newest
    samples (`newest`: ids, times, values; the row's payload is packed, and its time adapted for
    the database, when it goes in). While the agent's row of an earlier batch with the very same
    series (the same `ids` list: forwarding keeps one per layout) still waits, this batch is merged
    into it: the row takes this batch's sequence number, newest samples and time, and counts the
    samples of both. A host agent sends its batches in order (agent/sender.py), so the later
    batch's newest samples are the newer ones; filing then reads one row instead of one per batch
    for an agent that sends several batches a second (a spool sent after an outage;
    bench/ingest.py's agents). The hot path of every forwarded push: a merge is a few
    assignments under the lock, no row made and no thread woken."""
    now, monotonic = time.time(), time.monotonic()
    with _later_lock:
        waiting = _merging.get(agent_id)
        if waiting is not None and waiting.newest[0] is newest[0] and seq > waiting.seq:
            waiting.merged.append(seq)
            waiting.seq, waiting.newest, waiting.received_at = seq, newest, now
            waiting.touched_at = monotonic
            waiting.samples += samples
            _later_keys.add((agent_id, seq))
            if _later_highest.get(agent_id, 0) < seq:
                _later_highest[agent_id] = seq
            return
        row = QueueRow(agent_id, seq, samples, b"", now, newest=newest, merged=[seq], opened_at=monotonic,
                       touched_at=monotonic)
        _merging[agent_id] = row
        _add_later(row, then)
    _wake_writer()


def _add_later(row: QueueRow, then: Callable[[], None]) -> None:
    _later.append((row, then))
    _later_keys.add((row.agent_id, row.seq))
    _later_highest[row.agent_id] = max(_later_highest.get(row.agent_id, 0), row.seq)
    if len(_later) > LATER_MOST_WAITING:
        dropped = _later[:len(_later) - LATER_MOST_WAITING]
        del _later[:len(dropped)]
        _forget_keys(each for each, _then in dropped)
        log.error("%d forwarded batches' digests were dropped: their samples are in the metric store, their "
                  "last values and alert rules miss them (the queue's database is failing)", len(dropped))


def _forget_keys(rows: Iterable[QueueRow]) -> None:
    """The rows went in (or were dropped): no longer waiting. Under _later_lock."""
    for row in rows:
        if _merging.get(row.agent_id) is row:
            del _merging[row.agent_id]
        _later_keys.difference_update((row.agent_id, seq) for seq in (row.merged or (row.seq,)))
        if _later_highest.get(row.agent_id, 0) <= row.seq:
            _later_highest.pop(row.agent_id, None)


def _wake_writer() -> None:
    global _writer
    with _later_lock:
        if _writer is None or _writer.pid != os.getpid():
            _writer = _Writer()
        writer = _writer
    writer.wake()


def _due(row: QueueRow) -> float:
    """When a waiting row is to go in (time.monotonic())."""
    if row.newest is None:
        return row.opened_at + LATER_SECONDS
    return min(row.opened_at + NEWEST_SECONDS, row.touched_at + NEWEST_QUIET_SECONDS)


def _until_due() -> float:
    """How long the writer thread sleeps before it looks at the rows again: until the first is due,
    at most LOOK_SECONDS while rows of newest samples (merged into meanwhile) wait."""
    with _later_lock:
        first = min((_due(row) for row, _then in _later), default=0.0)
        newest = any(row.newest is not None for row, _then in _later)
    wait = max(0.0, first - time.monotonic())
    return min(wait, LOOK_SECONDS) if newest else wait


def waiting_later(agent_id: int, seq: int, *, or_after: bool = False) -> bool:
    """Whether the batch's row waits to be inserted; `or_after`: or a row of a later batch of the
    agent (which stands for this one, for an agent that sends in order)."""
    if or_after:
        return _later_highest.get(agent_id, 0) >= seq
    return (agent_id, seq) in _later_keys


def flush_later(*, due_only: bool = False) -> int:
    """Insert every row that waits, now (`due_only`: but rows of newest samples not yet due, see
    NEWEST_QUIET_SECONDS; the other rows go with those due); answers how many went in. Raises what
    the database raised, the rows kept for the next try."""
    with _later_lock:
        taken: list[tuple[QueueRow, Callable[[], None]]] = []
        kept: list[tuple[QueueRow, Callable[[], None]]] = []
        now = time.monotonic() if due_only else float("inf")
        for entry in _later:
            (taken if entry[0].newest is None or _due(entry[0]) <= now else kept).append(entry)
        _later[:] = kept
        for row, _then in taken:  # taken: no more merging into them
            if _merging.get(row.agent_id) is row:
                del _merging[row.agent_id]
    if not taken:
        return 0
    alias = queue_database()
    for row, _then in taken:
        if row.newest is not None and not row.payload:
            head = {"seq": row.seq, ingest.IN_STORE: True, ingest.FORWARDED: row.samples}
            row.payload = ingest.packed(head, (), row.newest)
            row.received_at = connections[alias].ops.adapt_datetimefield_value(
                dt.datetime.fromtimestamp(row.received_at, tz=dt.UTC))
    try:
        with transaction.atomic(using=alias):
            for start in range(0, len(taken), LATER_ROWS_PER_STATEMENT):
                _insert_rows(alias, [row for row, _then in taken[start:start + LATER_ROWS_PER_STATEMENT]])
    except BaseException:
        with _later_lock:
            _later[:0] = taken
        raise
    with _later_lock:
        _forget_keys(row for row, _then in taken)
    for then in {id(then): then for _row, then in taken}.values():
        then()
    return len(taken)
