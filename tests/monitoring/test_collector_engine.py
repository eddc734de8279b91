"""The collector's engine (opsdesk/monitoring/collector/engine.py) with check types of the tests'
own that sleep, count or raise: how runs spread over the interval, keep their schedule without
drift, follow the source's changes, stay on time beside a slow check, survive a crashing check
module, and reach a sink that fails for a while. Real checks against real peers through the engine
are in tests/monitoring/checks/test_network.py."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from opsdesk.monitoring.checks.base import CheckSpec, CheckType, result
from opsdesk.monitoring.collector import Collector, RunRecord
from opsdesk.monitoring.collector.engine import phase


async def _quick(spec, memo):
    memo["runs"] = memo.get("runs", 0) + 1
    return result("ok", "ok", f"run {memo['runs']}", runs=memo["runs"])


async def _sleepy(spec, memo):
    await asyncio.sleep(spec.params.get("sleep", 0.05))
    return result("ok", "ok", "slept")


async def _hang(spec, memo):
    await asyncio.sleep(3600)  # ignores its timeout: the engine must cut it


async def _boom(spec, memo):
    raise RuntimeError("the module has a bug")


TYPES = {name: CheckType(name, name, run, {"type": "object", "properties": {}}, 60.0, ())
         for name, run in (("quick", _quick), ("sleepy", _sleepy), ("hang", _hang), ("boom", _boom))}


def spec(id_: int, type_: str = "quick", interval: float = 1.0, timeout: float = 1.0, **params) -> CheckSpec:
    return CheckSpec(id=id_, type=type_, target="test", params=params, interval=interval, timeout=timeout)


def collect(specs, seconds: float, *, sink=None, source=None, **options) -> tuple[Collector, list[RunRecord]]:
    """Runs a collector for `seconds` and answers it with every record its sink received."""
    records: list[RunRecord] = []

    async def default_source():
        return list(specs)

    async def default_sink(batch):
        records.extend(batch)

    async def main() -> Collector:
        collector = Collector(source or default_source, sink or default_sink, check_types=TYPES,
                              flush_interval=options.pop("flush_interval", 0.05),
                              drain_timeout=options.pop("drain_timeout", 0.1), **options)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await collector.run(stop)
        return collector

    return asyncio.run(main()), records


def by_check(records: list[RunRecord]) -> dict[int, list[RunRecord]]:
    runs: dict[int, list[RunRecord]] = {}
    for record in sorted(records, key=lambda r: r.scheduled_at):
        runs.setdefault(record.spec_id, []).append(record)
    return runs


def test_the_phase_is_fixed_by_the_id_and_spreads_consecutive_ids():
    assert phase(7) == phase(7) and 0 <= phase(7) < 1
    quarters = Counter(int(phase(i) * 4) for i in range(1, 1001))
    assert all(200 <= quarters[q] <= 300 for q in range(4)), quarters


def test_checks_spread_over_their_interval():
    collector, records = collect([spec(i, interval=1.0) for i in range(1, 201)], 1.2)
    first = [runs[0] for runs in by_check(records).values()]
    assert len(first) == 200  # every check ran within its first interval
    start = min(r.scheduled_at for r in first)
    offsets = [r.scheduled_at - start for r in first]
    assert max(offsets) < 1.0
    quarters = Counter(int(offset / 0.25) for offset in offsets)
    assert all(30 <= quarters[q] <= 70 for q in range(4)), quarters
    assert collector.stats.runs_late == 0


def test_runs_follow_the_schedule_without_drift():
    collector, records = collect([spec(1, "sleepy", interval=0.2, sleep=0.05)], 1.5)
    runs = by_check(records)[1]
    assert len(runs) >= 6
    for n, run in enumerate(runs):
        # Every run is due exactly n intervals after the first, however long the runs took.
        assert run.scheduled_at - runs[0].scheduled_at == pytest.approx(n * 0.2, abs=1e-6)
        # Never early, and before the next run is due (how late, under load, is bench/collector.py's
        # jitter_p99_s: a bound tighter than an interval here only measures the machine).
        assert 0 <= run.started_at - run.scheduled_at < 0.2
        assert run.finished_at - run.started_at >= 0.04  # the run's own 0.05 s, not cut short
    assert collector.stats.runs_done == len(runs) and not collector.stats.runs_skipped


def test_a_refresh_picks_up_a_new_check_and_drops_a_removed_one():
    current = [spec(1, interval=0.1), spec(2, interval=0.1)]
    records: list[RunRecord] = []
    changed_at: list[float] = []

    async def source():
        return list(current)

    async def sink(batch):
        records.extend(batch)

    async def main() -> Collector:
        collector = Collector(source, sink, check_types=TYPES, refresh_interval=0.2, flush_interval=0.05,
                              drain_timeout=0.1)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def change() -> None:
            current[:] = [spec(1, interval=0.1), spec(3, interval=0.1)]
            changed_at.append(loop.time() + collector._unix_offset)

        loop.call_later(0.5, change)
        loop.call_later(1.2, stop.set)
        await collector.run(stop)
        return collector

    collector = asyncio.run(main())
    runs = by_check(records)
    switch = changed_at[0] + 0.2 + 0.05  # picked up at the next refresh
    assert runs[3] and min(r.scheduled_at for r in runs[3]) > changed_at[0]
    assert max(r.scheduled_at for r in runs[2]) < switch
    # The unchanged check kept its memo: its run counter never started again.
    counts = [r.result.params["runs"] for r in runs[1]]
    assert counts == list(range(1, len(counts) + 1)) and len(counts) >= 9
    assert collector.stats.checks == 2


def test_a_changed_check_starts_afresh():
    current = [spec(1, interval=0.1)]

    async def source():
        return list(current)

    records: list[RunRecord] = []

    async def sink(batch):
        records.extend(batch)

    async def main():
        collector = Collector(source, sink, check_types=TYPES, refresh_interval=0.2, flush_interval=0.05,
                              drain_timeout=0.1)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(0.45, lambda: current.__setitem__(0, spec(1, interval=0.1, new_param=True)))
        loop.call_later(1.0, stop.set)
        await collector.run(stop)

    asyncio.run(main())
    counts = [r.result.params["runs"] for r in by_check(records)[1]]
    assert counts.count(1) == 2  # counted from 1 again after the change


def test_a_slow_check_does_not_delay_the_others():
    specs = [spec(1, "hang", interval=1.0, timeout=0.3)] + [spec(i, interval=0.2) for i in range(10, 40)]
    collector, records = collect(specs, 2.6, max_concurrency=4)
    hung = [r for r in records if r.spec_id == 1]
    assert hung and all((r.result.state, r.result.code) == ("critical", "timeout") for r in hung)
    assert all(1.2 <= r.finished_at - r.started_at < 2.0 for r in hung)  # its timeout and the engine's grace
    others = [r for r in records if r.spec_id >= 10]
    assert len(others) >= 30 * 10
    # Behind the hung run they would wait its 1.2 s and more; a loaded machine's own lateness is
    # far less (bench/collector.py measures that).
    assert max(r.started_at - r.scheduled_at for r in others) < 0.5
    assert collector.stats.runs_timed_out >= 1 and collector.stats.runs_late == 0


def test_a_run_that_outlasts_its_interval_skips_the_next_one():
    collector, records = collect([spec(1, "sleepy", interval=0.1, timeout=1.0, sleep=0.25)], 1.0)
    runs = by_check(records)[1]
    assert 2 <= len(runs) <= 4
    assert collector.stats.runs_skipped >= 4


def test_all_slots_busy_is_counted():
    specs = [spec(i, "sleepy", interval=0.5, sleep=0.3) for i in range(1, 21)]
    collector, records = collect(specs, 0.9, max_concurrency=2)
    assert collector.stats.saturated > 0
    assert collector.stats.in_flight == 0  # all finished or cancelled at stop


def test_a_raising_check_is_unknown_and_the_engine_goes_on():
    specs = [spec(1, "boom", interval=0.1), spec(2, interval=0.1), spec(3, "no-such-type", interval=0.1)]
    collector, records = collect(specs, 0.6)
    runs = by_check(records)
    assert len(runs[1]) >= 4 and all(r.result.state == "unknown" and r.result.code == "error" for r in runs[1])
    assert "the module has a bug" in runs[1][0].result.message
    assert len(runs[2]) >= 4 and all(r.result.state == "ok" for r in runs[2])
    assert runs[3][0].result.code == "unknown_type"


def test_a_failing_sink_is_retried_and_nothing_is_lost():
    calls = {"n": 0}
    delivered: list[RunRecord] = []

    async def sink(batch):
        calls["n"] += 1
        if calls["n"] <= 3:
            raise ConnectionError("the server is down")
        delivered.extend(batch)

    collector, _ = collect([spec(i, interval=0.1) for i in range(1, 6)], 0.8, sink=sink)
    assert collector.stats.sink_failures == 3
    assert len(delivered) == collector.stats.runs_done
    keys = [(r.spec_id, r.scheduled_at) for r in delivered]
    assert len(set(keys)) == len(keys)  # each run once
    for runs in by_check(delivered).values():  # and in order
        assert [r.scheduled_at for r in runs] == sorted(r.scheduled_at for r in runs)


def test_records_waiting_for_a_dead_sink_are_bounded():
    async def sink(batch):
        raise ConnectionError("down for good")

    collector, _ = collect([spec(i, interval=0.05) for i in range(1, 11)], 0.6, sink=sink, max_pending=20)
    assert collector.stats.records_dropped > 0
    assert len(collector._records) <= 20


def test_a_failing_source_keeps_the_known_checks():
    calls = {"n": 0}

    async def source():
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError("database gone")
        return [spec(1, interval=0.1)]

    collector, records = collect([], 0.7, source=source, refresh_interval=0.1)
    assert collector.stats.source_failures >= 3
    assert len(records) >= 5
