#!/usr/bin/env python
"""How fast the query API answers a 30-day chart of a series sampled every minute.

Builds its own database (a fresh SQLite file in a temporary data directory, or the PostgreSQL
database named by DATABASE_URL, dropped and created again), then files 30 days of one-minute
samples of one host's series through the metric store as filing does (one chunk per series every
ten minutes) and, every six hours of samples, runs the store's housekeeping as the worker would
have by then, until it has nothing left to do: the 5-minute and hourly rollups, the compaction
of finished two-hour blocks, and the expiry of raw samples older than OPSDESK_METRICS_RAW_DAYS
(7). Then it requests `GET /api/monitoring/query/` in process with Django's test client and a
personal API token, as the CI page's charts do, and prints the p95 of each case. The last line of
output is one JSON object (see bench/README.md); progress goes to stderr.

Cases: one series over 30 days (the target: hourly rollups, about 720 points), 7 days and 24 hours;
and, for context, a host's whole chart board (16 series, as the CI page asks for them) over 30 days.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _scratch import Bench, cpu_ns, database_backend_pid, p95

BENCH = Bench("chart")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_P95_MS = 200.0
DAYS = 30
SAMPLE_SECONDS = 60
CHUNK_SECONDS = 600  # one filing pass' chunk per series every ten minutes
HOUSEKEEPING_SECONDS = 6 * 3600  # of samples between two housekeeping runs (the worker's are more often)
# The host agent's series a CI page charts (opsdesk/agent/metrics.py).
BOARD = [("cpu_usage_percent", {}), ("cpu_iowait_percent", {}), ("memory_used_percent", {}),
         ("swap_used_percent", {}), ("load1", {}), ("load5", {}), ("load15", {}),
         ("filesystem_used_percent", {"mount": "/"}), ("filesystem_used_percent", {"mount": "/var"}),
         ("disk_read_bytes_per_second", {"device": "sda"}), ("disk_written_bytes_per_second", {"device": "sda"}),
         ("network_received_bytes_per_second", {"interface": "eth0"}),
         ("network_sent_bytes_per_second", {"interface": "eth0"}),
         ("network_received_bytes_per_second", {"interface": "eth1"}),
         ("network_sent_bytes_per_second", {"interface": "eth1"}), ("cpu_count", {})]


@dataclass(frozen=True)
class Size:
    series: int  # of BOARD, the first one being the measured series
    requests: int  # timed requests per case


FULL = Size(series=len(BOARD), requests=30)
# --quick: the measured series and three more (the board case asks for those four).
QUICK = Size(series=4, requests=10)


def value(index: int, t: float) -> float:
    """A daily wave with noise-like wiggles, different per series."""
    return 40 + 30 * math.sin(t / 86400 * 2 * math.pi + index) + 10 * math.sin(t / 97 + index * 7)


def load_samples(size: Size, now: float) -> tuple[Any, list[Any], dict[str, int]]:
    """The host and its series, 30 days of samples filed through the store, rolled up."""
    from django.db import transaction

    from opsdesk.cmdb.models import CIKind, ConfigurationItem
    from opsdesk.core.models import Customer, Role, User
    from opsdesk.monitoring.models import Series
    from opsdesk.monitoring.series_ids import series_key
    from opsdesk.monitoring.store import Points, get_store

    customer = Customer.objects.create(code="BENCH", name="Bench customer")
    item = ConfigurationItem.objects.create(customer=customer, kind=CIKind.objects.get(slug="server"), name="web-01")
    admin = User(username="bench-admin", role=Role.ADMIN)
    admin.set_unusable_password()
    admin.save()
    series = [Series.objects.create(customer=customer, configuration_item=item, name=name, labels=labels,
                                    key=series_key(name, labels.items()))
              for name, labels in BOARD[:size.series]]
    store = get_store()
    start = now - DAYS * 86400
    filing_s = housekeeping_s = 0.0
    done: dict[str, int] = {"samples": 0}

    def housekeeping(at: float) -> None:
        # As the worker's periodic task would have, at that time, until nothing is left to do.
        # (Expiry deletes raw chunks by age, rolled up or not: housekeeping must keep up.)
        while True:
            step = store.housekeeping(at)
            for key, count in step.items():
                done[key] = done.get(key, 0) + count
            if not any(step.values()):
                return

    chunk_start = start
    while chunk_start < now:
        started = time.perf_counter()
        chunk_end = min(chunk_start + CHUNK_SECONDS, now)
        ts = [chunk_start + i * SAMPLE_SECONDS for i in range(int((chunk_end - chunk_start) // SAMPLE_SECONDS))]
        with transaction.atomic():
            store.write([Points(series_id=s.pk, item_id=item.pk, customer_id=customer.pk, name=s.name,
                                labels=s.labels, ts=ts, values=[value(n, t) for t in ts])
                         for n, s in enumerate(series)])
        done["samples"] += len(ts) * len(series)
        filing_s += time.perf_counter() - started
        chunk_start = chunk_end
        if int(chunk_start - start) % HOUSEKEEPING_SECONDS == 0 or chunk_start >= now:
            started = time.perf_counter()
            housekeeping(chunk_start)
            housekeeping_s += time.perf_counter() - started
    done["filing_s"] = round(filing_s, 1)
    done["housekeeping_s"] = round(housekeeping_s, 1)
    BENCH.log(f"{done['samples']} samples filed, housekeeping every {HOUSEKEEPING_SECONDS // 3600} h of them: {done}")
    return admin, series, done


def measure(client, url: str, requests: int, headers: dict[str, str],
            backend_pid: int | None) -> tuple[list[float], list[float], dict]:
    """Timed GETs of one URL after three warm-up requests; wall-clock and CPU milliseconds."""
    samples, cpu_samples = [], []
    body: dict = {}
    for i in range(requests + 3):
        cpu_started = cpu_ns(backend_pid)
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        cpu = (cpu_ns(backend_pid) - cpu_started) / 1e6
        if response.status_code != 200:
            raise SystemExit(f"chart: {url} answered {response.status_code}: {response.content[:300]!r}")
        if i < 3:
            body = response.json()
            continue
        samples.append(elapsed)
        cpu_samples.append(cpu)
    return samples, cpu_samples, body


def measure_all(args: argparse.Namespace, size: Size, requests: int, database: str, data_dir: str) -> dict[str, Any]:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]

    import django

    django.setup()
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from opsdesk.core import services

    BENCH.log(f"database {database}, data directory {data_dir}; migrating")
    call_command("migrate", interactive=False, verbosity=0)
    now = float(int(time.time()))
    admin, series, housekeeping = load_samples(size, now)
    setup_s = time.perf_counter() - started

    _token, raw = services.create_token(admin, name="bench")
    api = APIClient()
    auth = {"Authorization": f"Bearer {raw}"}
    one = f"series={series[0].pk}"
    board = "&".join(f"series={s.pk}" for s in series)
    cases = [
        ("p95_ms", f"{one}&start={now - 30 * 86400}&end={now}"),
        ("p95_ms_7d", f"{one}&start={now - 7 * 86400}&end={now}"),
        ("p95_ms_24h", f"{one}&start={now - 86400}&end={now}"),
        ("p95_ms_30d_board", f"{board}&start={now - 30 * 86400}&end={now}"),
    ]
    api.get(f"/api/monitoring/query/?{cases[0][1]}", headers=auth)  # opens the watched connection
    backend_pid = database_backend_pid()
    result: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, query in cases:
        url = f"/api/monitoring/query/?{query}"
        samples, cpu_samples, body = measure(api, url, requests, auth, backend_pid)
        answer = body["series"][0]
        span = body["end"] - body["start"]
        if answer["step"] and len(answer["points"]) < 0.95 * span / answer["step"]:
            raise SystemExit(f"chart: {key} answered {len(answer['points'])} points for {span / 86400:g} days at "
                             f"{answer['step']} s: the rollups are incomplete")
        result[key] = round(p95(samples), 1)
        extra[key.replace("p95_ms", "p50_ms")] = round(statistics.median(samples), 1)
        extra[key.replace("p95_ms", "p95_cpu_ms")] = round(p95(cpu_samples), 1)
        extra[key.replace("p95_ms", "points")] = sum(len(s["points"]) for s in body["series"])
        extra[key.replace("p95_ms", "step_s")] = answer["step"]
        BENCH.log(f"{key}: p95 {result[key]} ms, median {statistics.median(samples):.1f} ms, CPU p95 "
                  f"{p95(cpu_samples):.1f} ms, {len(body['series'])} series, step {answer['step']} s, "
                  f"{extra[key.replace('p95_ms', 'points')]} points")
    queries = BENCH.count_queries(api, f"/api/monitoring/query/?{cases[0][1]}", args.show_queries, auth)
    cpu_includes_database = database == "sqlite" or (backend_pid is not None and database_backend_pid() == backend_pid)
    return {
        **result,
        **extra,
        "queries_per_request": queries,
        "cpu_includes_database": cpu_includes_database,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": result["p95_ms"] < TARGET_P95_MS,
        "database": database,
        "days": DAYS,
        "sample_interval_s": SAMPLE_SECONDS,
        "series": len(series),
        "samples": housekeeping["samples"],
        "rolled_up_chunks": housekeeping.get("rolled_up", 0),
        "expired_chunks": housekeeping.get("expired_chunks", 0),
        "filing_s": housekeeping["filing_s"],
        "housekeeping_s": housekeeping["housekeeping_s"],
        "requests_per_case": requests,
        "setup_s": round(setup_s, 1),
        "cpus": os.cpu_count(),
        "loadavg_1m_before": round(load_before, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "quick": args.quick,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = QUICK if args.quick else FULL
    requests = args.requests or size.requests
    return BENCH.run(args.keep, lambda database, data_dir: measure_all(args, size, requests, database, data_dir))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="4 series instead of 16, 10 requests per case (under a minute)")
    parser.add_argument("--requests", type=int, default=0, help="timed requests per case (default 30, quick 10)")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of one request to stderr")
    parser.add_argument("--keep", action="store_true",
                        help="keep the data directory and the PostgreSQL database for a look afterwards")
    args = parser.parse_args()
    # A SIGTERM (timeout, kill) still removes the temporary database and directory.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    result = run(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
