"""Filing: pushed batches (stored whole, at once, by the push) go into per-series storage here, off
the request path and many batches at a time.

One pass takes the oldest unfiled batches, groups their samples by series (finding or creating the
series rows), writes one chunk per series to the store, updates each series' last value, records
the check results the batches carry, and marks the batches filed, all in one transaction: a pass
that fails leaves its batches unfiled for the next one, and nothing half-written.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Max
from django.db.models.functions import Length
from django.utils import timezone

from opsdesk.core.binary_sql import binary_cursor
from opsdesk.monitoring import ingest, last_values, series_ids
from opsdesk.monitoring.models import Agent, Check, IngestBatch, StoreCursor
from opsdesk.monitoring.series_ids import GroupKey
from opsdesk.monitoring.store import Points, get_store
from opsdesk.monitoring.store.base import MetricStoreError

log = logging.getLogger(__name__)

# A pass takes the oldest unfiled batches up to either bound. Larger passes mean fewer, larger
# chunks (one per series and pass): a chunk row and a last-value update per series cost the same for
# 10 samples as for 50, and were most of a pass (measured in process on 1,000,000 samples of 200
# agents: 1.9 µs a sample at 200 batches a pass, 0.9 at 1,000). The byte bound caps the memory of a
# pass, whose batches are read at once, whatever their sizes: 8 MB is 625 of a host agent's packed
# 1,000-sample batches (12.8 KB each). It weighs a batch by its payload, not its samples: a forwarded
# batch's digest holds its series' newest samples (2.4 KB for 100 series), however many samples it
# stands for. Counted by samples, digests of merged batches (32,000 samples each) made passes of 15
# rows, 13 passes at the end of a run of bench/ingest.py into VictoriaMetrics instead of one.
BATCHES_PER_PASS = 1000
BYTES_PER_PASS = 8_000_000
_BATCH = IngestBatch._meta.db_table
_AGENT = Agent._meta.db_table
# (item id, name, sorted label pairs) -> series id; a series, once made, keeps its id for good.
_series_ids: dict[tuple, int] = {}
_SERIES_CACHE_LIMIT = 500_000



# A series' times and values in a pass: arrays of doubles, so that a packed batch's numbers are
# copied in as bytes (ingest.PACKED), never made into Python numbers one by one.
Numbers = array


class _Pass:
    """The samples of one filing pass, grouped by series."""

    def __init__(self) -> None:
        self.groups: dict[GroupKey, tuple[Numbers, Numbers]] = {}
        # Samples the store holds already (ingest.IN_STORE: a push forwarded them), seen for the
        # series' last values and the alert rules only, never written again.
        self.in_store: dict[GroupKey, tuple[Numbers, Numbers]] = {}
        self.in_store_keys: dict[int, dict[Any, tuple[Numbers, Numbers, GroupKey]]] = {}
        # The newest sample of the other series of such batches, by series id.
        self.latest: last_values.Newest = {}
        # Per item: (name, *label pairs as sent) -> its group, so that a sample costs a tuple and a
        # dict look-up; the sorted key of the series is made once per pass and series.
        self.sent_keys: dict[int, dict[Any, tuple[Numbers, Numbers]]] = {}
        self.packed_keys: dict[int, dict[Any, tuple[Numbers, Numbers, GroupKey]]] = {}
        self.customer_of: dict[int, int] = {}
        # Groups whose samples may be out of time order (all but those of packed batches, which
        # are in order, appended in order): the store sorts these.
        self.unordered: set[GroupKey] = set()
        self.check_of: dict[GroupKey, int] = {}
        self.results: list[tuple[int, dict[str, Any]]] = []
        self.samples = 0

    def _slot(self, item_id: int, name: str, labels: dict[str, str],
              groups: dict[GroupKey, tuple[Numbers, Numbers]] | None = None) -> tuple[Numbers, Numbers, GroupKey]:
        """The series' times and values in this pass (in `groups`, by default those to write), and its key."""
        groups = self.groups if groups is None else groups
        key = (item_id, name, tuple(sorted(labels.items())) if labels else ())
        group = groups.get(key)
        if group is None:
            group = groups[key] = (array("d"), array("d"))
        return (*group, key)

    def keys(self) -> Iterable[GroupKey]:
        """Every series of the pass, written or not."""
        return self.groups.keys() | self.in_store.keys() if self.in_store else self.groups.keys()

    def seen(self) -> dict[GroupKey, tuple[Numbers, Numbers]]:
        """Every series' samples in the pass, those the store holds already included (a series
        in both gets both, and is marked unordered)."""
        if not self.in_store:
            return self.groups
        seen = dict(self.groups)
        for key, (ts, values) in self.in_store.items():
            if key in seen:
                seen[key] = (seen[key][0] + ts, seen[key][1] + values)
                self.unordered.add(key)
            else:
                seen[key] = (ts, values)
        return seen

    def group(self, item_id: int, name: str, labels: dict[str, str]) -> tuple[Numbers, Numbers]:
        """The series' times and values, for samples of no known order (all but packed ones)."""
        ts, values, key = self._slot(item_id, name, labels)
        self.unordered.add(key)
        return ts, values

    def add(self, item_id: int, name: str, labels: dict[str, str], ts: float, value: float) -> None:
        group = self.group(item_id, name, labels)
        group[0].append(ts)
        group[1].append(value)
        self.samples += 1

    def add_samples(self, item_id: int, samples: list[dict[str, Any]]) -> None:
        sent = self.sent_keys.get(item_id)
        if sent is None:
            sent = self.sent_keys[item_id] = {}
        for sample in samples:
            labels = sample["labels"]
            name = sample["name"]
            key = (name, *labels.items()) if labels else name
            group = sent.get(key)
            if group is None:
                group = sent[key] = self.group(item_id, name, labels)
            group[0].append(sample["ts"])
            group[1].append(sample["value"])
        self.samples += len(samples)

    def add_columns(self, item_id: int, columns: list[list]) -> None:
        sent = self.sent_keys.get(item_id)
        if sent is None:
            sent = self.sent_keys[item_id] = {}
        count = 0
        for name, labels, ts, values in columns:
            key = (name, *labels.items()) if labels else name
            group = sent.get(key)
            if group is None:
                group = sent[key] = self.group(item_id, name, labels)
            group[0].extend(ts)
            group[1].extend(values)
            count += len(ts)
        self.samples += count

    def add_packed(self, item_id: int, series: list[tuple[str, dict, memoryview, memoryview]],
                   in_store: bool = False) -> None:
        keys_of, groups = (self.in_store_keys, self.in_store) if in_store else (self.packed_keys, self.groups)
        sent = keys_of.get(item_id)
        if sent is None:
            sent = keys_of[item_id] = {}
        count = 0
        unordered = self.unordered
        for name, labels, ts, values in series:
            key = (name, *labels.items()) if labels else name
            group = sent.get(key)
            if group is None:
                group = sent[key] = self._slot(item_id, name, labels, groups)
            if _SWAP:  # the stored doubles are little-endian
                ts, values = _swapped(ts), _swapped(values)
            times = group[0]
            before = len(times)
            times.frombytes(ts)
            group[1].frombytes(values)
            # Each batch's series is in time order: the group stays so while each starts after
            # the one before ends (an agent's batches arrive in order).
            if before and before < len(times) and times[before - 1] > times[before]:
                unordered.add(group[2])
            count += len(times) - before
        self.samples += count

    def add_forwarded(self, item_id: int, body: dict[str, Any]) -> None:
        """A forwarded batch's digest (ingest.IN_STORE): counted as the samples it stands for."""
        before = self.samples
        self.add_packed(item_id, body["packed"], in_store=True)
        latest = self.latest
        for series_id, ts, value in ingest.latest_samples(body):
            old = latest.get(series_id)
            if old is None or old[0] <= ts:
                latest[series_id] = (ts, value)
        self.samples = before + body.get(ingest.FORWARDED, 0)

    def add_batch(self, agent: Agent, body: dict[str, Any], checks: dict[int, Check]) -> None:
        item = agent.configuration_item_id
        if item is not None:
            self.customer_of[item] = agent.customer_id
            samples = body.get("samples")
            if samples:
                self.add_samples(item, samples)
            series = body.get("packed")
            if body.get(ingest.IN_STORE):
                self.add_forwarded(item, body)
            elif series:
                self.add_packed(item, series)
            columns = body.get("columns")
            if columns:
                self.add_columns(item, columns)
            for series in body.get("series", ()):
                ts, values = self.group(item, series["name"], series["labels"])
                points = series["points"]
                ts.extend([point[0] for point in points])
                values.extend([point[1] for point in points])
                self.samples += len(points)
        for result in body.get("checks", ()):
            check = checks.get(result["id"])
            if check is None:  # deleted since the push; its results go with it
                continue
            self.customer_of[check.configuration_item_id] = check.customer_id
            self.results.append((check.id, result))
            for sample in result.get("samples", ()):
                self.add(check.configuration_item_id, sample["name"], sample["labels"], result["ts"], sample["value"])
                key = (check.configuration_item_id, sample["name"], tuple(sorted(sample["labels"].items())))
                self.check_of[key] = check.id


_SWAP = sys.byteorder != "little"


def _swapped(data: memoryview) -> bytes:
    numbers = array("d")
    numbers.frombytes(data)
    numbers.byteswap()
    return numbers.tobytes()


def _resolve_series(work: _Pass, made: dict[GroupKey, int]) -> dict[GroupKey, int]:
    """Series ids for every group of the pass, making the rows that are missing. Ids found here go
    into `made`, and into the process's cache only once the pass has committed."""
    if len(_series_ids) > _SERIES_CACHE_LIMIT:
        _series_ids.clear()
    ids: dict[GroupKey, int] = {}
    missing = []
    for key in work.keys():
        found = _series_ids.get(key)
        if found is None:
            missing.append(key)
        else:
            ids[key] = found
    if missing:
        found_now = series_ids.resolve(missing, work.customer_of, work.check_of)
        made.update(found_now)
        ids.update(found_now)
    return ids


def _newest(ids: dict[GroupKey, int], groups: dict[GroupKey, tuple[Numbers, Numbers]], unordered: set[GroupKey],
            latest: last_values.Newest) -> last_values.Newest:
    """Each series' newest sample in the pass."""
    newest = dict(latest)
    for key, (ts, values) in groups.items():
        index = ts.index(max(ts)) if key in unordered else len(ts) - 1
        series_id, at = ids[key], float(ts[index])
        old = newest.get(series_id)
        if old is None or old[0] <= at:
            newest[series_id] = (at, float(values[index]))
    return newest


def _group(batches: list[tuple[int, int, Any]]) -> tuple[_Pass, dict[int, Check]]:
    """The batches' samples grouped by series. Each body is parsed, grouped and let go in turn:
    200 bodies of 1,000 samples parsed first and grouped after kept 400,000 dicts alive at once,
    and the garbage collector's passes over them cost more than the parsing."""
    agents = Agent.objects.in_bulk({agent_id for _id, agent_id, _payload in batches})
    work = _Pass()
    checks: dict[int, Check] = {}
    for _id, agent_id, payload in batches:
        agent = agents.get(agent_id)
        if agent is None:  # deleted since it pushed: its batches go with it
            continue
        body = ingest.stored_body(payload)
        if "checks" in body:
            wanted = {r["id"] for r in body["checks"]} - checks.keys()
            if wanted:
                checks.update(Check.objects.in_bulk(wanted))
        work.add_batch(agent, body, checks)
    return work, checks


_NO_LABELS: dict[str, str] = {}  # Points' labels for a store that does not read them (never written to)


def _file(store, batches: list[tuple[int, int, Any]], work: _Pass, checks: dict[int, Check],
          made: dict[GroupKey, int], *, mark: bool = True, defer_last_values: bool = False) -> None:
    """The writes of a pass, inside its transaction."""
    from opsdesk.monitoring import services

    ids = _resolve_series(work, made)
    customer_of, unordered, labelled = work.customer_of, work.unordered, store.needs_labels
    store.write([Points(series_id=ids[key], item_id=key[0], customer_id=customer_of[key[0]], name=key[1],
                        labels=dict(key[2]) if labelled else _NO_LABELS, ts=ts, values=values,
                        ordered=key not in unordered)
                 for key, (ts, values) in work.groups.items()])
    seen = work.seen()
    if seen or work.latest:
        last_values.record(_newest(ids, seen, unordered, work.latest), defer=defer_last_values)
    if work.results:
        services.record_check_results(work.results, checks)
    # Alert rules see the pass's samples and results here, in its transaction: an alert and its
    # first notifications commit with the data that raised them (nothing polls for them).
    from opsdesk.monitoring.alerting.evaluate import on_filed

    on_filed(seen, ids, work.customer_of, work.results, checks)
    # The samples are in the store now: the body is let go (the row stays a while, for /metrics
    # and for telling a re-sent batch from a new one; forget_filed removes it).
    if mark:
        IngestBatch.objects.filter(id__in=[b[0] for b in batches]).update(filed_at=timezone.now(), payload=b"")


# SQLite has one writer at a time, and a push waits for it (up to its busy timeout): a pass there
# reads and groups its batches first and takes the write lock only for the writes. One pass at a
# time per process, so two threads of a worker do not group the same batches.
_sqlite_pass = threading.Lock()


@contextmanager
def _without_gc() -> Iterator[None]:
    """A pass allocates millions of short-lived dicts and tuples, freed by reference counting;
    the cyclic collector's runs over the process's long-lived objects meanwhile cost about a third
    of the pass (measured: 5.5 against 3.4 µs a sample). It runs again after the pass."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Filed(NamedTuple):
    """What a pass filed: batches, the samples they stand for, and whether it stopped at a bound
    with more batches waiting."""
    batches: int
    samples: int
    full: bool


def file_pass(limit: int = BATCHES_PER_PASS, size: int = BYTES_PER_PASS, *,
              defer_last_values: bool = False) -> Filed:
    """File the oldest unfiled batches, up to `limit` of them and `size` bytes of payload (at
    least one batch). `defer_last_values`: see last_values.record."""
    with _without_gc():
        try:
            return _file_pass(limit, size, defer_last_values)
        except _TROUBLE:
            raise
        except Exception:
            # A batch that cannot be read fails every pass that takes it, for good, and all the
            # batches behind it wait: it is set aside and the pass tried again. Anything else
            # (a failing write, a bug in an alert rule's evaluation) is raised, and nothing set aside.
            if not _set_aside_unreadable(limit):
                raise
            return _file_pass(limit, size, defer_last_values)


# The store or the database in trouble, not the batches: the pass is tried again later as it is.
_TROUBLE = (MetricStoreError, OperationalError, InterfaceError)


def _set_aside_unreadable(limit: int) -> list[int]:
    """Mark the oldest unfiled batches that cannot be read or grouped as filed, their payloads kept
    (for a day, as every filed row) to be looked at; answers their ids."""
    rows = list(IngestBatch.objects.filter(filed_at=None).order_by("id")
                .values_list("id", "agent_id", "payload")[:limit])
    unreadable = []
    for row in rows:
        try:
            _group([row])
        except _TROUBLE:
            raise
        except Exception as exc:
            log.error("batch %s (agent %s) cannot be read and is set aside, its payload kept for a day: %s: %s",
                      row[0], row[1], type(exc).__name__, exc)
            unreadable.append(row[0])
    if unreadable:
        IngestBatch.objects.filter(id__in=unreadable, filed_at=None).update(filed_at=timezone.now())
    return unreadable


def _within(weighed: list[tuple[int, int]], size: int) -> list[int]:
    """The ids of the first batches (id, payload bytes) whose payloads stay within `size`, at least
    one."""
    ids, total = [], 0
    for batch_id, length in weighed:
        if ids and total + length > size:
            break
        ids.append(batch_id)
        total += length
    return ids


def _read_batches(ids: list[int]) -> list[tuple[int, int, Any]]:
    """(id, agent id, payload) of the batches, in order, their payloads read as binary (PostgreSQL)."""
    with binary_cursor() as cursor:
        cursor.execute(f"SELECT id, agent_id, payload FROM {_BATCH} WHERE id = ANY(%s) ORDER BY id", [ids])
        return cursor.fetchall()


# The id of the last batch filed, where the queue is a database of its own (StoreCursor's name).
CURSOR = "filed-batches"


def _filed_up_to() -> int:
    return StoreCursor.objects.filter(name=CURSOR).values_list("value", flat=True).first() or 0


def _mark_filed(up_to: int) -> None:
    """Mark the queue's batches up to `up_to` filed and let their bodies go (after the pass's
    commit; a pass after a crash in between marks what the one before filed)."""
    if up_to:
        IngestBatch.objects.filter(filed_at=None, id__lte=up_to).update(filed_at=timezone.now(), payload=b"")


def _agents_seen(batch_ids: list[int]) -> None:
    """The agents' last_seen_at and last_seq from the batches of a pass, in its transaction (the
    push does not set them: on SQLite the agents' table is in the other database, and everywhere
    it was an update of the agent's row per push). A re-sent older batch never moves them back."""
    seen = list(IngestBatch.objects.filter(id__in=batch_ids).order_by().values("agent_id")
                .annotate(seq=Max("seq"), at=Max("received_at")).values_list("agent_id", "seq", "at"))
    if not seen:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"UPDATE {_AGENT} AS a SET last_seen_at = GREATEST(a.last_seen_at, v.at), "
                           f"last_seq = GREATEST(a.last_seq, v.seq) "
                           f"FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS v(id, seq, at) "
                           f"WHERE a.id = v.id",
                           [[row[0] for row in seen], [row[1] for row in seen], [row[2] for row in seen]])
            return
        ops = connection.ops
        cursor.executemany(f"UPDATE {_AGENT} SET last_seen_at = max(coalesce(last_seen_at, ''), %s), "
                           f"last_seq = max(last_seq, %s) WHERE id = %s",
                           [(ops.adapt_datetimefield_value(at), seq, agent_id) for agent_id, seq, at in seen])


def _file_pass(limit: int, size: int, defer_last_values: bool) -> Filed:
    store = get_store()
    made: dict[GroupKey, int] = {}
    pending = IngestBatch.objects.filter(filed_at=None).order_by("id")
    if connection.features.has_select_for_update_skip_locked:
        # PostgreSQL: passes of several workers take different batches; a row lock blocks no push.
        with transaction.atomic():
            weighed = list(pending.select_for_update(skip_locked=True)
                           .values_list("id", Length("payload"))[:limit])
            if not weighed:
                return Filed(0, 0, False)
            taken = _within(weighed, size)
            batches = _read_batches(taken)
            work, checks = _group(batches)
            _file(store, batches, work, checks, made, defer_last_values=defer_last_values)
            _agents_seen([b[0] for b in batches])
    else:
        # SQLite: the queue is a database of its own (monitoring/routers.py). How far filing got
        # is kept here, committed with the chunks (CURSOR); the queue's rows are marked after.
        with _sqlite_pass:
            done = _filed_up_to()
            _mark_filed(done)
            weighed = list(pending.filter(id__gt=done).values_list("id", Length("payload"))[:limit])
            if not weighed:
                return Filed(0, 0, False)
            taken = _within(weighed, size)
            batches = list(IngestBatch.objects.filter(id__in=taken).order_by("id")
                           .values_list("id", "agent_id", "payload"))
            work, checks = _group(batches)
            with transaction.atomic():
                # Filed by another process meanwhile, or a check deleted: group again, under the lock.
                now_done = _filed_up_to()
                checks_gone = bool(checks) and Check.objects.filter(id__in=checks.keys()).count() != len(checks)
                if checks_gone or now_done != done:
                    batches = [b for b in batches if b[0] > now_done]
                    if not batches:
                        return Filed(0, 0, False)
                    work, checks = _group(batches)
                elif work.results:  # their state as it is now, under the lock, not as grouped
                    checks = Check.objects.in_bulk(checks.keys())
                _file(store, batches, work, checks, made, mark=False, defer_last_values=defer_last_values)
                _agents_seen([b[0] for b in batches])
                StoreCursor.objects.update_or_create(name=CURSOR, defaults={"value": batches[-1][0]})
            _mark_filed(batches[-1][0])
    _series_ids.update(made)
    return Filed(len(batches), work.samples, len(taken) < len(weighed) or len(weighed) >= limit)


# A push wakes the filer at most once a second per web process (services._wake_filer): a batch
# pushed within that second after the filer found nothing more to do would wait for the 10-s
# sweep. So a filer that filed something goes on looking a little past that second.
LINGER_SECONDS = 1.5
LINGER_POLL_SECONDS = 0.1


# One filer per process: a push's wake-up that finds one running returns at once instead of
# waiting on the SQLite lock. Two waiting filers held both threads of the worker, and notifications
# (the alert path's next hop) queued behind them for as long as ingest went on.
_filer = threading.Lock()


def file_pending(budget_seconds: float = 50.0) -> int:
    """File passes until nothing is pending or the time budget is spent; answers samples filed.
    Returns at once when another thread of this process is filing (it lingers and takes what
    came): after letting go, the running filer looks once more, so no wake-up is lost between
    its last look and its return."""
    total = 0
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        if not _filer.acquire(blocking=False):
            return total
        try:
            total += _file_pending(deadline - time.monotonic())
        finally:
            _filer.release()
        if not IngestBatch.objects.filter(filed_at=None).exists():
            break
    else:
        _hand_on()
    return total


def _hand_on() -> None:
    """The budget is spent with batches still pending (ingest goes on all along): a new filing task
    at once, at the back of the queue. Left to the next push's wake-up (once a second per web
    process), the batches pushed meanwhile waited up to a second: measured, that gap once every
    50 s was the alert latency's p99 (bench/alert_latency.py)."""
    if settings.CELERY_TASK_ALWAYS_EAGER or not IngestBatch.objects.filter(filed_at=None).exists():
        return
    from opsdesk.monitoring import tasks

    tasks.file_batches.delay()


# Under heavy ingest a pass starts at most every HEAVY_PASS_SECONDS. Back to back, each pass took
# what came during the one before (a fifth of a second at 500,000 samples/s), so a chunk held a few
# samples, and the chunk rows and last-value updates (one per series and pass) were most of the
# filer's and the database's work, and of the time SQLite's write lock was the filer's while every
# push waited (bench/ingest.py: 467,000 -> 528,000 samples/s on PostgreSQL, 455,000 -> 525,000 on
# SQLite; the filer's CPU a sample 1.5 -> 1.2 µs, PostgreSQL's 1.6 -> 1.3). A light pass (an
# alert's samples, a fleet's usual pushes) is followed at once as before, so the alert latency is
# untouched, and so is a full one (more is waiting). Charts see a sample at most a second later.
# A second rather than half of one: on PostgreSQL the filer's and the database's CPU a sample fell
# by a fifth again (bench/ingest.py, measured against the same run's senders: 2.5 -> 2.1 and 4.3 ->
# 3.5 times theirs), for half a second more before a chart shows a sample under heavy ingest.
HEAVY_PASS_SAMPLES = 100_000
HEAVY_PASS_SECONDS = 1.0


def _pause_after(filed: Filed, took: float, recent: int = 0) -> float:
    """How long to wait before the next pass, after one that filed what it did in `took` s, the
    passes of the HEAVY_PASS_SECONDS before it `recent` samples. Those count too: where each pass
    costs little (forwarded batches' digests), passes back to back each took the few batches that
    came during the one before, none of them heavy, and their number was the filer's and the
    database's work (bench/ingest.py, into VictoriaMetrics). A full pass left batches waiting:
    the next goes at once."""
    if filed.samples + recent < HEAVY_PASS_SAMPLES or filed.full:
        return 0.0
    return max(0.0, HEAVY_PASS_SECONDS - took)


# The pause ends early at a lull: when no batch came for this long, what has come is all there is
# for now, and waiting on would only hold it back from charts (the end of a burst: measured, a full
# pause before the last pass was a fifth of bench/ingest.py's time on PostgreSQL).
LULL_SECONDS = 0.1


def _newest_batch() -> int:
    return IngestBatch.objects.aggregate(newest=Max("id"))["newest"] or 0


def _gather(seconds: float) -> None:
    """Wait up to `seconds` for more batches to gather before the next pass, unless pushes pause."""
    end = time.monotonic() + seconds
    newest = _newest_batch()
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(LULL_SECONDS, left))
        latest = _newest_batch()
        if latest == newest:
            return
        newest = latest


def _file_pending(budget_seconds: float) -> int:
    started = time.monotonic()
    deadline = started + budget_seconds
    # With tasks run eagerly (tests, OPSDESK_TASKS_EAGER) there is no wake-up to miss.
    linger = 0.0 if settings.CELERY_TASK_ALWAYS_EAGER else LINGER_SECONDS
    total = 0
    last_filed = None
    recent: deque[tuple[float, int]] = deque()  # (start, samples) of the passes of the last HEAVY_PASS_SECONDS
    try:
        while time.monotonic() < deadline:
            began = time.monotonic()
            # While ingest goes on, the series' last values are written every few seconds, not
            # every pass (last_values.py); the run's end writes what is left. Not with tasks run
            # eagerly (tests, OPSDESK_TASKS_EAGER), where a caller's transaction may hold the
            # pass's commit, and with it what the pass kept.
            filed = file_pass(defer_last_values=not settings.CELERY_TASK_ALWAYS_EAGER)
            total += filed.samples
            if filed.batches:
                last_filed = time.monotonic()
                while recent and recent[0][0] < began - HEAVY_PASS_SECONDS:
                    recent.popleft()
                pause = _pause_after(filed, last_filed - began, sum(count for _at, count in recent))
                recent.append((began, filed.samples))
                if pause and not settings.CELERY_TASK_ALWAYS_EAGER:
                    _gather(min(pause, max(0.0, deadline - last_filed)))
                continue
            # Nothing pending, or what is pending is being filed by another pass.
            if last_filed is None or time.monotonic() - last_filed >= linger:
                break
            time.sleep(LINGER_POLL_SECONDS)
    finally:
        last_values.flush()
    return total


FILED_KEPT_HOURS = 24


def forget_filed(now=None) -> int:
    """Delete batch rows filed more than a day ago (their samples are in the store; the agent's
    last sequence number answers a late re-send). Answers how many went."""
    import datetime as dt

    from django.db.models.functions import Greatest

    from opsdesk.monitoring.pushing_agents import forget_pushing_agents

    before = (now or timezone.now()) - dt.timedelta(hours=FILED_KEPT_HOURS)
    total = 0
    while True:
        ids = list(IngestBatch.objects.filter(filed_at__lt=before).values_list("id", flat=True)[:5000])
        if not ids:
            return total
        chosen = IngestBatch.objects.filter(id__in=ids)
        # The agents' marks first, committed before their rows go (on SQLite the rows are in the
        # queue's own database): a stop in between leaves rows to delete next time, never a
        # forgotten batch that a late re-send would store again.
        with transaction.atomic():
            for agent_id, highest in chosen.order_by().values_list("agent_id").annotate(highest=Max("seq")):
                Agent.objects.filter(pk=agent_id).update(forgotten_up_to=Greatest("forgotten_up_to", highest))
        # The push's cached agents in this process (a web process' are kept a few seconds more).
        forget_pushing_agents()
        total += chosen.delete()[0]
