#!/usr/bin/env python
"""How many checks a minute one collector process runs, and how close to their schedule.

The collector's engine (opsdesk/monitoring/collector) runs in this process with 20,000 checks at
a 60 s interval, half `http` (GET of a small page) and half `tcp` (connect), for two intervals,
with a sink that only counts. The targets are a small asyncio HTTP server and a TCP listener on
127.0.0.1, started in a separate process, so the figures are the collector's own CPU and latency
(on a machine whose other cores serve the targets). The last line of output is one JSON object
(see bench/README.md); progress goes to stderr.

Jitter is how late a run starts after its scheduled time (started_at - scheduled_at): the time it
waits for the event loop and for a free slot. `checks_per_min` counts the runs over the span of
their scheduled times (the engine starts a moment after the clock does); it cannot exceed the
offered load, so the target is met when every due run ran (within 1 %) with a p99 jitter under
1 s. `--quick`: 10,000 checks at a 30 s interval (the same 20,000 a minute) for 40 s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opsdesk.monitoring.checks.base import CheckSpec
from opsdesk.monitoring.collector import Collector, RunRecord
from opsdesk.monitoring.collector.engine import percentile

TARGET_CHECKS_PER_MIN = 20_000
TARGET_JITTER_P99_S = 1.0
PAGE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\nopsdesk bench\n"


@dataclass(frozen=True)
class Size:
    checks: int
    interval: float
    duration: float


FULL = Size(checks=20_000, interval=60.0, duration=120.0)
QUICK = Size(checks=10_000, interval=30.0, duration=40.0)


def log(message: str) -> None:
    print(f"collector: {message}", file=sys.stderr, flush=True)


# --- the targets (another process) -----------------------------------------------------------

def serve(ports: Any, ready: Any) -> None:
    """An HTTP server answering every request with a small page, and a TCP listener that accepts
    and closes; their ports go back through `ports`."""

    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(PAGE)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def main() -> None:
        http_server = await asyncio.start_server(http, "127.0.0.1", 0, backlog=4096)
        tcp_server = await asyncio.start_server(tcp, "127.0.0.1", 0, backlog=4096)
        ports.put((http_server.sockets[0].getsockname()[1], tcp_server.sockets[0].getsockname()[1]))
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


# --- the collector (this process) ------------------------------------------------------------

def specs(size: Size, http_port: int, tcp_port: int) -> list[CheckSpec]:
    made = []
    for i in range(1, size.checks + 1):
        if i % 2:
            made.append(CheckSpec(id=i, type="http", target=f"http://127.0.0.1:{http_port}/check/{i}",
                                  params={"expect_status": [200]}, interval=size.interval, timeout=5.0))
        else:
            made.append(CheckSpec(id=i, type="tcp", target="127.0.0.1", params={"port": tcp_port},
                                  interval=size.interval, timeout=5.0))
    return made


async def measure(size: Size, checks: list[CheckSpec], concurrency: int) -> dict[str, Any]:
    states: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    sink_batches = 0
    scheduled = [float("inf"), float("-inf")]  # the first and last scheduled time seen

    async def source() -> list[CheckSpec]:
        return checks

    async def sink(records: list[RunRecord]) -> None:
        nonlocal sink_batches
        sink_batches += 1
        for record in records:
            scheduled[0] = min(scheduled[0], record.scheduled_at)
            scheduled[1] = max(scheduled[1], record.scheduled_at)
            states[record.result.state] += 1
            if record.result.code != "ok":
                codes[record.result.code] += 1

    collector = Collector(source, sink, max_concurrency=concurrency, refresh_interval=30.0, flush_interval=1.0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.call_later(size.duration, stop.set)
    lag: list[float] = []

    async def watch_loop() -> None:
        # How late a 50 ms timer fires: the event loop's own responsiveness, apart from the checks.
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.05)
            lag.append(loop.time() - before - 0.05)

    cpu_before = time.process_time()
    started = time.monotonic()
    watcher = asyncio.create_task(watch_loop())
    await collector.run(stop)
    await watcher
    wall = time.monotonic() - started
    cpu = time.process_time() - cpu_before
    stats = collector.stats
    jitter = list(stats.jitter)
    span = scheduled[1] - scheduled[0]
    return {
        "checks_per_min": round((stats.runs_done - 1) / span * 60) if span > 0 else 0,
        "offered_checks_per_min": round(size.checks / size.interval * 60),
        "jitter_p99_s": round(percentile(jitter, 99), 4),
        "jitter_p50_s": round(percentile(jitter, 50), 4),
        "jitter_max_s": round(max(jitter), 4),
        "loop_lag_p99_s": round(percentile(lag, 99), 4),
        "runs_done": stats.runs_done,
        "runs_late": stats.runs_late,
        "runs_skipped": stats.runs_skipped,
        "runs_timed_out": stats.runs_timed_out,
        "saturated_runs": stats.saturated,
        "states": dict(states),
        "problem_codes": dict(codes.most_common(5)),
        "sink_batches": sink_batches,
        "cpu_s": round(cpu, 1),
        "cpu_per_check_ms": round(cpu / max(1, stats.runs_done) * 1000, 3),
        "cpu_percent_of_one_core": round(cpu / wall * 100, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "wall_s": round(wall, 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = QUICK if args.quick else FULL
    size = Size(args.checks or size.checks, args.interval or size.interval, args.duration or size.duration)
    context = multiprocessing.get_context("spawn")
    ports, ready = context.Queue(), context.Event()
    server = context.Process(target=serve, args=(ports, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(20):
            raise SystemExit("collector: the target server did not start")
        http_port, tcp_port = ports.get(timeout=5)
        log(f"{size.checks} checks (half http, half tcp) every {size.interval:g} s for {size.duration:g} s, "
            f"targets in process {server.pid} on ports {http_port} (http) and {tcp_port} (tcp)")
        checks = specs(size, http_port, tcp_port)
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        figures = asyncio.run(measure(size, checks, args.concurrency))
        if profiler:
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue(), file=sys.stderr)
    finally:
        server.terminate()
        server.join(5)
    log(f"{figures['checks_per_min']} checks/min, jitter p99 {figures['jitter_p99_s']} s, "
        f"CPU {figures['cpu_percent_of_one_core']} % of one core")
    return {
        **figures,
        "target_checks_per_min": TARGET_CHECKS_PER_MIN,
        "target_jitter_p99_s": TARGET_JITTER_P99_S,
        "meets_target": figures["checks_per_min"] >= 0.99 * TARGET_CHECKS_PER_MIN
        and figures["jitter_p99_s"] < TARGET_JITTER_P99_S,
        "checks": size.checks,
        "interval_s": size.interval,
        "duration_s": size.duration,
        "max_concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "quick": args.quick,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 checks every 30 s for 40 s")
    parser.add_argument("--checks", type=int, help="number of checks (half http, half tcp)")
    parser.add_argument("--interval", type=float, help="seconds between runs of a check")
    parser.add_argument("--duration", type=float, help="seconds to run")
    parser.add_argument("--concurrency", type=int, default=500, help="the engine's max_concurrency")
    parser.add_argument("--profile", action="store_true", help="print the top functions by own time to stderr")
    args = parser.parse_args()
    print(json.dumps(run(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
