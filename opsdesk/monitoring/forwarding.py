"""Forwarding: with VictoriaMetrics as the metric store, a host agent's pushed samples go from the
push straight to it, and only a digest of them through the queue of batches.

Through the queue, every sample was written twice on its way (the batch's row, then the filer's
request to the store) and handled by three processes (web, database, filer): VictoriaMetrics took
the samples a quarter as fast as it takes them directly (bench/ingest.py). Here the push checks the
batch, names each series by its id (made once, on the series' first push, and kept in the
process), sends the samples to the store as one remote-write request and answers after it took them
(503 when it did not: the agent keeps the batch and sends it again). The digest it queues is what
filing still needs: each series' newest sample (its last value, the pages' "latest data") and every
sample of the metrics alert rules watch; its row says the samples are in the store already
(ingest.IN_STORE), so filing writes none of them again.

The digest's row waits a moment (queue_insert.insert_later, or insert_newest_later where later
batches of the agent merge into it) and goes in with the others of that moment in one statement:
the samples are in the store already, and a row a push cost a third of the web process' CPU and
most of the database's.

A batch is sent to the store once: a re-sent one (same agent and sequence number) is known by its
digest's row, waiting or queued, looked up unless the batch is the one after the last this
process took for the agent (the usual case: an agent sends its batches in order, one at a time).
Two gaps remain, both on failure paths: a web process killed while digests wait loses them (their
samples are in the store; a re-send of one of those batches is sent again), and a batch re-sent to
another web process while the first is still being answered is sent twice. VictoriaMetrics keeps
such duplicates (charts' averages, minima and maxima do not change; a count over time does).
While the queue's database fails, the digests wait and are tried again every few seconds
(queue_insert.py).

Remote write rather than VictoriaMetrics' JSON-lines import (the way until round thirteen in
docs/performance.md): the store spends less CPU a sample on it (0.37 against 0.42-0.47 µs in
bench/ingest.py), and any store the filer can write to takes it. The C accelerator writes the
request (`_pushscan.write_request`), in a snappy block that stores it uncompressed
(victoria.snappy_stored): compressing it cost the web process more than the store saved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from opsdesk.monitoring import queue_insert, series_ids
from opsdesk.monitoring.alerting import rules
from opsdesk.monitoring.ingest import Column
from opsdesk.monitoring.models import Agent, IngestBatch
from opsdesk.monitoring.routers import queue_database
from opsdesk.monitoring.store import get_store

try:  # the C accelerator of a host agent's push (setup.py; absent where no compiler built it)
    from opsdesk.monitoring import _pushscan
except ImportError:  # pragma: no cover - every push goes the Python way
    _pushscan = None

if TYPE_CHECKING:
    from opsdesk.monitoring.store.victoria import VictoriaMetricsStore as DirectStore


class Busy(Exception):
    """The same batch is being answered by another request of this process."""


def direct_store() -> DirectStore | None:
    """The metric store, where it takes pushes' samples directly (the Prometheus-compatible one;
    its module is not imported where the store is SQL, for the web process' memory)."""
    store = get_store()
    return store if getattr(store, "takes_pushes", False) else None


# --- each batch once ------------------------------------------------------------------------

_highest_queued: dict[int, int] = {}  # agent id -> the highest sequence number this process queued
_in_flight: set[tuple[int, int]] = set()
_lock = threading.Lock()


@contextmanager
def claim(agent_id: int, seq: int) -> Iterator[bool]:
    """Hold the batch for this request; yields whether it is new: neither it nor a later batch of
    the agent queued before. A host agent sends its batches in order, one at a time, and the next
    only once the one before was answered (agent/sender.py), so a later batch's row stands for this
    one: the digests of several batches may be one row (queue_insert.insert_newest_later). An
    agent whose sequence numbers went back (its state restored from a backup) has its batches
    taken again once they pass the highest it sent before, as those up to `forgotten_up_to`
    always were. Raises Busy while another request of this process holds the batch."""
    key = (agent_id, seq)
    with _lock:
        if key in _in_flight:
            raise Busy()
        _in_flight.add(key)
        next_one = _highest_queued.get(agent_id, -2) + 1 == seq
    try:
        yield next_one or not (queue_insert.waiting_later(agent_id, seq, or_after=True) or IngestBatch.objects.using(
            queue_database()).filter(agent_id=agent_id, seq__gte=seq).exists())
    finally:
        with _lock:
            _in_flight.discard(key)


def queued(agent_id: int, seq: int) -> None:
    """The batch's digest is queued (committed)."""
    with _lock:
        if _highest_queued.get(agent_id, 0) < seq:
            _highest_queued[agent_id] = seq


def forget() -> None:
    """Let go of what this process knows (tests: their rows and series were rolled back)."""
    global _known_count
    with _lock:
        _highest_queued.clear()
    _known.clear()
    _layouts.clear()
    _scanned_layouts.clear()
    _known_count = 0
    _watched.clear()


# --- the series' ids and their heads ------------------------------------------------------------

# Per item: (name, *label pairs as sent) -> (series id, its head: its labels as remote write
# encodes them, victoria.encode_labels). At most
# KNOWN_SERIES_LIMIT series in all (about 840 bytes each with their items' layouts below, measured
# with tracemalloc: 85 MB at most): beyond, the process starts again from none (a look-up per
# series on the next push of each agent).
_known: dict[int, dict[Any, tuple[int, bytes]]] = {}
KNOWN_SERIES_LIMIT = 100_000
_known_count = 0


def _series_head(series_id: int, item_id: int, customer_id: int, name: str, labels: dict[str, str]) -> bytes:
    from opsdesk.monitoring.store.victoria import encode_labels, labels_of

    return encode_labels(labels_of(series_id, item_id, customer_id, name, labels))


# Per item: its last batch's names and labels, and what series_of answered for them. An agent
# sends the same series in the same order batch after batch: comparing two lists (C loops) cost a
# fifth of looking each series up.
_layouts: dict[int, tuple[list[str], list[dict[str, str]], list[tuple[int, bytes]]]] = {}


def series_of(agent: Agent, columns: Sequence[Column]) -> list[tuple[int, bytes]]:
    """Each column's series id and head, in order; series seen for the first time are found
    or made in the database (once per process)."""
    item = agent.configuration_item_id
    names = [column[0] for column in columns]
    labels = [column[1] for column in columns]
    layout = _layouts.get(item)
    if layout is not None and layout[0] == names and layout[1] == labels:
        return layout[2]
    found = _look_up(agent, columns)
    _layouts[item] = (names, labels, found)
    return found


def _look_up(agent: Agent, columns: Sequence[Column]) -> list[tuple[int, bytes]]:
    global _known_count
    item = agent.configuration_item_id
    if _known_count + len(columns) > KNOWN_SERIES_LIMIT:
        _known.clear()
        _layouts.clear()
        _scanned_layouts.clear()
        _known_count = 0
    known = _known.get(item)
    if known is None:
        known = _known[item] = {}
    found: list[Any] = []
    missing: list[int] = []
    for index, (name, labels, _times, _values) in enumerate(columns):
        key = (name, *labels.items()) if labels else name
        entry = known.get(key)
        if entry is None:
            missing.append(index)
        found.append(entry)
    if missing:
        group_keys = {index: (item, columns[index][0], tuple(sorted(columns[index][1].items())))
                      for index in missing}
        ids = series_ids.resolve(group_keys.values(), {item: agent.customer_id})
        _known_count += len(group_keys)
        for index, group_key in group_keys.items():
            name, labels = columns[index][0], columns[index][1]
            series_id = ids[group_key]
            entry = (series_id, _series_head(series_id, item, agent.customer_id, name, labels))
            known[(name, *labels.items()) if labels else name] = found[index] = entry
    return found


# --- a push read in C ---------------------------------------------------------------------------
# A host agent's `columns` body is read by _pushscan (C) where it was built: one pass over the
# bytes checks it and knows its series by the text of their names and labels (the batch's
# "layout"); an agent sends the same layout batch after batch, so its series' ids and heads
# are found by comparing that text with the last batch's (one memcmp). The first batch of a
# layout, and every body _pushscan is unsure of, goes the Python way, which keeps the layout here.
# Where the metric store is SQL, the same reading writes the batch's queued row (scanned_packed).


class Scanned(NamedTuple):
    seq: int
    samples: int
    layout: bytes
    columns: bytes  # where each series' numbers are in the body (for _pushscan.write_request)


class ScannedLayout(NamedTuple):
    layout: bytes
    ids: list[int]
    heads: list[bytes]
    names: frozenset[str]


_scanned_layouts: dict[int, ScannedLayout] = {}


def scan(raw: bytes) -> Scanned | None:
    """The body checked in C, or None: not built, or a body for the Python way."""
    if _pushscan is None:
        return None
    found = _pushscan.scan(raw)
    return None if found is None else Scanned(*found)


def scanned_layout(agent: Agent, scanned: Scanned) -> ScannedLayout | None:
    """The ids and heads of the scanned batch's series, if its layout is the one kept for
    its item (`keep_layout`)."""
    kept = _scanned_layouts.get(agent.configuration_item_id)
    return kept if kept is not None and kept.layout == scanned.layout else None


def keep_layout(agent: Agent, layout: bytes, found: Sequence[tuple[int, bytes]], columns: Sequence[Column]) -> None:
    """Keep what series_of answered for the columns of a scanned layout."""
    _scanned_layouts[agent.configuration_item_id] = ScannedLayout(
        layout, [series_id for series_id, _head in found], [head for _series_id, head in found],
        frozenset(column[0] for column in columns))


def scanned_packed(raw: bytes, scanned: Scanned) -> bytes | None:
    """The row a scanned batch is queued as, where the metric store is SQL (ingest.packed's form),
    or None for times out of order (the Python way sorts them)."""
    return _pushscan.packed(raw, scanned.columns, scanned.seq)


def scanned_request(raw: bytes, scanned: Scanned, kept: ScannedLayout,
                    ) -> tuple[bytes, list[float], list[float]] | None:
    """The batch's remote-write request (a snappy block), and each series' newest time and value
    (in the order of `kept.ids`), or None for a time beyond what the C code writes (the Python way
    then)."""
    return _pushscan.write_request(raw, scanned.columns, kept.heads)


# --- the request ------------------------------------------------------------------------------

def write_request(found: Sequence[tuple[int, bytes]], columns: Sequence[Column]) -> bytes:
    """The columns as one remote-write WriteRequest in a snappy block: a TimeSeries each, its head
    (kept per series) and its samples, as _pushscan.write_request writes it."""
    from opsdesk.monitoring.store.victoria import encode_samples, snappy_stored, timeseries

    return snappy_stored(b"".join([timeseries(head, encode_samples(column[2], column[3]))
                                   for (_series_id, head), column in zip(found, columns, strict=True)]))


def send(store: DirectStore, agent: Agent, columns: Sequence[Column], samples: int) -> list[tuple[int, bytes]]:
    """The columns' `samples` samples into the store (raising MetricStoreError); answers each
    column's series id and head (series_of)."""
    found = series_of(agent, columns)
    store.write_block(write_request(found, columns), samples)
    return found


# --- the digest ---------------------------------------------------------------------------------

WATCHED_SECONDS = 5.0
_watched: dict[str, Any] = {}


def watched_names() -> frozenset[str]:
    """The metrics enabled alert rules watch, looked up at most every WATCHED_SECONDS (a rule's
    index costs two queries to check): a new rule sees every sample of its metric from at most
    that long after it was saved, and only each series' newest sample before."""
    now = time.monotonic()
    if now - _watched.get("at", -1e9) >= WATCHED_SECONDS:
        _watched["names"] = frozenset(rules.current().by_metric)
        _watched["at"] = now
    return _watched["names"]


Latest = tuple[list[int], list[float], list[float]]
_id_of = _name_of = itemgetter(0)
_times_of, _values_of = itemgetter(2), itemgetter(3)


def common_times(columns: Sequence[Column]) -> list | None:
    """The times every column has, if they all have the same (an agent reads all its series at
    the same moments: the usual batch), else None. One C loop of list comparisons."""
    times = list(map(_times_of, columns))
    return times[0] if times and times.count(times[0]) == len(times) else None


def digest(found: Sequence[tuple[int, bytes]], columns: Sequence[Column], watched: frozenset[str],
           common: list | None = None) -> tuple[list[Column], Latest]:
    """What filing needs of forwarded columns: every sample of a watched metric (the columns),
    and each other series' newest sample by series id (ids, times, values). `common`:
    common_times(columns)."""
    if common is not None and watched.isdisjoint(map(_name_of, columns)):  # the usual batch: C loops
        newest = common.index(max(common))
        return [], (list(map(_id_of, found)), [common[newest]] * len(columns),
                    list(map(itemgetter(newest), map(_values_of, columns))))
    kept: list[Column] = []
    ids: list[int] = []
    times: list[float] = []
    values: list[float] = []
    shared: list = []  # the times of the series before, and their newest one's place
    newest = 0
    for (series_id, _head), column in zip(found, columns, strict=True):
        if column[0] in watched:
            kept.append(column)
            continue
        ts = column[2]
        if ts != shared:
            shared = ts
            newest = 0 if len(ts) == 1 else ts.index(max(ts))
        ids.append(series_id)
        times.append(ts[newest])
        values.append(column[3][newest])
    return kept, (ids, times, values)
