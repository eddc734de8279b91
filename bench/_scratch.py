"""What the benchmarks that load a scratch database share: a fresh database (a new SQLite file,
or a PostgreSQL database whose name must contain "bench", dropped and created again), CPU time
of a request, query counts, and clean-up. Not a benchmark itself (`make bench` skips `_*.py`)."""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class Bench:
    def __init__(self, name: str) -> None:
        self.name = name

    def log(self, message: str) -> None:
        print(f"{self.name}: {message}", file=sys.stderr, flush=True)

    def prepare_database(self, data_dir: str) -> str:
        """Point opsdesk at a fresh database before Django starts; returns its vendor name."""
        # Unconditionally: `make bench` exports OPSDESK_DATA_DIR=./var, which must not be touched.
        os.environ["OPSDESK_DATA_DIR"] = data_dir
        os.environ["DJANGO_SETTINGS_MODULE"] = "opsdesk.settings"
        url = os.environ.get("DATABASE_URL", "")
        if not url:
            return "sqlite"
        parts = urlsplit(url)
        name = parts.path.lstrip("/")
        if parts.scheme.startswith("sqlite"):
            raise SystemExit(f"{self.name}: DATABASE_URL with sqlite is not supported; unset it for a fresh "
                             "SQLite file")
        # The database is dropped: refuse anything that does not look like a scratch database, so a
        # DATABASE_URL left exported for a real installation cannot be wiped by `make bench`.
        if "bench" not in name:
            raise SystemExit(f"{self.name}: refusing to drop database {name!r}: its name must contain 'bench' "
                             "(for example postgres://postgres@127.0.0.1:5432/opsdesk_bench)")
        import psycopg
        from psycopg import sql

        with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return "postgresql"

    def run(self, keep: bool, measure: Callable[[str, str], dict[str, Any]]) -> dict[str, Any]:
        """`measure(database, data_dir)` on a fresh database, removed afterwards unless `keep`."""
        data_dir = tempfile.mkdtemp(prefix="opsdesk-bench-")
        database = ""
        try:
            database = self.prepare_database(data_dir)
            return measure(database, data_dir)
        finally:
            if not keep:
                shutil.rmtree(data_dir, ignore_errors=True)
                if database == "postgresql" and "django.db" in sys.modules:
                    # Only logged: it must not hide the error that got us here.
                    try:
                        drop_database()
                    except Exception as exc:
                        self.log(f"could not drop the benchmark database: {exc}")

    def count_queries(self, client, url: str, show: bool, headers: dict[str, str] | None = None) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            client.get(url, headers=headers or {})
        if show:
            for query in ctx.captured_queries:
                self.log(f"  [{query['time']}s] {query['sql'][:400]}")
        return len(ctx.captured_queries)


def p95(samples: list[float]) -> float:
    """Nearest-rank 95th percentile: with 30 samples, the second slowest."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def drop_database() -> None:
    """Remove the PostgreSQL database made for this run."""
    from django.db import connection, connections

    name = connection.settings_dict["NAME"]
    connections.close_all()
    import psycopg
    from psycopg import sql

    parts = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_backend_pid() -> int | None:
    """The PostgreSQL server process of our connection, when it runs on this machine (its CPU
    time is then readable from /proc); None for SQLite, which runs inside this process."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return pid if Path(f"/proc/{pid}/schedstat").exists() else None


def cpu_ns(backend_pid: int | None) -> int:
    """CPU time used so far by this thread and, if given, by the database server process.

    Wall-clock time on a shared machine includes waiting for a CPU; CPU time does not, so it is
    what a request would take on an idle machine (with data in memory, as here)."""
    total = time.thread_time_ns()
    if backend_pid is not None:
        # First field of schedstat: nanoseconds on a CPU (finer than utime's clock ticks).
        total += int(Path(f"/proc/{backend_pid}/schedstat").read_text().split()[0])
    return total
