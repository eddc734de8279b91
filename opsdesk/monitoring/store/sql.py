"""The SQL back end (the default): raw samples in chunks per series, rollups per 5 minutes and per hour.

- `write` adds one chunk per series per filing pass (inside the filer's transaction, so a pass is
  all or nothing);
- `housekeeping` rolls new chunks up into min/sum/max/count buckets (an upsert, so a bucket that
  more samples reach later is merged, never counted twice: a chunk id cursor says what was rolled
  up), merges the small chunks of a finished two-hour block into one (the first keeps its id, so
  the cursor stays right), and deletes what is past its retention;
- `query` reads raw chunks for short ranges and rollups for long ones (base.choose_step).
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from contextlib import nullcontext

from django.conf import settings
from django.db import connection, transaction

from opsdesk.core.binary_sql import binary_cursor
from opsdesk.monitoring.models import Chunk, Rollup, StoreCursor
from opsdesk.monitoring.store import chunks as packing
from opsdesk.monitoring.store.base import FIVE_MINUTES, ONE_HOUR, RAW, Points, SeriesData, choose_step

BLOCK_SECONDS = 2 * ONE_HOUR
ROLLUP_STEPS = (FIVE_MINUTES, ONE_HOUR)
ROLLUP_CHUNKS_PER_PASS = 100_000
HOUSEKEEPING_BUDGET_SECONDS = 45.0  # of a run: the worker starts one a minute
COMPACT_GROUPS_PER_PASS = 2_000
# Blocks compaction looks back over: the scan for groups to merge reads these blocks' chunks by the
# `chunk_end` index, not the whole raw retention at every pass. Chunks that arrive for older blocks
# (an agent's replay of a long outage, a worker down for longer) are seen by the roll-up, which
# keeps the range of their ends (OLD_FROM, OLD_TO): compaction merges that range too, then forgets it.
COMPACT_LOOKBACK_BLOCKS = 12
OLD_FROM, OLD_TO = "compact-old-from", "compact-old-to"
DELETE_BATCH = 20_000
# Up to when raw samples may have been deleted (the last expiry's bound): charts before it use rollups.
RAW_EXPIRED = "raw-expired-before"
FIVE_MINUTES_EXPIRED = "5m-expired-before"  # the same for the 5-minute rollups

_CHUNK = Chunk._meta.db_table
_ROLLUP = Rollup._meta.db_table


def _sorted(ts: Sequence[float], values: Sequence[float]) -> tuple[Sequence[float], Sequence[float]]:
    """The samples in time order (a filing pass's are arrays of doubles, other writers' lists)."""
    if len(ts) < 2:
        return ts, values
    listed = ts if type(ts) is list else ts.tolist()
    if listed == sorted(listed):  # in C: a sorted list is one run for timsort
        return ts, values
    pairs = sorted(zip(listed, values, strict=True))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _per_bucket(ts: Sequence[float], values: Sequence[float], step: int):
    """A chunk's samples (in time order, as every chunk is kept) summed up per bucket of `step`
    seconds: (bucket start, min, max, sum, count). A chunk within one bucket, as most are, takes
    four C calls; one that spans several is cut at each bucket's end by bisection, not sample by
    sample (which was 1 µs a sample and step: roll-ups could not keep up with filing)."""
    first, last = int(ts[0]), int(ts[-1])
    if first - first % step == last - last % step:
        yield first - first % step, min(values), max(values), sum(values), len(values)
        return
    start, size = 0, len(ts)
    while start < size:
        moment = int(ts[start])
        bucket = moment - moment % step
        stop = bisect_left(ts, bucket + step, start)
        part = values[start:stop]
        yield bucket, min(part), max(part), sum(part), stop - start
        start = stop


def _upsert_rollups(rows: list[tuple[int, int, int, float, float, float, int]]) -> None:
    if not rows:
        return
    postgres = connection.vendor == "postgresql"
    # SQLite's two-argument min()/max() are PostgreSQL's LEAST()/GREATEST().
    least, greatest = ("LEAST", "GREATEST") if postgres else ("min", "max")
    merge = (f"ON CONFLICT (series_id, step, ts) DO UPDATE SET "
             f"min = {least}({_ROLLUP}.min, excluded.min), max = {greatest}({_ROLLUP}.max, excluded.max), "
             f"sum = {_ROLLUP}.sum + excluded.sum, count = {_ROLLUP}.count + excluded.count")
    insert = f"INSERT INTO {_ROLLUP} (series_id, step, ts, min, max, sum, count)"
    with connection.cursor() as cursor:
        if postgres:
            # One statement for the pass (a statement a bucket was most of a pass' time); the
            # buckets are distinct, as ON CONFLICT DO UPDATE needs within one statement.
            cursor.execute(f"{insert} SELECT * FROM unnest(%s::bigint[], %s::int[], %s::bigint[], %s::float8[], "
                           f"%s::float8[], %s::float8[], %s::int[]) {merge}",
                           [list(column) for column in zip(*rows, strict=True)])
            return
        cursor.executemany(f"{insert} VALUES (%s, %s, %s, %s, %s, %s, %s) {merge}", rows)


def _rewrite_chunks(rows: list[tuple[int, float, float, int, bytes]]) -> None:
    """Chunks' new start, end, count and data, by id, in one statement."""
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids, starts, ends, counts, data = (list(column) for column in zip(*rows, strict=True))
            cursor.execute(
                f"UPDATE {_CHUNK} AS c SET start = v.start, \"end\" = v.\"end\", count = v.count, data = v.data "
                f"FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::int[], %s::bytea[]) "
                f"AS v(id, start, \"end\", count, data) WHERE c.id = v.id", [ids, starts, ends, counts, data])
            return
        cursor.executemany(f"UPDATE {_CHUNK} SET start = %s, \"end\" = %s, count = %s, data = %s WHERE id = %s",
                           [(start, end, count, data, chunk_id) for chunk_id, start, end, count, data in rows])


def _expired_there(cursor: str, start: float, days: int) -> bool:
    """Whether expiry may have deleted some of what is kept `days` days from `start` on (the clock
    answers first, so a recent range costs no query)."""
    if start >= time.time() - days * 86400:
        return False
    return start < (StoreCursor.objects.filter(name=cursor).values_list("value", flat=True).first() or 0)


# PostgreSQL: chunk ids come from a sequence, so with several filers (worker processes) a
# transaction may commit ids below those of one that committed before it. A roll-up pass that
# read past such a gap would move its cursor over chunks committed a moment later, and they would
# never be rolled up. So every writer of chunks holds this lock shared until it commits, and a
# roll-up pass takes it exclusively for a moment to read the highest id: every id up to it is then
# committed (a transaction that took lower ids has ended; one that starts later takes higher ones).
# SQLite has one writer, whose new rows always come after every committed one.
_CHUNK_WRITERS_LOCK = 0x6F70_7364_6368_6B73 - 2**63  # "opsdchks", as a signed 64-bit key


def _writing_chunks() -> None:
    """Hold the chunk writers' lock, shared, until the transaction ends (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [_CHUNK_WRITERS_LOCK])


def _committed_chunks_bound() -> int | None:
    """The highest chunk id below which every chunk is committed (PostgreSQL; None on SQLite)."""
    if connection.vendor != "postgresql":
        return None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHUNK_WRITERS_LOCK])
        cursor.execute(f"SELECT max(id) FROM {_CHUNK}")
        return cursor.fetchone()[0] or 0


def _groups_to_merge(rolled: int, ends_from: float, ends_before: float) -> list[tuple[int, int]]:
    """(series id, block number) of the rolled-up chunks ending in [ends_from, ends_before) that
    share a two-hour block with another chunk of their series, up to COMPACT_GROUPS_PER_PASS."""
    # The block of a start time rounded down on both databases: PostgreSQL's CAST rounds to the
    # nearest, which put a chunk of a block's second hour in the next block, where the merge never
    # found it (nor anything after it, when such groups filled the pass).
    block = (f"CAST(FLOOR(start / {BLOCK_SECONDS}) AS BIGINT)" if connection.vendor == "postgresql"
             else f"CAST(start / {BLOCK_SECONDS} AS INTEGER)")  # SQLite's CAST truncates
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT series_id, {block} AS block FROM {_CHUNK} "
            f"WHERE id <= %s AND \"end\" < %s AND \"end\" >= %s "
            f"GROUP BY series_id, block HAVING COUNT(*) > 1 LIMIT %s",
            [rolled, ends_before, ends_from, COMPACT_GROUPS_PER_PASS])
        return cursor.fetchall()


def _widen_old_range(ends_from: int, ends_to: int) -> None:
    """Take [ends_from, ends_to] into the range of late chunks' ends compaction is to merge (in
    the roll-up's transaction)."""
    for name, value, keep in ((OLD_FROM, ends_from, min), (OLD_TO, ends_to, max)):
        row, created = StoreCursor.objects.select_for_update().get_or_create(name=name, defaults={"value": value})
        if not created and keep(row.value, value) != row.value:
            row.value = keep(row.value, value)
            row.save(update_fields=["value"])


class SQLStore:
    name = "sql"
    needs_labels = False

    # --- writing ------------------------------------------------------------------------------

    def write(self, points: list[Points]) -> None:
        rows = []
        for item in points:
            if not item.ts:
                continue
            ts, values = (item.ts, item.values) if item.ordered else _sorted(item.ts, item.values)
            rows.append((item.series_id, float(ts[0]), float(ts[-1]), len(ts), packing.pack(ts, values)))
        if not rows:
            return
        if connection.vendor == "postgresql":
            with transaction.atomic(savepoint=False):
                _writing_chunks()
                self._copy(rows)
            return
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {_CHUNK} (series_id, start, \"end\", count, data) VALUES (%s, %s, %s, %s, %s)", rows)

    @staticmethod
    def _copy(rows: list[tuple[int, float, float, int, bytes]]) -> None:
        # COPY: one stream instead of a statement per chunk (a pass writes one per series, 20,000
        # in the ingest benchmark: 0.9 s as statements, a tenth of that copied), in binary: as
        # text, each chunk's bytes went hex-escaped both ways.
        with binary_cursor() as cursor, cursor.copy(
                f"COPY {_CHUNK} (series_id, start, \"end\", count, data) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "float8", "float8", "int4", "bytea"])
            for row in rows:
                copy.write_row(row)

    # --- reading ------------------------------------------------------------------------------

    def query(self, series: list[tuple[int, str, dict[str, str]]], start: float, end: float,
              step: int | None = None) -> dict[int, SeriesData]:
        ids = [item[0] for item in series]
        chosen = choose_step(start, end, step)
        # A range where expiry has deleted what its resolution reads (a custom range of a few hours
        # last month) is drawn from what is left of it: 5-minute rollups, or hourly ones.
        if chosen == RAW and _expired_there(RAW_EXPIRED, start, settings.OPSDESK_METRICS_RAW_DAYS):
            chosen = FIVE_MINUTES
        if chosen == FIVE_MINUTES and _expired_there(FIVE_MINUTES_EXPIRED, start,
                                                     settings.OPSDESK_METRICS_ROLLUP_5M_DAYS):
            chosen = ONE_HOUR
        if chosen == RAW:
            return self._raw(ids, start, end)
        return self._rollups(ids, start, end, chosen)

    def _raw(self, ids: list[int], start: float, end: float) -> dict[int, SeriesData]:
        found: dict[int, tuple[list[float], list[float]]] = {i: ([], []) for i in ids}
        rows = (Chunk.objects.filter(series_id__in=ids, end__gte=start, start__lte=end)
                .order_by("series_id", "start").values_list("series_id", "data"))
        for series_id, data in rows:
            ts, values = packing.unpack(data)
            out_ts, out_values = found[series_id]
            for t, v in zip(ts, values, strict=True):
                if start <= t <= end:
                    out_ts.append(t)
                    out_values.append(v)
        answer = {}
        for series_id, (ts, values) in found.items():
            ts, values = _sorted(ts, values)
            answer[series_id] = SeriesData(step=RAW, ts=ts, avg=values, min=values, max=values)
        return answer

    def _rollups(self, ids: list[int], start: float, end: float, step: int) -> dict[int, SeriesData]:
        base = FIVE_MINUTES if step < ONE_HOUR else ONE_HOUR
        rows = (Rollup.objects.filter(series_id__in=ids, step=base, ts__gte=start - step, ts__lte=end)
                .order_by("series_id", "ts").values_list("series_id", "ts", "min", "max", "sum", "count"))
        if step == base:
            # The stored buckets are the ones asked for: no regrouping (most charts: 7 and 30 days).
            direct = {i: SeriesData(step=step, ts=[], avg=[], min=[], max=[]) for i in ids}
            for series_id, ts, low, high, total, count in rows:
                data = direct[series_id]
                data.ts.append(float(ts))
                data.min.append(low)
                data.max.append(high)
                data.avg.append(total / count)
            return direct
        buckets: dict[int, dict[int, list[float]]] = {i: {} for i in ids}
        for series_id, ts, low, high, total, count in rows:
            key = ts - ts % step
            into = buckets[series_id].get(key)
            if into is None:
                buckets[series_id][key] = [low, high, total, count]
            else:
                into[0] = min(into[0], low)
                into[1] = max(into[1], high)
                into[2] += total
                into[3] += count
        answer = {}
        for series_id, by_ts in buckets.items():
            keys = sorted(by_ts)
            answer[series_id] = SeriesData(
                step=step, ts=[float(k) for k in keys], min=[by_ts[k][0] for k in keys],
                max=[by_ts[k][1] for k in keys], avg=[by_ts[k][2] / by_ts[k][3] for k in keys])
        return answer

    def averages(self, series: list[tuple[int, str, dict[str, str]]], start: float, end: float) -> dict[int, float]:
        ids = [item[0] for item in series]
        if end - start <= 3 * ONE_HOUR:
            data = self._raw(ids, start, end)
            return {i: sum(d.avg) / len(d.avg) for i, d in data.items() if d.avg}
        step = FIVE_MINUTES if end - start <= 8 * 24 * ONE_HOUR else ONE_HOUR
        if step == FIVE_MINUTES and _expired_there(FIVE_MINUTES_EXPIRED, start,
                                                   settings.OPSDESK_METRICS_ROLLUP_5M_DAYS):
            step = ONE_HOUR  # the 5-minute rollups are kept shorter than this range goes back
        totals: dict[int, list[float]] = defaultdict(lambda: [0.0, 0])
        rows = (Rollup.objects.filter(series_id__in=ids, step=step, ts__gte=start, ts__lte=end)
                .values_list("series_id", "sum", "count"))
        for series_id, total, count in rows:
            totals[series_id][0] += total
            totals[series_id][1] += count
        return {i: total / count for i, (total, count) in totals.items() if count}

    # --- housekeeping -------------------------------------------------------------------------

    def housekeeping(self, now: float | None = None,
                     budget_seconds: float = HOUSEKEEPING_BUDGET_SECONDS) -> dict[str, int]:
        """Roll-ups, then compaction, pass after pass until done or the budget is spent (the next
        run, a minute later, goes on where this one stopped), then expiry. One pass of each a run
        fell behind filing as soon as it wrote more than a pass' chunks a minute: 200 agents
        pushing every 30 s did."""
        now = time.time() if now is None else now
        deadline = time.monotonic() + budget_seconds
        done = {"rolled_up": self.roll_up_all(deadline), "compacted": 0}
        while time.monotonic() < deadline:
            merged = self.compact(now)
            done["compacted"] += merged
            if not merged:
                break
        done.update(self.expire(now))
        return done

    def roll_up_all(self, deadline: float | None = None) -> int:
        """Roll up pass after pass until nothing is left or the monotonic deadline has passed."""
        total = 0
        while True:
            done = self.roll_up()
            total += done
            if done < ROLLUP_CHUNKS_PER_PASS or (deadline is not None and time.monotonic() >= deadline):
                return total

    def roll_up(self) -> int:
        """Fold chunks added since the last pass into their 5-minute and hourly buckets; answers
        how many chunks the pass took.

        The chunks are read and summed up before the write transaction, which then only upserts
        the buckets and moves the cursor: on SQLite, whose one writer the filer waits for, a pass
        of 100,000 chunks held it 1.2-2.5 s while it read and summed (bench/housekeeping.py). A
        pass that finds the cursor moved meanwhile (another worker's pass) drops its sums; the
        next one goes on from there."""
        start = StoreCursor.objects.filter(name="rollup").values_list("value", flat=True).first() or 0
        bound = _committed_chunks_bound()
        chunks = Chunk.objects.filter(id__gt=start)
        if bound is not None:
            chunks = chunks.filter(id__lte=bound)
        # Read as a stream: a pass holds its buckets, not its chunks' bytes. The more chunks a pass
        # takes, the more of them share a bucket's upsert (a series' chunks of one minute do):
        # 20,000 a pass rolled up 24,000 chunks a second on PostgreSQL, 100,000 77,000-95,000
        # (bench/housekeeping.py, one sample a chunk).
        rows = (chunks.order_by("id").values_list("id", "series_id", "data")[:ROLLUP_CHUNKS_PER_PASS]
                .iterator(chunk_size=5_000))
        buckets: dict[tuple[int, int, int], list[float]] = {}
        last_id, taken = 0, 0
        # Chunks ending before compaction's look-back (late ones): the range of their ends.
        wall = time.time()
        horizon = wall - wall % BLOCK_SECONDS - (COMPACT_LOOKBACK_BLOCKS + 1) * BLOCK_SECONDS
        late_from, late_to = float("inf"), float("-inf")
        # PostgreSQL streams through a cursor inside a (reading) transaction: outside one it must
        # be declared WITH HOLD, and the server copies the whole result first. On SQLite a
        # transaction would be the writer's (IMMEDIATE): its reads need none.
        with transaction.atomic() if connection.vendor == "postgresql" else nullcontext():
            for chunk_id, series_id, data in rows:
                last_id, taken = chunk_id, taken + 1
                ts, values = packing.unpack(data)
                if not ts:
                    continue
                if ts[-1] < horizon:
                    late_from, late_to = min(late_from, ts[-1]), max(late_to, ts[-1])
                for step in ROLLUP_STEPS:
                    for bucket, low, high, total, count in _per_bucket(ts, values, step):
                        key = (series_id, step, bucket)
                        into = buckets.get(key)
                        if into is None:
                            buckets[key] = [low, high, total, count]
                        else:
                            if low < into[0]:
                                into[0] = low
                            if high > into[1]:
                                into[1] = high
                            into[2] += total
                            into[3] += count
        if not taken:
            return 0
        with transaction.atomic():
            cursor_row, _created = StoreCursor.objects.select_for_update().get_or_create(name="rollup")
            if cursor_row.value != start:
                return 0
            _upsert_rollups([(s, step, t, b[0], b[1], b[2], b[3]) for (s, step, t), b in buckets.items()])
            cursor_row.value = last_id
            cursor_row.save(update_fields=["value"])
            if late_from <= late_to:
                _widen_old_range(math.floor(late_from), math.ceil(late_to))
        return taken

    def compact(self, now: float) -> int:
        """Merge the chunks of each series' finished two-hour blocks (already rolled up) into one;
        answers how many chunks were merged away. A pass takes up to COMPACT_GROUPS_PER_PASS
        (series, block) groups in one transaction: one read per block, one update, batched
        deletes (a transaction and three statements a group took 2.6 ms a group on PostgreSQL)."""
        rolled = StoreCursor.objects.filter(name="rollup").values_list("value", flat=True).first() or 0
        finished_before = now - now % BLOCK_SECONDS - BLOCK_SECONDS
        looked_back = finished_before - COMPACT_LOOKBACK_BLOCKS * BLOCK_SECONDS
        groups = _groups_to_merge(rolled, looked_back, finished_before)
        if not groups:
            # Late chunks of older blocks, where the roll-up saw some; forgotten once all merged.
            old = dict(StoreCursor.objects.filter(name__in=(OLD_FROM, OLD_TO)).values_list("name", "value"))
            if len(old) == 2:
                low = old[OLD_FROM] - old[OLD_FROM] % BLOCK_SECONDS
                groups = _groups_to_merge(rolled, low, min(old[OLD_TO] + BLOCK_SECONDS, looked_back))
                if not groups:
                    StoreCursor.objects.filter(name__in=(OLD_FROM, OLD_TO)).delete()
        if not groups:
            return 0
        by_block: dict[int, list[int]] = defaultdict(list)
        for series_id, number in groups:
            by_block[number].append(series_id)
        updates: list[tuple[int, float, float, int, bytes]] = []
        gone: list[int] = []
        with transaction.atomic():
            for number, series_ids in by_block.items():
                low, high = number * BLOCK_SECONDS, (number + 1) * BLOCK_SECONDS
                parts: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
                for chunk_id, series_id, data in (
                        Chunk.objects.select_for_update()
                        .filter(series_id__in=series_ids, id__lte=rolled, start__gte=low, start__lt=high)
                        .order_by("id").values_list("id", "series_id", "data")):
                    parts[series_id].append((chunk_id, data))
                for chunks in parts.values():
                    if len(chunks) < 2:
                        continue
                    ts: list[float] = []
                    values: list[float] = []
                    for _chunk_id, data in chunks:
                        part_ts, part_values = packing.unpack(data)
                        ts.extend(part_ts)
                        values.extend(part_values)
                    ts, values = _sorted(ts, values)
                    # The first keeps its id, which the roll-up cursor has passed: not counted again.
                    updates.append((chunks[0][0], ts[0], ts[-1], len(ts), packing.pack(ts, values)))
                    gone += [chunk_id for chunk_id, _data in chunks[1:]]
            _rewrite_chunks(updates)
            for first in range(0, len(gone), DELETE_BATCH):
                Chunk.objects.filter(id__in=gone[first:first + DELETE_BATCH]).delete()
        return len(gone)

    def expire(self, now: float) -> dict[str, int]:
        """Delete raw chunks past their retention that are rolled up (a chunk the roll-up has not
        reached yet, after a backlog or an agent's late replay, waits for it: its samples would
        otherwise be lost for good), and rollups past theirs."""
        raw_before = now - settings.OPSDESK_METRICS_RAW_DAYS * 86400
        rollups_before = {FIVE_MINUTES: now - settings.OPSDESK_METRICS_ROLLUP_5M_DAYS * 86400,
                          ONE_HOUR: now - settings.OPSDESK_METRICS_ROLLUP_DAYS * 86400}
        rolled = StoreCursor.objects.filter(name="rollup").values_list("value", flat=True).first() or 0
        expired = {"expired_chunks": 0, "expired_rollups": 0}
        # Rollups by step: the `rollup_step_ts` index leads with the step, so `ts < x` alone read
        # every rollup row at every run (a year of 5-minute buckets is 105,120 rows a series).
        for key, model, condition in (("expired_chunks", Chunk, {"end__lt": raw_before, "id__lte": rolled}),
                                      *(("expired_rollups", Rollup, {"step": step, "ts__lt": rollups_before[step]})
                                        for step in ROLLUP_STEPS)):
            while True:
                ids = list(model.objects.filter(**condition).values_list("id", flat=True)[:DELETE_BATCH])
                if not ids:
                    break
                model.objects.filter(id__in=ids).delete()
                expired[key] += len(ids)
        for name, bound in ((RAW_EXPIRED, raw_before), (FIVE_MINUTES_EXPIRED, rollups_before[FIVE_MINUTES])):
            StoreCursor.objects.update_or_create(name=name, defaults={"value": int(bound)})
        return expired

    def health(self) -> tuple[bool, str]:
        return True, "database"
