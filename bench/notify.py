#!/usr/bin/env python
"""Notification delivery through a real Celery worker: notifications delivered per second to a
local webhook receiver, and none lost when the worker is killed with SIGKILL mid-burst.

Everything runs as real processes on a scratch database in a temporary data directory: a fresh
SQLite file, or, when DATABASE_URL names PostgreSQL, a database `<name>_notify_<pid>` made on that
server and dropped at the end. The task queue is kombu's filesystem transport (the one that loses
what a killed worker had taken, docs/architecture.md). A small settings module beside the data directory
shortens the lease to 3 s and the "notify-sweep" beat to 1 s, so recovery shows in seconds
rather than a minute; nothing else differs from production.

1. throughput: `celery -A opsdesk worker --beat` runs; a separate process queues N notifications
   (each in its own transaction, as an alert firing would: the row, then the wake-up after commit)
   to one webhook channel whose receiver is an http.server in this process on 127.0.0.1. `per_s`
   is N over the time from the first queued to the last received; `p50_ms`/`p99_ms` from each
   row's creation to the receiver first seeing its key.
2. kill: the same, with a burst of 200; the receiver holds one request open, and while it is held
   the worker's whole process group gets SIGKILL (so a request is in flight and its rows are
   SENDING under a lease). The burst goes on without a worker; then the worker starts again and
   the beat's sweep takes the rows whose lease ran out. `lost_after_kill` counts notifications the
   receiver never saw or whose row is not SENT; `duplicates_after_kill` those it saw twice (the
   in-flight request's: at-least-once, the key lets a receiver drop them).

The last line of output is one JSON object (bench/README.md); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
LEASE_S = 3
SWEEP_S = 1.0

SETTINGS = f"""
from opsdesk.settings import *  # noqa: F403

# Shortened for the benchmark and the kill test only: a dead sender's rows come back in seconds.
OPSDESK_NOTIFY_LEASE_SECONDS = {LEASE_S}
CELERY_BEAT_SCHEDULE = {{
    "notify-sweep": {{"task": "opsdesk.notify.tasks.sweep_notifications", "schedule": {SWEEP_S}}},
}}
"""

QUEUE_SCRIPT = """
import json, sys, time
import django
django.setup()
from django.db import transaction
from opsdesk.notify import services
from opsdesk.notify.models import Channel

url, prefix, count, pace = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
channel, _ = Channel.objects.update_or_create(name="bench receiver",
                                              defaults={"kind": "webhook", "config": {"url": url}})
for n in range(count):
    with transaction.atomic():
        services.queue(channel, {"title": f"bench {n}", "text": "CPU 97% for 5 minutes", "severity": "major"},
                       key=f"{prefix}:{n}", language="en")
    if pace:
        time.sleep(pace)
"""

REPORT_SCRIPT = """
import json, sys
import django
django.setup()
from opsdesk.notify.models import Notification

prefix = sys.argv[1]
rows = Notification.objects.filter(key__startswith=prefix + ":")
print(json.dumps({"states": {r.key: r.state for r in rows},
                  "created": {r.key: r.created_at.timestamp() for r in rows},
                  "attempts": sum(r.attempts for r in rows)}))
"""


def log(message: str) -> None:
    print(f"notify: {message}", file=sys.stderr, flush=True)


# --- the receiver ----------------------------------------------------------------------------------

@dataclass
class Receiver:
    """A webhook receiver: records when it first saw each notification key, and how often."""

    seen: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    hold_request: int = 0  # the n-th request (1-based) is held open until `release` is set
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.time()
                keys = [m.get("key", "") for m in json.loads(body).get("messages", [])]
                with receiver.lock:
                    receiver.requests += 1
                    number = receiver.requests
                    for key in keys:
                        receiver.seen.setdefault(key, now)
                        receiver.counts[key] = receiver.counts.get(key, 0) + 1
                if number == receiver.hold_request:
                    receiver.held.set()
                    receiver.release.wait(30)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the sender was killed while we held its request

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# --- the system under test -----------------------------------------------------------------------

class System:
    """A scratch data directory and database, and the processes run on them."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="opsdesk-notify-"))
        (self.dir / "notify_bench_settings.py").write_text(SETTINGS)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "OPSDESK_TASKS_EAGER")}
        self.env.update(OPSDESK_DATA_DIR=str(self.dir / "data"), DJANGO_SETTINGS_MODULE="notify_bench_settings",
                        PYTHONPATH=os.pathsep.join([str(self.dir), str(ROOT)]), PYTHONUNBUFFERED="1",
                        OPSDESK_LOG_LEVEL="INFO")
        self.postgres = ""
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith(("postgres://", "postgresql://", "pgsql://")):
            parts = urlsplit(url)
            self.postgres = f"{parts.path.lstrip('/') or 'opsdesk'}_notify_{os.getpid()}"
            self._admin(f'DROP DATABASE IF EXISTS "{self.postgres}" WITH (FORCE)', f'CREATE DATABASE "{self.postgres}"')
            self.env["DATABASE_URL"] = parts._replace(path="/" + self.postgres).geturl()
        else:
            self.env.pop("DATABASE_URL", None)
        self.worker: subprocess.Popen | None = None
        self.starts = 0
        # Worker deaths we did not cause (kombu's filesystem transport can read a message file
        # its producer is still writing and stop the worker with "Unrecoverable error"): restarted
        # at once, as `opsdesk up`'s supervisor does, and counted.
        self.crashes = 0
        self._watching = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()
        self.python = sys.executable

    @property
    def database(self) -> str:
        return "postgresql" if self.postgres else "sqlite"

    def _admin(self, *statements: str) -> None:
        import psycopg

        parts = urlsplit(os.environ["DATABASE_URL"])
        with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def run(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run([self.python, *args], env=self.env, cwd=self.dir, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{args[:2]} failed: {done.stderr[-3000:]}")
        return done.stdout

    def migrate(self) -> None:
        self.run("-m", "django", "migrate", "--noinput", "-v", "0")

    def start_worker(self) -> None:
        self.starts += 1
        out = open(self.dir / f"worker-{self.starts}.log", "wb")
        self.worker = subprocess.Popen(
            [self.python, "-m", "celery", "-A", "opsdesk", "worker", "--beat", "--concurrency", "2",
             "--loglevel", "INFO", "--schedule", str(self.dir / "beat-schedule")],
            env=self.env, cwd=self.dir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        path = self.dir / f"worker-{self.starts}.log"
        while b" ready." not in path.read_bytes():
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start: {path.read_text()[-3000:]}")
            time.sleep(0.1)
        self._watching.set()

    def _watch(self) -> None:
        while True:
            time.sleep(0.2)
            if self._watching.is_set() and self.worker is not None and self.worker.poll() is not None:
                self.crashes += 1
                log(f"the worker died by itself (exit {self.worker.returncode}); restarting it")
                self.start_worker()

    def kill_worker(self) -> None:
        assert self.worker is not None
        self._watching.clear()
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()

    def stop_worker(self) -> None:
        self._watching.clear()
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait()

    def queue(self, url: str, prefix: str, count: int, pace: float = 0.0) -> subprocess.Popen:
        return subprocess.Popen([self.python, "-c", QUEUE_SCRIPT, url, prefix, str(count), str(pace)],
                                env=self.env, cwd=self.dir, stderr=subprocess.PIPE)

    def report(self, prefix: str) -> dict:
        return json.loads(self.run("-c", REPORT_SCRIPT, prefix).strip().splitlines()[-1])

    def close(self, keep: bool = False) -> None:
        self.stop_worker()
        if self.postgres:
            self._admin(f'DROP DATABASE IF EXISTS "{self.postgres}" WITH (FORCE)')
        if keep:
            log(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(receiver: Receiver, keys: set[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with receiver.lock:
            if keys <= receiver.seen.keys():
                return True
        time.sleep(0.05)
    return False


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else 0.0


# --- the two runs --------------------------------------------------------------------------------

def throughput(system: System, count: int) -> dict:
    receiver = Receiver().start()
    try:
        keys = {f"tp:{n}" for n in range(count)}
        started = time.time()
        queueing = system.queue(receiver.url, "tp", count)
        queueing.wait()
        queued_s = time.time() - started
        complete = wait_for(receiver, keys, 120)
        report = system.report("tp")
        latencies = [(receiver.seen[k] - report["created"][k]) * 1000 for k in keys if k in receiver.seen]
        first = min(report["created"].values())
        last = max((receiver.seen[k] for k in keys if k in receiver.seen), default=0.0)
        if not latencies:
            raise RuntimeError("the receiver got no notification: see the worker's log (--keep)")
        return {"per_s": round(len(latencies) / (last - first), 1), "p50_ms": round(percentile(latencies, 0.5), 1),
                "p99_ms": round(percentile(latencies, 0.99), 1), "queue_per_s": round(count / queued_s, 1),
                "requests": receiver.requests, "complete": complete,
                "not_sent": sum(1 for s in report["states"].values() if s != "sent")}
    finally:
        receiver.stop()


def kill_run(system: System, count: int = 200, hold_request: int = 3) -> dict:
    """The burst with a SIGKILL of the worker while one of its requests is in flight."""
    receiver = Receiver(hold_request=hold_request).start()
    try:
        keys = {f"kill:{n}" for n in range(count)}
        queueing = system.queue(receiver.url, "kill", count, pace=0.02)  # about 4 s of burst
        if not receiver.held.wait(60):
            raise RuntimeError("the worker never sent the request to hold")
        system.kill_worker()
        killed_at = time.time()
        in_flight = set()
        with receiver.lock:
            in_flight = {k for k in receiver.seen}
        receiver.release.set()
        log(f"worker killed with {len(in_flight)} notifications received so far")
        queueing.wait()
        sending = sum(1 for s in system.report("kill")["states"].values() if s == "sending")
        system.start_worker()
        complete = wait_for(receiver, keys, 90)
        recovered_s = time.time() - killed_at
        # The last rows may be marked SENT a moment after the receiver saw them.
        deadline = time.monotonic() + 10
        while True:
            report = system.report("kill")
            not_sent = [k for k in keys if report["states"].get(k) != "sent"]
            if not not_sent or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        lost = {k for k in keys if k not in receiver.seen} | set(not_sent)
        duplicates = sum(1 for k in keys if receiver.counts.get(k, 0) > 1)
        return {"lost_after_kill": len(lost), "duplicates_after_kill": duplicates,
                "sending_at_kill": sending, "received_before_kill": len(in_flight),
                "recovered_s": round(recovered_s, 1), "complete_after_kill": complete, "burst": count,
                "rows": len(report["states"]), "lost_keys": sorted(lost)[:10]}
    finally:
        receiver.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 notifications instead of 3,000")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    args = parser.parse_args()
    count = args.count or (500 if args.quick else 3000)
    system = System()
    try:
        log(f"migrating a fresh {system.database} database")
        system.migrate()
        system.start_worker()
        log(f"throughput: {count} notifications")
        result = {"database": system.database, "notifications": count, **throughput(system, count)}
        log(f"throughput: {result}")
        log("kill: a burst of 200, SIGKILL mid-request, restart")
        result.update(kill_run(system))
        result.update({"worker_crashes": system.crashes})
        result.update({"lease_s": LEASE_S, "sweep_s": SWEEP_S, "cpus": os.cpu_count(), "quick": args.quick})
    finally:
        system.close(keep=args.keep)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
