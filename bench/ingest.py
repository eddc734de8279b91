#!/usr/bin/env python
"""Monitoring ingest: samples per second through the push API into the metric store, on SQLite,
on PostgreSQL and into VictoriaMetrics, against what VictoriaMetrics accepts directly.

Each case runs the real processes on a scratch database in a temporary data directory, as
`opsdesk up` runs them: `opsdesk web` (granian, WSGI) and `opsdesk worker --pool threads
--beat` (the filer: a push wakes it through the filesystem task queue). Sender threads in this
process push pre-encoded batches of 1,000 samples (the host agent's `columns` format: 100 series
of an agent, 10 time stamps 15 s apart) from many agents at once. A sample counts when it is
committed to the store, where a chart reads it:
- in the SQL store when the filer has filed it into its chunk, so a SQL case's rate is its samples
  over the time from the first push to the last batch filed;
- into VictoriaMetrics when VictoriaMetrics has taken it from the push (which forwards it and
  answers only then), as in the direct case: the rate is the samples over the time from the first
  push to the last answer and VictoriaMetrics' flush (the direct case's end too). The batches'
  digests (each series' last value, for the pages' latest data) are filed after that, an agent's
  last one once it has been quiet for half a second: `last_filed_after_s` says how long after the
  last answer, and `samples_per_s_to_last_filed` the rate counted to then. Where that is over
  LAST_FILED_BOUND_S (filing fell behind, rather than the fixed wait), the rate is counted to the
  last digest filed, as in the SQL cases.
While the senders push, a
probe agent pushes one sample every quarter second and polls `get_store().query` (what a chart
asks) until it is there: `visible_p99_s`.

Cases: SQLite (the one-machine default), PostgreSQL (a database whose name contains "bench",
dropped and made again: DATABASE_URL, or postgres://postgres@127.0.0.1:5432/opsdesk_bench_ingest),
then the same PostgreSQL with OPSDESK_METRICS_URL pointing at a VictoriaMetrics started here
(Debian's `victoria-metrics`, scratch storage, `-search.latencyOffset=0s`), and VictoriaMetrics
itself: the same samples as pre-built Prometheus text bodies posted to /api/v1/import/prometheus
by the same sender threads, counted back with a query; with opsdesk cases in the run, measured
before them and after, and compared as the mean of both.

The last line of output is one JSON object (see bench/README.md); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _scratch import Bench

BENCH = Bench("ingest")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PUSH_PATH = "/api/monitoring/push/"
# Into VictoriaMetrics, the digests filed more than this after the last answer mean a backlog: the
# rate is then counted to the last one filed (the bound a sample has to be visible to a chart).
LAST_FILED_BOUND_S = 5.0
SAMPLES_PER_BATCH = 1000
SERIES_PER_BATCH = 100
STEP_S = 15  # seconds between an agent's samples of one series
NAMES = ["cpu_usage_percent", "cpu_iowait_percent", "memory_used_bytes", "memory_available_bytes", "load1",
         "filesystem_used_bytes", "filesystem_size_bytes", "disk_read_bytes_per_second",
         "network_receive_bytes_per_second", "network_transmit_bytes_per_second"]
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/opsdesk_bench_ingest"
PROBE_INTERVAL_S = 0.25
PROBE_POLL_S = 0.05
VISIBLE_TARGET_S = 5.0


@dataclass(frozen=True)
class Size:
    agents: int
    batches: int  # measured batches per opsdesk case (after one warm-up batch per agent)
    vm_batches: int  # measured batches posted to VictoriaMetrics directly


# As many batches through opsdesk as into VictoriaMetrics directly. A case's rate runs until its
# last batch is filed, so a run's end weighs on it: the last filing pass (up to a second of pushes)
# weighed twice as much in a run of 4,000 (PostgreSQL: 0.29 of VictoriaMetrics' rate against 0.38
# with 8,000, same day), and into VictoriaMetrics the last digests wait for their agents to be quiet
# (half a second, queue_insert.NEWEST_QUIET_SECONDS) before they are filed: a tenth of a run of
# 8,000 batches (5-6 s on this machine). 16,000 measures the rate ingest keeps up.
FULL = Size(agents=200, batches=16000, vm_batches=16000)
QUICK = Size(agents=30, batches=300, vm_batches=600)


_STARTED = time.monotonic()


def log(message: str) -> None:
    BENCH.log(f"[{time.monotonic() - _STARTED:5.1f} s] {message}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def opsdesk_command() -> str:
    beside = Path(sys.executable).parent / "opsdesk"
    found = str(beside) if beside.exists() else shutil.which("opsdesk")
    if not found:
        raise SystemExit("ingest: cannot find the opsdesk command (run with .venv/bin/python)")
    return found


# --- CPU time, from /proc -------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu_s(root: int) -> float:
    return sum(cpu_s(pid) for pid in descendants(root))


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- senders --------------------------------------------------------------------------------------

@dataclass
class SendStats:
    requests: int = 0
    retries: int = 0
    last_ok: float = 0.0
    errors: list[str] = field(default_factory=list)


def send_all(port: int, path: str, jobs: list[list[tuple[dict[str, str], bytes]]], ok: tuple[int, ...]) -> SendStats:
    """Each list of jobs in a thread of its own, over one kept-alive connection; a 503 (SQLite
    busy) or a dropped connection is retried, as an agent would."""
    stats = SendStats()
    lock = threading.Lock()

    def run(mine: list[tuple[dict[str, str], bytes]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        retries = 0
        try:
            for headers, body in mine:
                for attempt in range(200):
                    try:
                        conn.request("POST", path, body=body, headers=headers)
                        answer = conn.getresponse()
                        text = answer.read()
                    except (http.client.HTTPException, ConnectionError) as exc:
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                        retries += 1
                        if attempt > 5:
                            raise RuntimeError(f"connection failed: {exc}") from None
                        continue
                    if answer.status in ok:
                        break
                    if answer.status in (429, 502, 503):
                        retries += 1
                        time.sleep(0.05)
                        continue
                    raise RuntimeError(f"HTTP {answer.status}: {text[:300]!r}")
                else:
                    raise RuntimeError("gave up after 200 attempts")
                with lock:
                    stats.requests += 1
                    stats.last_ok = time.monotonic()
        except Exception as exc:  # reported, and the case fails
            with lock:
                stats.errors.append(str(exc))
        finally:
            conn.close()
            with lock:
                stats.retries += retries

    threads = [threading.Thread(target=run, args=(mine,), daemon=True) for mine in jobs if mine]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stats


def series_of(agent: int) -> list[tuple[str, dict[str, str]]]:
    return [(NAMES[s % len(NAMES)], {"device": f"dev{s // len(NAMES)}"}) for s in range(SERIES_PER_BATCH)]


def batch_times(start: float, number: int) -> list[float]:
    """The time stamps of an agent's batch `number` (0-based): 10 of them, 15 s apart."""
    per_series = SAMPLES_PER_BATCH // SERIES_PER_BATCH
    first = start + number * per_series * STEP_S
    return [first + i * STEP_S for i in range(per_series)]


def json_body(rng: random.Random, agent: int, seq: int, times: list[float]) -> bytes:
    """A batch in the host agent's `columns` form: per series its name, labels, times and values."""
    import orjson

    columns = [[name, labels, times, [round(rng.uniform(0, 1000), 3) for _t in times]]
               for name, labels in series_of(agent)]
    return orjson.dumps({"seq": seq, "sent_at": time.time(), "columns": columns})


def text_body(rng: random.Random, agent: int, times: list[float], tag: str = "direct") -> bytes:
    """The same samples in Prometheus' text format, for VictoriaMetrics' own import."""
    lines = []
    for t in times:
        ms = int(t * 1000)
        for name, labels in series_of(agent):
            lines.append(f'{name}{{device="{labels["device"]}",agent="a{agent}",bench="{tag}"}} '
                         f'{round(rng.uniform(0, 1000), 3)} {ms}')
    return ("\n".join(lines) + "\n").encode()


def by_agent(jobs: list[tuple[int, Any]], senders: int) -> list[list[Any]]:
    """Jobs (agent, job) dealt to sender threads so that one agent's batches go in order, by one."""
    out: list[list[Any]] = [[] for _ in range(senders)]
    for agent, job in jobs:
        out[agent % senders].append(job)
    return out


# --- VictoriaMetrics --------------------------------------------------------------------------------

class Victoria:
    """A VictoriaMetrics of our own: scratch storage, a free port, no latency offset."""

    proc: subprocess.Popen

    @classmethod
    def attach(cls, url: str) -> Victoria:
        """One started elsewhere (by the parent process), to flush and count."""
        vm = cls.__new__(cls)
        vm.port = urlsplit(url).port
        return vm

    def start(self) -> Victoria:
        binary = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
        if not os.path.exists(binary):
            raise SystemExit("ingest: victoria-metrics is missing: install the Debian package `victoria-metrics`")
        self.dir = tempfile.mkdtemp(prefix="opsdesk-bench-vm-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(f"{self.dir}/vm.log", "wb")
        self.proc = subprocess.Popen(
            ["victoria-metrics", f"-storageDataPath={self.dir}/data", f"-httpListenAddr=127.0.0.1:{self.port}",
             "-search.latencyOffset=0s", "-loggerLevel=WARN"], stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while not self.get("/health")[0] == 200:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                tail = Path(self.dir, "vm.log").read_text()[-2000:]
                raise SystemExit(f"ingest: victoria-metrics did not start: {tail}")
            time.sleep(0.1)
        return self

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            conn.request("GET", path)
            answer = conn.getresponse()
            return answer.status, answer.read()
        except OSError:
            return 0, b""

    def flush(self) -> None:
        status, _ = self.get("/internal/force_flush")
        assert status == 200

    def count(self, selector: str, at: float, window_s: int) -> int:
        from urllib.parse import urlencode

        query = urlencode({"query": f"sum(count_over_time({selector}[{window_s}s]))", "time": f"{at:.3f}"})
        status, body = self.get(f"/api/v1/query?{query}")
        result = json.loads(body)["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def vm_direct(vm: Victoria, size: Size, senders: int, seed: int, run: int = 1) -> dict[str, Any]:
    """VictoriaMetrics' own rate; `run` 2 writes other series and times (bench="direct2"), so that
    the second measurement of a benchmark is counted back on its own."""
    rng = random.Random(seed + run)
    start = time.time() - 3 * 86400 - (run - 1) * 3600
    tag = "direct" if run == 1 else f"direct{run}"
    per_agent = -(-size.vm_batches // size.agents)
    warm = [(a, ({"Content-Type": "text/plain"}, text_body(rng, a, batch_times(start, 0), tag)))
            for a in range(size.agents)]
    jobs = [(k % size.agents, ({"Content-Type": "text/plain"},
                               text_body(rng, k % size.agents, batch_times(start, 1 + k // size.agents), tag)))
            for k in range(size.vm_batches)]
    path = "/api/v1/import/prometheus"
    log(f"direct: warm-up, then {size.vm_batches} batches of {SAMPLES_PER_BATCH} samples with {senders} senders")
    stats = send_all(vm.port, path, by_agent(warm, senders), ok=(204,))
    vm.flush()
    cpu_before, own_before = cpu_s(vm.proc.pid), own_cpu_s()
    began = time.monotonic()
    stats = send_all(vm.port, path, by_agent(jobs, senders), ok=(204,))
    vm.flush()
    elapsed = time.monotonic() - began
    if stats.errors:
        raise SystemExit(f"ingest: VictoriaMetrics import failed: {stats.errors[:3]}")
    end = batch_times(start, 1 + per_agent)[-1]
    counted = vm.count(f'{{bench="{tag}"}}', end, int(end - start) + 60)
    expected = (size.agents + size.vm_batches) * SAMPLES_PER_BATCH
    if counted != expected:
        raise SystemExit(f"ingest: VictoriaMetrics stored {counted} samples of {expected}")
    samples = size.vm_batches * SAMPLES_PER_BATCH
    log(f"direct: {round(samples / elapsed)} samples/s, {counted} samples counted back")
    return {"samples_per_s": round(samples / elapsed), "samples": samples, "seconds": round(elapsed, 2),
            "counted": counted, "cpu_s": {"victoria": round(cpu_s(vm.proc.pid) - cpu_before, 2),
                                          "senders": round(own_cpu_s() - own_before, 2)}}


# --- one opsdesk case (a child process: Django is set up once per database) ------------------------------

def make_agents(count: int) -> tuple[list[tuple[int, str]], tuple[int, str]]:
    from django.db import transaction

    from opsdesk.cmdb.models import CIKind, ConfigurationItem
    from opsdesk.core.models import Customer
    from opsdesk.core.models.tokens import hash_token, new_raw_token
    from opsdesk.monitoring.models import Agent

    with transaction.atomic():
        customer = Customer.objects.create(code="BENCH", name="Bench")
        server = CIKind.objects.get(slug="server")
        items = ConfigurationItem.objects.bulk_create(
            ConfigurationItem(customer=customer, kind=server, name=f"host-{i:05d}", attributes={})
            for i in range(count + 1))
        raws = [new_raw_token() for _ in items]
        agents = Agent.objects.bulk_create(
            Agent(customer=customer, configuration_item=item, name=item.name, key_hash=hash_token(raw))
            for item, raw in zip(items, raws, strict=True))
    pairs = [(agent.configuration_item_id, raw) for agent, raw in zip(agents, raws, strict=True)]
    return pairs[:-1], pairs[-1]


def unfiled() -> int:
    from opsdesk.monitoring.models import IngestBatch

    return IngestBatch.objects.filter(filed_at=None).count()


def filed_samples(probe_item: int) -> int:
    """The samples of the batches filed so far, the probe's left out (a row of merged digests
    counts the samples of every batch merged into it)."""
    from django.db.models import Sum

    from opsdesk.monitoring.models import Agent, IngestBatch

    # Two queries, not a join: on SQLite the queue is a database of its own.
    probe = Agent.objects.filter(configuration_item_id=probe_item).values_list("pk", flat=True).first()
    filed = IngestBatch.objects.exclude(filed_at=None).exclude(agent_id=probe)
    return filed.aggregate(total=Sum("samples"))["total"] or 0


def wait_filed(timeout: float, log_path: Path | None = None, *, samples: int = 0, probe_item: int = 0) -> float:
    """When nothing is left unfiled and, given `samples`, the filed batches count that many (a
    forwarded batch's digest waits in the web process a moment before it is a row at all: no row
    left unfiled is not yet all filed); gives up when the filer made no progress for `timeout`."""
    last, progress = (-1, -1), time.monotonic()
    while True:
        left = unfiled()
        done = filed_samples(probe_item) if samples else 0
        if left == 0 and done >= samples:
            return time.monotonic()
        if (left, done) != last:
            last, progress = (left, done), time.monotonic()
        if time.monotonic() - progress > timeout:
            lines = log_path.read_text(errors="replace").splitlines() if log_path else []
            tail = "\n".join([line for line in lines if "POST /api/monitoring/push/" not in line][-60:])
            raise SystemExit(f"ingest: {left} batches still unfiled, none filed for {timeout:.0f} s\n{tail}")
        time.sleep(0.05)


class Processes:
    """`opsdesk web` and `opsdesk worker --pool threads --beat`, as `opsdesk up` starts them."""

    def __init__(self, data_dir: str, port: int, metrics_url: str, args: argparse.Namespace, phase: str) -> None:
        env = dict(os.environ)
        for name in ("CELERY_BROKER_URL", "OPSDESK_METRICS_URL", "DJANGO_SETTINGS_MODULE"):
            env.pop(name, None)
        env.update(OPSDESK_DATA_DIR=data_dir, OPSDESK_LISTEN=f"127.0.0.1:{port}", PYTHONUNBUFFERED="1",
                   OPSDESK_WEB_WORKERS=str(args.web_workers))
        env.pop("OPSDESK_WEB_THREADS", None)
        if args.web_threads:
            env["OPSDESK_WEB_THREADS"] = str(args.web_threads)
        if metrics_url:
            env["OPSDESK_METRICS_URL"] = metrics_url
        self.port = port
        self.log_path = Path(data_dir) / f"processes-{phase}.log"
        self.log = open(self.log_path, "wb")
        command = opsdesk_command()
        self.web = subprocess.Popen([command, "web"], env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.worker = subprocess.Popen([command, "worker", "--pool", "threads", "--beat"], env=env, stdout=self.log,
                                       stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self) -> None:
        port = self.port
        deadline = time.monotonic() + 60
        while True:
            for proc in (self.web, self.worker):
                if proc.poll() is not None:
                    raise SystemExit(f"ingest: a process exited: {self.log_path.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("ingest: opsdesk web did not answer within 60 s") from None
                time.sleep(0.2)

    def cpu(self) -> dict[str, float]:
        return {"web": tree_cpu_s(self.web.pid), "worker": tree_cpu_s(self.worker.pid)}

    def stop(self) -> None:
        log("stopping web and worker")
        for proc in (self.web, self.worker):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.web, self.worker):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.log.close()
        log("stopped")


def database_cpu() -> float:
    """CPU seconds of the PostgreSQL server so far (0 for SQLite, which runs inside the processes):
    its processes and those of its children that have ended (opsdesk opens a connection, so a
    server process, per request: see docs/performance.md). Any other database on the server
    counts too."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        postmaster = int(fields[1])
        fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ended = (int(fields[13]) + int(fields[14])) / _TICK  # cutime + cstime: children waited for
    return ended + sum(cpu_s(pid) for pid in descendants(postmaster))


class Probe:
    """Pushes one sample every PROBE_INTERVAL_S and times how long after the push's 200 a chart
    query (store.query) shows it. Probe i is at time start + 15 i with value i: one per 15-s
    bucket, so any back end's answer tells which probes are there."""

    def __init__(self, port: int, raw: str, item: int, start: float, first_seq: int) -> None:
        self.port, self.headers, self.item, self.start = port, {"Authorization": f"Bearer {raw}",
                                                                "Content-Type": "application/json"}, item, start
        self.seq = first_seq
        self.sent: dict[int, float] = {}
        self.latencies: list[float] = []
        self.series: int | None = None
        self.stop_event = threading.Event()
        self.count = 0

    def push(self, number: int) -> float:
        import orjson

        body = orjson.dumps({"seq": self.seq, "samples": [
            {"name": "bench_probe", "labels": {}, "value": float(number), "ts": self.start + STEP_S * number}]})
        self.seq += 1
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        for _attempt in range(100):
            conn.request("POST", PUSH_PATH, body=body, headers=self.headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status == 200:
                break
            time.sleep(0.05)
        conn.close()
        return time.monotonic()

    def visible(self) -> set[int]:
        from opsdesk.monitoring.store import get_store

        data = get_store().query([(self.series, "bench_probe", {})], self.start - 1, self.start + STEP_S * 1400)
        found = data.get(self.series)
        return {round(v) for v in found.avg} if found else set()

    def warm_up(self, flush) -> None:
        from opsdesk.monitoring.models import Series

        self.push(0)
        wait_filed(60)
        self.series = Series.objects.get(configuration_item_id=self.item, name="bench_probe").id
        flush()
        deadline = time.monotonic() + 60
        while 0 not in self.visible():
            if time.monotonic() > deadline:
                raise SystemExit("ingest: the probe's first sample never became visible")
            time.sleep(0.1)
        self.count = 1

    def run(self) -> None:
        def poll() -> None:
            while not (self.stop_event.is_set() and not self.sent):
                if self.sent:
                    seen = self.visible()
                    now = time.monotonic()
                    for number, pushed in list(self.sent.items()):  # the other thread adds to it
                        if number in seen:
                            self.latencies.append(now - pushed)
                            del self.sent[number]
                time.sleep(PROBE_POLL_S)
                if self.stop_event.is_set() and time.monotonic() > self.give_up:
                    break

        self.give_up = float("inf")
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        while not self.stop_event.is_set() and self.count < 1400:
            number = self.count
            self.count += 1
            pushed = self.push(number)
            self.sent[number] = pushed
            time.sleep(max(0.0, PROBE_INTERVAL_S - (time.monotonic() - pushed)))
        self.give_up = time.monotonic() + 120
        poller.join()
        self.lost = len(self.sent)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, int(-(-q * len(ordered) // 1)) - 1))]


def run_phase(phase: str, args: argparse.Namespace, size: Size, data_dir: str, agents: list[tuple[int, str]],
              probe_agent: tuple[int, str], next_batch: int, metrics_url: str, vm_pid: int) -> dict[str, Any]:
    from django.conf import settings

    from opsdesk.monitoring.store import _store_for

    # This process reads back what the processes wrote, from the same store.
    settings.OPSDESK_METRICS_URL = metrics_url
    _store_for.cache_clear()
    rng = random.Random(args.seed)
    port = free_port()
    start = time.time() - 3 * 86400 + (0 if phase == "sql" else 86400)
    per_agent = -(-size.batches // size.agents)
    procs = Processes(data_dir, port, metrics_url, args, phase)
    log(f"{phase}: pre-encoding {size.agents + size.batches} batches while web and worker start")
    headers = [{"Authorization": f"Bearer {raw}", "Content-Type": "application/json"} for _item, raw in agents]
    warm = [(a, (headers[a], json_body(rng, a, next_batch + 1, batch_times(start, 0)))) for a in range(size.agents)]
    jobs = [(k % size.agents, (headers[k % size.agents],
                               json_body(rng, k % size.agents, next_batch + 2 + k // size.agents,
                                         batch_times(start, 1 + k // size.agents))))
            for k in range(size.batches)]
    try:
        procs.wait_ready()
        flush = Victoria.attach(metrics_url).flush if metrics_url else (lambda: None)
        log(f"{phase}: warm-up, one batch per agent (makes the series)")
        filed_before = filed_samples(probe_agent[0])  # by an earlier phase on the same database
        stats = send_all(port, PUSH_PATH, by_agent(warm, args.senders), ok=(200,))
        if stats.errors:
            raise SystemExit(f"ingest: warm-up failed: {stats.errors[:3]}")
        wait_filed(60, procs.log_path, samples=filed_before + len(warm) * SAMPLES_PER_BATCH, probe_item=probe_agent[0])
        log(f"{phase}: warm-up filed; the probe's first sample")
        probe = Probe(port, probe_agent[1], probe_agent[0], time.time() - 2 * 86400 + 1 - (time.time() % STEP_S),
                      next_batch + 100_000)
        probe.warm_up(flush)
        log(f"{phase}: pushing {size.batches} batches of {SAMPLES_PER_BATCH} samples with {args.senders} senders")
        cpu_before = procs.cpu()
        db_before, own_before, vm_before = database_cpu(), own_cpu_s(), cpu_s(vm_pid) if vm_pid else 0.0
        load_before = os.getloadavg()[0]
        spies = []
        if args.profile:
            spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            for name, proc in (("web", procs.web), ("worker", procs.worker)):
                spies.append(subprocess.Popen(
                    [spy, "record", "--pid", str(proc.pid), "--subprocesses", "--threads", "--format", "raw",
                     "--rate", "100", "--nonblocking", "-o", f"{args.profile}/{phase}-{name}.txt"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(1.0)
        prober = threading.Thread(target=probe.run, daemon=True)
        began = time.monotonic()
        prober.start()
        stats = send_all(port, PUSH_PATH, by_agent(jobs, args.senders), ok=(200,))
        pushed = stats.last_ok
        if stats.errors:
            raise SystemExit(f"ingest: pushing failed: {stats.errors[:3]}\n{procs.log_path.read_text()[-3000:]}")
        answered = None
        if metrics_url:  # committed where the chart reads it once VictoriaMetrics has taken them
            flush()
            answered = time.monotonic()
        filed = wait_filed(60, procs.log_path, samples=filed_before + (len(warm) + len(jobs)) * SAMPLES_PER_BATCH,
                           probe_item=probe_agent[0])
        probe.stop_event.set()
        cpu_after = procs.cpu()
        db_cpu, own_cpu = database_cpu() - db_before, own_cpu_s() - own_before
        vm_cpu = (cpu_s(vm_pid) - vm_before) if vm_pid else 0.0
        prober.join()
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=30)
        samples = size.batches * SAMPLES_PER_BATCH
        elapsed = filed - began
        if answered is not None and filed - pushed <= LAST_FILED_BOUND_S:
            elapsed = answered - began
        cpu = {"web": cpu_after["web"] - cpu_before["web"], "worker": cpu_after["worker"] - cpu_before["worker"],
               "database": db_cpu, "victoria": vm_cpu, "bench": own_cpu}
        result = {
            "samples_per_s": round(samples / elapsed),
            "push_accept_samples_per_s": round(samples / (pushed - began)),
            "samples_per_s_to_last_filed": round(samples / (filed - began)),
            "last_filed_after_s": round(filed - pushed, 2),
            "samples": samples, "seconds": round(elapsed, 2), "push_retries": stats.retries,
            "visible_p50_s": round(percentile(probe.latencies, 0.5), 3),
            "visible_p99_s": round(percentile(probe.latencies, 0.99), 3),
            "visible_max_s": round(max(probe.latencies, default=float("nan")), 3),
            "probes": len(probe.latencies), "probes_never_visible": probe.lost,
            "cpu_s": {name: round(value, 2) for name, value in cpu.items()},
            # CPU per sample: steadier than the rates on a shared machine (waiting for a CPU is left out).
            "cpu_us_per_sample": {name: round(value / samples * 1e6, 2) for name, value in cpu.items()},
            "loadavg_1m_before": round(load_before, 2), "loadavg_1m_after": round(os.getloadavg()[0], 2),
        }
        if metrics_url:
            vm = Victoria.attach(metrics_url)
            vm.flush()
            end = batch_times(start, 1 + per_agent)[-1]
            counted = vm.count('{__name__!="bench_probe",opsdesk_series!=""}', end, int(end - start) + 60)
            result["counted_in_store"] = counted
            expected = (size.agents + size.batches) * SAMPLES_PER_BATCH
            if counted != expected:
                raise SystemExit(f"ingest: VictoriaMetrics holds {counted} samples of {expected}")
        log(f"{phase}: {result}")
        return result
    finally:
        procs.stop()


def child(args: argparse.Namespace) -> dict[str, Any]:
    size = QUICK if args.quick else FULL
    if args.batches:
        size = Size(agents=size.agents, batches=args.batches, vm_batches=size.vm_batches)

    def measure(database: str, data_dir: str) -> dict[str, Any]:
        log("migrating a fresh database")
        import logging

        import django

        django.setup()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per chart query otherwise
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        agents, probe_agent = make_agents(size.agents)
        out: dict[str, Any] = {"database": database}
        phases = ["sql"] + (["vm"] if args.metrics_url else [])
        if args.skip_sql:
            phases.remove("sql")
        for number, phase in enumerate(phases):
            out[phase] = run_phase(phase, args, size, data_dir, agents, probe_agent, number * 10_000,
                                   args.metrics_url if phase == "vm" else "", args.vm_pid)
        log("removing the scratch database")
        return out

    return BENCH.run(args.keep, measure)


def run_child(args: argparse.Namespace, database_url: str, metrics_url: str = "", vm_pid: int = 0,
              skip_sql: bool = False) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    command = [sys.executable, __file__, "--child", "--senders", str(args.senders), "--seed", str(args.seed),
               "--web-workers", str(args.web_workers), "--web-threads", str(args.web_threads or 0)]
    if args.quick:
        command.append("--quick")
    if args.keep:
        command.append("--keep")
    if args.batches:
        command += ["--batches", str(args.batches)]
    if args.profile:
        command += ["--profile", os.path.abspath(args.profile)]
    if metrics_url:
        command += ["--metrics-url", metrics_url, "--vm-pid", str(vm_pid)]
    if skip_sql:
        command.append("--skip-sql")
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ingest: the {database_url or 'SQLite'} case failed (exit {done.returncode})")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.agents} agents, {QUICK.batches} batches a "
                        "case (under a minute)")
    parser.add_argument("--batches", type=int, default=0, help="measured batches per opsdesk case")
    parser.add_argument("--senders", type=int, default=4, help="sender threads (default 4)")
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("OPSDESK_WEB_WORKERS", "1")),
                        help="worker processes of opsdesk web (OPSDESK_WEB_WORKERS, default 1)")
    parser.add_argument("--web-threads", type=int, default=int(os.environ.get("OPSDESK_WEB_THREADS", "0")),
                        help="threads per web worker (OPSDESK_WEB_THREADS; default: opsdesk's own)")
    parser.add_argument("--only", default="sqlite,postgres,vm,direct",
                        help="cases to run, of sqlite, postgres, vm (opsdesk into VictoriaMetrics), direct")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", default="", metavar="DIR",
                        help="record py-spy profiles (collapsed stacks) of web and worker into DIR")
    parser.add_argument("--keep", action="store_true", help="keep the data directories and the database")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--metrics-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--vm-pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--skip-sql", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return 0

    only = set(args.only.split(","))
    size = QUICK if args.quick else FULL
    postgres = os.environ.get("DATABASE_URL") or DEFAULT_POSTGRES
    started = time.monotonic()
    result: dict[str, Any] = {"quick": args.quick, "agents": size.agents, "samples_per_batch": SAMPLES_PER_BATCH,
                              "series_per_batch": SERIES_PER_BATCH, "senders": args.senders,
                              "web_workers": args.web_workers, "web_threads": args.web_threads or "opsdesk's default",
                              "worker": "threads, concurrency 2 (as opsdesk up)", "cpus": os.cpu_count(),
                              "loadavg_1m_before": round(os.getloadavg()[0], 2)}
    cases: dict[str, Any] = {}
    vm = Victoria().start() if only & {"vm", "direct"} else None
    # The machine's speed may drift during a run (measured: up to 1.8 times within minutes), so
    # with opsdesk cases to compare, VictoriaMetrics' own rate is measured before them and after,
    # and they are compared with the mean.
    direct_twice = "direct" in only and bool(only & {"sqlite", "postgres", "vm"})
    try:
        if direct_twice:
            log("case: VictoriaMetrics directly, before the opsdesk cases")
            cases["vm_direct_before"] = vm_direct(vm, size, args.senders, args.seed, run=2)
        if "sqlite" in only:
            log("case: SQLite")
            cases["sqlite"] = run_child(args, "")["sql"]
        if "postgres" in only or "vm" in only:
            log("case: PostgreSQL" + (" and PostgreSQL into VictoriaMetrics" if "vm" in only else ""))
            both = run_child(args, postgres, vm.url if vm and "vm" in only else "", vm.proc.pid if vm else 0,
                             skip_sql="postgres" not in only)
            if "sql" in both:
                cases["postgres"] = both["sql"]
            if "vm" in both:
                cases["via_opsdesk_vm"] = both["vm"]
        if "direct" in only:
            log("case: VictoriaMetrics directly (building the bodies)")
            cases["vm_direct"] = vm_direct(vm, size, args.senders, args.seed)
            if direct_twice:
                before, after = cases["vm_direct_before"]["samples_per_s"], cases["vm_direct"]["samples_per_s"]
                cases["vm_direct"]["samples_per_s_after"] = after
                cases["vm_direct"]["samples_per_s_before"] = before
                cases["vm_direct"]["samples_per_s"] = round((before + after) / 2)
    finally:
        if vm:
            vm.stop()

    def rate(case: str) -> float | None:
        return cases[case]["samples_per_s"] if case in cases else None

    sqlite, pg, direct, via = rate("sqlite"), rate("postgres"), rate("vm_direct"), rate("via_opsdesk_vm")
    result.update({
        "sql_sqlite_samples_per_s": sqlite, "sql_postgres_samples_per_s": pg, "vm_direct_samples_per_s": direct,
        "via_opsdesk_vm_samples_per_s": via,
        "ratio_sql_to_vm": round(min(r for r in (sqlite, pg) if r) / direct, 3) if direct and (sqlite or pg) else None,
        "ratio_sql_sqlite_to_vm": round(sqlite / direct, 3) if direct and sqlite else None,
        "ratio_sql_postgres_to_vm": round(pg / direct, 3) if direct and pg else None,
        "ratio_via_opsdesk_to_vm": round(via / direct, 3) if direct and via else None,
    })
    visible = {case: cases[case]["visible_p99_s"] for case in ("sqlite", "postgres", "via_opsdesk_vm")
               if case in cases}
    result["visible_p99_s"] = max(visible.values()) if visible else None
    result.update({f"visible_p99_s_{case}": value for case, value in visible.items()})
    result["targets"] = {"ratio_sql_to_vm": 1 / 3, "ratio_via_opsdesk_to_vm": 0.8, "visible_p99_s": VISIBLE_TARGET_S}
    result["cases"] = cases
    result["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    result["total_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
