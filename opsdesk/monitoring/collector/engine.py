"""The collector's engine: runs thousands of checks on their schedules in one asyncio loop.

    collector = Collector(source, sink)
    await collector.run(stop)          # until the asyncio.Event `stop` is set

`source()` gives the checks to run (called at start and every `refresh_interval`); `sink(records)`
receives the finished runs every `flush_interval`. Nothing here knows a database: the server wires
both to its models, a collector inside a customer's network to an HTTP push.

Scheduling. Each check runs at a fixed phase of its interval, taken from its id (so checks spread
over the interval, and a restart keeps each one's slot), then every `interval` after its previous
*scheduled* time, never after its finish, so nothing drifts. One heap of due times and one timer
drive everything; each run is a short-lived task that waits for one of `max_concurrency` slots
and is bounded by its timeout, so a slow target holds one slot and delays no other check. A run
still going (or still waiting for a slot) when its next one is due skips that next one.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..checks import CHECK_TYPES, prepare
from ..checks.base import CheckResult, CheckSpec, CheckType, execute, result

log = logging.getLogger("opsdesk.monitoring.collector")

Source = Callable[[], Awaitable[list[CheckSpec]]]
GRACE = 1.0  # seconds past spec.timeout before the engine cuts a run: a check's own timeout tells more
LATE_AFTER = 1.0  # a run that starts this long after its scheduled time counts as late
GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: consecutive ids land far apart in the interval


@dataclass(frozen=True)
class RunRecord:
    spec_id: int
    scheduled_at: float  # Unix time
    started_at: float
    finished_at: float
    result: CheckResult


Sink = Callable[[list[RunRecord]], Awaitable[None]]


@dataclass
class Stats:
    runs_done: int = 0
    runs_late: int = 0  # started more than LATE_AFTER after their scheduled time
    runs_skipped: int = 0  # not started: the check's previous run was still going, or the loop fell behind
    runs_timed_out: int = 0  # cut by the engine (the check ignored its own timeout)
    saturated: int = 0  # runs that found every slot taken and had to wait
    in_flight: int = 0  # runs holding a slot now
    records_dropped: int = 0  # finished runs lost because the sink kept failing
    sink_failures: int = 0
    source_failures: int = 0
    checks: int = 0
    jitter: deque[float] = field(default_factory=lambda: deque(maxlen=200_000))  # started_at - scheduled_at

    def as_dict(self) -> dict[str, Any]:
        values = {k: v for k, v in vars(self).items() if k != "jitter"}
        values["jitter_p99_s"] = percentile(self.jitter, 99)
        return values


def percentile(values: Iterable[float], pct: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1)]


def phase(spec_id: int) -> float:
    """The check's fixed fraction of its interval, in [0, 1), the same in every process."""
    return ((spec_id * GOLDEN) & 0xFFFFFFFFFFFFFFFF) / 2 ** 64


class Collector:
    def __init__(self, source: Source, sink: Sink, *, max_concurrency: int = 500, refresh_interval: float = 30.0,
                 flush_interval: float = 1.0, max_pending: int = 100_000, drain_timeout: float = 5.0,
                 check_types: Mapping[str, CheckType] | None = None) -> None:
        self.source, self.sink = source, sink
        self.max_concurrency = max_concurrency
        self.refresh_interval, self.flush_interval = refresh_interval, flush_interval
        self.max_pending, self.drain_timeout = max_pending, drain_timeout
        self.check_types = CHECK_TYPES if check_types is None else check_types
        self.stats = Stats()
        self._specs: dict[int, CheckSpec] = {}
        self._memos: dict[int, dict] = {}
        self._generation: dict[int, int] = {}  # bumped when a check changes: its old heap entry is then stale
        self._heap: list[tuple[float, int, int, int]] = []  # (due on the loop's clock, sequence, id, generation)
        self._sequence = 0
        self._busy: set[int] = set()  # checks with a run waiting for a slot or running
        self._tasks: set[asyncio.Task] = set()
        self._records: deque[RunRecord] = deque()
        self._waiter: asyncio.Future | None = None
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unix_offset = 0.0  # Unix time minus the loop's clock
        self._prepared: set[str] = set()  # check types whose libraries are loaded

    # --- running ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self.max_concurrency)
        # The schedule runs on the loop's monotonic clock (a wall-clock step must not bunch or stall
        # runs); records carry Unix times through this fixed offset.
        self._unix_offset = time.time() - self._loop.time()
        await self.refresh()
        helpers = [asyncio.create_task(self._every(self.refresh_interval, self.refresh, stop)),
                   asyncio.create_task(self._every(self.flush_interval, self.flush, stop)),
                   asyncio.create_task(self._wake_on(stop))]
        try:
            await self._schedule(stop)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self._drain()
            await self.flush()

    async def _schedule(self, stop: asyncio.Event) -> None:
        loop = self._loop
        while not stop.is_set():
            now = loop.time()
            while self._heap and self._heap[0][0] <= now:
                due, _, spec_id, generation = heapq.heappop(self._heap)
                if self._generation.get(spec_id) != generation:
                    continue  # removed or changed since this entry was pushed
                spec = self._specs[spec_id]
                self._launch(spec, due)
                following = due + spec.interval
                if following <= now:  # the loop was blocked for more than an interval: skip, keep the phase
                    missed = math.floor((now - due) / spec.interval)
                    self.stats.runs_skipped += missed
                    following = due + (missed + 1) * spec.interval
                self._push(following, spec_id, generation)
            await self._sleep_until(self._heap[0][0] if self._heap else now + self.refresh_interval)

    def _launch(self, spec: CheckSpec, due: float) -> None:
        if spec.id in self._busy:
            self.stats.runs_skipped += 1
            return
        self._busy.add(spec.id)
        if self._slots.locked():
            self.stats.saturated += 1
        task = self._loop.create_task(self._run_one(spec, due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_one(self, spec: CheckSpec, due: float) -> None:
        try:
            async with self._slots:
                started = self._loop.time()
                self.stats.in_flight += 1
                try:
                    outcome = await self._execute(spec)
                finally:
                    self.stats.in_flight -= 1
                finished = self._loop.time()
        finally:
            self._busy.discard(spec.id)
        delay = started - due
        self.stats.runs_done += 1
        self.stats.jitter.append(delay)
        if delay > LATE_AFTER:
            self.stats.runs_late += 1
        offset = self._unix_offset
        self._keep(RunRecord(spec.id, due + offset, started + offset, finished + offset, outcome))

    async def _execute(self, spec: CheckSpec) -> CheckResult:
        check_type = self.check_types.get(spec.type)
        if check_type is None:
            return result("unknown", "unknown_type", f"unknown check type {spec.type!r}", type=spec.type)
        memo = self._memos.setdefault(spec.id, {})
        try:
            # execute() turns any exception into a result; this bounds a check that ignores its timeout.
            async with asyncio.timeout(spec.timeout + GRACE):
                return await execute(check_type, spec, memo)
        except TimeoutError:
            self.stats.runs_timed_out += 1
            return result("critical", "timeout", f"no result within {spec.timeout:g} s", timeout=spec.timeout)

    async def _drain(self) -> None:
        """At stop: let running checks finish for a moment, then cancel the rest."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.drain_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # --- the timer ----------------------------------------------------------------------------

    async def _sleep_until(self, when: float) -> None:
        """Sleeps until `when` on the loop's clock, or until woken (new checks, stop)."""
        waiter = self._loop.create_future()
        self._waiter = waiter
        handle = self._loop.call_at(when, _resolve, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None:
            _resolve(self._waiter)

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake()

    def _push(self, due: float, spec_id: int, generation: int) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (due, self._sequence, spec_id, generation))

    def _first_due(self, spec: CheckSpec) -> float:
        """The next time at the check's phase of its interval, counted in Unix time so that the slot
        survives a restart, as a time on the loop's clock."""
        now = time.time()
        slot = now - now % spec.interval + phase(spec.id) * spec.interval
        if slot < now:
            slot += spec.interval
        return slot - self._unix_offset

    # --- checks in and records out ------------------------------------------------------------

    async def refresh(self) -> None:
        try:
            specs = await self.source()
        except Exception:
            self.stats.source_failures += 1
            log.exception("collector: reading the checks failed; keeping the %d known ones", len(self._specs))
            return
        new_types = {spec.type for spec in specs} - self._prepared
        if new_types:
            # Importing a protocol library takes 0.1 s or more: in a thread, not on the loop that keeps time.
            self._prepared |= new_types
            try:
                await asyncio.to_thread(prepare, new_types)
            except Exception:
                log.exception("collector: preparing the check types %s failed", sorted(new_types))
        self.apply(specs)

    def apply(self, specs: Iterable[CheckSpec]) -> None:
        """Adds, changes and removes checks. An unchanged check keeps its schedule and memo; a changed
        one starts afresh (its counters may belong to another target)."""
        wanted: dict[int, CheckSpec] = {}
        for spec in specs:
            if not (spec.interval > 0 and spec.timeout > 0):
                log.warning("collector: check %s has interval %r and timeout %r; not scheduled", spec.id,
                            spec.interval, spec.timeout)
                continue
            wanted[spec.id] = spec
        for spec_id in [i for i in self._specs if i not in wanted]:
            del self._specs[spec_id]
            self._memos.pop(spec_id, None)
            self._generation.pop(spec_id, None)
        for spec_id, spec in wanted.items():
            if self._specs.get(spec_id) == spec:
                continue
            self._specs[spec_id] = spec
            self._memos[spec_id] = {}
            generation = self._generation.get(spec_id, 0) + 1
            self._generation[spec_id] = generation
            self._push(self._first_due(spec), spec_id, generation)
        self.stats.checks = len(self._specs)
        # Stale entries of removed or changed checks stay in the heap until popped; rebuild it when
        # they outnumber the live ones, so a source that changes everything often cannot grow it.
        if len(self._heap) > 2 * len(self._specs) + 1000:
            self._heap = [e for e in self._heap if self._generation.get(e[2]) == e[3]]
            heapq.heapify(self._heap)
        self._wake()

    def _keep(self, record: RunRecord) -> None:
        self._records.append(record)
        self._trim()

    def _trim(self) -> None:
        dropped = 0
        while len(self._records) > self.max_pending:
            self._records.popleft()
            dropped += 1
        if dropped:
            self.stats.records_dropped += dropped
            log.warning("collector: %d finished runs dropped (the oldest): more than %d wait for the sink",
                        dropped, self.max_pending)

    async def flush(self) -> None:
        if not self._records:
            return
        batch = list(self._records)
        self._records.clear()
        try:
            await self.sink(batch)
        except Exception:
            self.stats.sink_failures += 1
            log.exception("collector: the sink failed; %d runs kept for the next flush", len(batch))
            self._records.extendleft(reversed(batch))  # before the runs that finished meanwhile
            self._trim()

    async def _every(self, seconds: float, action: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(stop.wait(), seconds)
                return
            except TimeoutError:
                await action()


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
