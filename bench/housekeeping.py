#!/usr/bin/env python
"""Whether the SQL store's housekeeping keeps up with filing: roll-ups per second.

Builds its own database (a fresh SQLite file in a temporary data directory, or the PostgreSQL
database named by DATABASE_URL, dropped and created again) and writes chunks through the store as
filing passes do, for many series at once, in two shapes:

- `agents`: host agents pushing every 30 s; a filing pass a second writes each series' one new
  sample as a chunk of its own (the common case, and the one with the most chunks a sample);
- `dense`: the ingest benchmark's batches, ten samples 15 s apart per series and batch, two
  batches of a series a pass: chunks of 20 samples that span several 5-minute buckets.

Then it runs the store's roll-up (what the worker's housekeeping task does once a minute) until
every chunk is rolled up, and reports chunks and samples rolled up per second of wall-clock time
and the CPU time this process and, on PostgreSQL, its server process spent. Housekeeping keeps up
with filing as long as it rolls up faster than filing writes: on this machine the ingest
benchmark files up to about a million samples a second while it runs flat out, and a fleet of
agents writes a chunk per series and 30 s.

The last line of output is one JSON object (see bench/README.md); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _scratch import Bench, cpu_ns, database_backend_pid

BENCH = Bench("housekeeping")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

T0 = 1_764_000_000.0  # a whole hour


@dataclass(frozen=True)
class Size:
    series: int
    passes: int  # filing passes written per shape


FULL = Size(series=20_000, passes=10)
QUICK = Size(series=2_000, passes=5)


@dataclass(frozen=True)
class Shape:
    name: str
    samples_per_chunk: int
    sample_step_s: float
    pass_span_s: float  # of sample time a filing pass covers per series


SHAPES = [Shape("agents", 1, 30.0, 30.0), Shape("dense", 20, 15.0, 300.0)]


def make_series(count: int) -> list[int]:
    from opsdesk.cmdb.models import CIKind, ConfigurationItem
    from opsdesk.core.models import Customer
    from opsdesk.monitoring.models import Series

    customer = Customer.objects.create(code="BENCH", name="Bench customer")
    kind = CIKind.objects.get(slug="server")
    items = ConfigurationItem.objects.bulk_create(
        [ConfigurationItem(customer=customer, kind=kind, name=f"host-{n:04d}") for n in range(max(1, count // 100))])
    made = Series.objects.bulk_create(
        [Series(customer=customer, configuration_item=items[n // 100], name=f"metric_{n % 100}", labels={},
                key=f"{n:040d}") for n in range(count)], batch_size=2_000)
    return [s.pk for s in made]


def write_passes(series: list[int], shape: Shape, passes: int, start: float) -> int:
    """Chunks as filing passes write them; answers the samples written."""
    from django.db import transaction

    from opsdesk.monitoring.store import Points
    from opsdesk.monitoring.store.sql import SQLStore

    store = SQLStore()
    samples = 0
    for number in range(passes):
        first = start + number * shape.pass_span_s
        ts = [first + i * shape.sample_step_s for i in range(shape.samples_per_chunk)]
        values = [float(i % 97) for i in range(shape.samples_per_chunk)]
        with transaction.atomic():
            store.write([Points(series_id=s, item_id=0, customer_id=0, name="", labels={}, ts=ts, values=values,
                                ordered=True) for s in series])
        samples += len(series) * len(ts)
    return samples


class WriterProbe:
    """Another process writing a row every 5 ms while the roll-ups run, as the filer does (on
    SQLite it waits while anything else holds the one writer); the longest a write took. A
    process of its own, so that this one's interpreter lock is not in its times."""

    SCRIPT = """
import json, sys, time
settings = json.loads(sys.argv[1])
if settings["vendor"] == "sqlite":
    import sqlite3
    db = sqlite3.connect(settings["name"], timeout=60, isolation_level=None)
    begin = "BEGIN IMMEDIATE"
    upsert = ("INSERT INTO monitoring_storecursor (name, value) VALUES ('bench-writer-probe', ?) "
              "ON CONFLICT (name) DO UPDATE SET value = excluded.value")
else:
    import psycopg
    db = psycopg.connect(settings["dsn"], autocommit=True)
    begin = "BEGIN"
    upsert = ("INSERT INTO monitoring_storecursor (name, value) VALUES ('bench-writer-probe', %s) "
              "ON CONFLICT (name) DO UPDATE SET value = excluded.value")
longest, writes = 0.0, 0
print("ready", flush=True)
while not sys.stdin.closed:
    began = time.perf_counter()
    db.execute(begin)
    db.execute(upsert, (writes,))
    db.execute("COMMIT")
    longest, writes = max(longest, time.perf_counter() - began), writes + 1
    import select
    if select.select([sys.stdin], [], [], 0.005)[0]:
        break
print(json.dumps({"longest_s": longest, "writes": writes}), flush=True)
"""

    def __enter__(self) -> WriterProbe:
        from django.db import connection

        params = connection.get_connection_params()
        if connection.vendor == "sqlite":
            settings = {"vendor": "sqlite", "name": str(params["database"])}
        else:
            settings = {"vendor": "postgresql", "dsn": " ".join(
                f"{key}={value}" for key, value in params.items()
                if key in ("host", "port", "dbname", "user", "password") and value)}
        self.proc = subprocess.Popen([sys.executable, "-c", self.SCRIPT, json.dumps(settings)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.write("stop\n")
        self.proc.stdin.close()
        found = json.loads(self.proc.stdout.readline())
        self.proc.wait(timeout=30)
        self.longest_s, self.writes = found["longest_s"], found["writes"]


def measure_shape(series: list[int], shape: Shape, passes: int, start: float) -> dict[str, Any]:
    from opsdesk.monitoring.models import Chunk, StoreCursor
    from opsdesk.monitoring.store.sql import BLOCK_SECONDS, SQLStore

    before = StoreCursor.objects.filter(name="rollup").values_list("value", flat=True).first() or 0
    BENCH.log(f"{shape.name}: writing {passes} passes of {len(series)} series")
    samples = write_passes(series, shape, passes, start)
    chunks = Chunk.objects.filter(id__gt=before).count()
    backend = database_backend_pid()
    store = SQLStore()
    cpu_started, started = cpu_ns(backend), time.perf_counter()
    rolled = 0
    with WriterProbe() as probe:
        while True:
            done = store.roll_up_all()
            rolled += done
            if not done:
                break
    seconds = time.perf_counter() - started
    cpu_s = (cpu_ns(backend) - cpu_started) / 1e9
    if rolled != chunks:
        raise SystemExit(f"housekeeping: {rolled} chunks rolled up, {chunks} written")
    BENCH.log(f"{shape.name}: {chunks} chunks, {samples} samples rolled up in {seconds:.2f} s")
    # Compaction, once the two-hour blocks are over: a series' chunks of a block merged into one.
    later = start + passes * shape.pass_span_s + 3 * BLOCK_SECONDS
    cpu_compacting, compacting = cpu_ns(backend), time.perf_counter()
    merged = 0
    while True:
        done = store.compact(later)
        merged += done
        if not done:
            break
    compact_s = time.perf_counter() - compacting
    left = Chunk.objects.filter(id__gt=before).count()
    BENCH.log(f"{shape.name}: {merged} chunks merged away in {compact_s:.2f} s, {left} left")
    return {"chunks": chunks, "samples": samples, "seconds": round(seconds, 2), "cpu_s": round(cpu_s, 2),
            "chunks_per_s": round(chunks / seconds), "samples_per_s": round(samples / seconds),
            "writer_wait_max_ms": round(probe.longest_s * 1000, 1), "writer_probe_writes": probe.writes,
            "compacted_chunks": merged, "compact_s": round(compact_s, 2),
            "compact_cpu_s": round((cpu_ns(backend) - cpu_compacting) / 1e9, 2),
            "compact_chunks_per_s": round(merged / compact_s) if compact_s else None, "chunks_left": left}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK.series} series and {QUICK.passes} passes a shape (under a minute)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and the database")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    size = QUICK if args.quick else FULL

    def run(database: str, data_dir: str) -> dict[str, Any]:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        series = make_series(size.series)
        cases = {}
        for number, shape in enumerate(SHAPES):  # each in two-hour blocks of its own
            cases[shape.name] = measure_shape(series, shape, size.passes, T0 + number * 4 * 3600)
        agents = cases["agents"]
        return {"quick": args.quick, "database": database, "series": size.series, "passes": size.passes,
                "rollup_chunks_per_s": agents["chunks_per_s"], "rollup_samples_per_s": agents["samples_per_s"],
                "rollup_dense_samples_per_s": cases["dense"]["samples_per_s"],
                "rollup_writer_wait_max_ms": max(case["writer_wait_max_ms"] for case in cases.values()),
                "cases": cases}

    print(json.dumps(BENCH.run(args.keep, run)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
