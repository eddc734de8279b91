#!/usr/bin/env python
"""From a breaching sample accepted by the push API to the notification received by a webhook:
p50 / p99 over 1,000 alerts (100 with --quick), with 10,000 active rules and background ingest.

Real processes on a scratch database in a temporary data directory (a fresh SQLite file; with
DATABASE_URL naming a PostgreSQL database whose name contains "bench", that database, dropped and
made again): `opsdesk web` and `opsdesk worker --pool threads --beat`, as `opsdesk up` runs them.
This process holds the webhook receiver (http.server on 127.0.0.1) and the agents.

Set-up: 1,000 host items (100 with --quick), each with 10 rules (10,000 in all) on 10 metrics;
rule 0 of each item ("bench_m0 > 90") posts to the webhook channel, the others never fire.
Background: 20 agents push 500 samples every second each (10,000 samples a second) to their own
series all along. Measured: one item after another, its agent pushes bench_m0 = 99; the time from
the push's 200 to the receiver reading a message naming that item. Alerts go out as they fire, a few
a second, so several may share one request (the channel's digest): each counts at its own time.
Where the time went, from the rows' own times: `push_to_filed_p50_ms`/`_p99_ms`, the breaching
batch's receipt to its filing pass (which writes the alert and its notification row), and
`row_to_sent_p50_ms`/`_p99_ms`, the notification row's creation to its SENT.

Beside it, `prometheus_default_delay_s`: the same breach through Debian's Prometheus (its packaged
scrape and evaluation intervals, 15 s each) and Alertmanager (group_wait 30 s, the default): a
gauge served from this process flips to 99, and the time until Alertmanager's webhook reaches the
receiver is measured (3 breaches, 1 with --quick; null when the packages are not installed:
`apt-get install prometheus prometheus-alertmanager`).

The last line of output is one JSON object (bench/README.md); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _scratch import Bench

BENCH = Bench("alert_latency")
RULES_PER_ITEM = 10
BACKGROUND_AGENTS = 20
BACKGROUND_SAMPLES = 500  # per agent and second
PROMETHEUS_DEBIAN = {"scrape_interval": "15s", "evaluation_interval": "15s"}  # /etc/prometheus/prometheus.yml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Receiver:
    """Records when each message title first arrives (opsdesk's webhook) and each Alertmanager
    notification (its own JSON) arrives."""

    def __init__(self) -> None:
        self.first_seen: dict[str, float] = {}
        self.alertmanager: list[tuple[float, dict]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                now = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with receiver.lock:
                    if self.path.startswith("/alertmanager"):
                        receiver.alertmanager.append((now, body))
                    else:
                        for message in body.get("messages", []):
                            receiver.first_seen.setdefault(message.get("title", ""), now)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seen(self, item_name: str) -> float | None:
        """When a message about the item arrived ("Customer / item: rule", the colon in either
        language)."""
        marks = (f"/ {item_name}:", f"/ {item_name}：")
        with self.lock:
            for title, at in self.first_seen.items():
                if any(mark in title for mark in marks):
                    return at
        return None


def push(port: int, token: str, body: bytes) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/api/monitoring/push/", body=body,
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"alert_latency: push answered {response.status}")
    return time.monotonic()


def sample_body(seq: int, samples: list[tuple[str, float]], labels: dict | None = None) -> bytes:
    ts = time.time()
    return json.dumps({"seq": seq, "samples": [{"name": n, "labels": labels or {}, "value": v, "ts": ts}
                                               for n, v in samples]}).encode()


def setup(items: int, receiver_port: int) -> tuple[list[tuple[str, str]], list[str]]:
    """Items with agents, 10 rules each, the webhook channel; answers [(item name, token)] of the
    probed items and the tokens of the background agents."""
    from opsdesk.cmdb.models import CIKind, ConfigurationItem
    from opsdesk.core.models import Customer
    from opsdesk.core.models.tokens import hash_token, new_raw_token
    from opsdesk.monitoring.models import Agent, AlertRule
    from opsdesk.notify.models import Channel

    customer = Customer.objects.create(code="bench", name="Bench")
    kind = CIKind.objects.get(slug="server")
    channel = Channel.objects.create(customer=customer, name="bench webhook", kind="webhook",
                                     config={"url": f"http://127.0.0.1:{receiver_port}/hook"})
    probed, background = [], []
    made = ConfigurationItem.objects.bulk_create(
        [ConfigurationItem(customer=customer, kind=kind, name=f"bench-{i:04d}") for i in range(items)]
        + [ConfigurationItem(customer=customer, kind=kind, name=f"busy-{i:02d}") for i in range(BACKGROUND_AGENTS)])
    agents = []
    for item in made:
        raw = new_raw_token()
        agents.append(Agent(customer=customer, configuration_item=item, name=item.name, key_hash=hash_token(raw)))
        (probed if item.name.startswith("bench-") else background).append((item.name, raw))
    Agent.objects.bulk_create(agents)
    rules = []
    for item in made[:items]:
        for m in range(RULES_PER_ITEM):
            rules.append(AlertRule(name=f"m{m} high", customer=customer, configuration_item=item,
                                   metric=f"bench_m{m}", threshold=90.0 if m == 0 else 1e12, severity="critical"))
    AlertRule.objects.bulk_create(rules, batch_size=1000)
    through = AlertRule.channels.through
    through.objects.bulk_create([through(alertrule_id=r.pk, channel_id=channel.pk)
                                 for r in AlertRule.objects.filter(metric="bench_m0")], batch_size=1000)
    return probed, [raw for _name, raw in background]


class Background(threading.Thread):
    def __init__(self, port: int, tokens: list[str]) -> None:
        super().__init__(daemon=True)
        self.port, self.tokens, self.stop, self.samples = port, tokens, threading.Event(), 0

    @staticmethod
    def body(seq: int) -> bytes:
        ts = time.time()
        return json.dumps({"seq": seq, "samples": [{"name": "busy_value", "labels": {"n": str(i)}, "value": 1.0,
                                                     "ts": ts} for i in range(BACKGROUND_SAMPLES)]}).encode()

    def run(self) -> None:
        seq = 0
        while not self.stop.is_set():
            started = time.monotonic()
            seq += 1
            for token in self.tokens:
                push(self.port, token, self.body(seq))
                self.samples += BACKGROUND_SAMPLES
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))


def opsdesk_command() -> str:
    found = Path(sys.executable).with_name("opsdesk")
    return str(found) if found.exists() else shutil.which("opsdesk") or "opsdesk"


def start_processes(data_dir: str, port: int) -> tuple[list[subprocess.Popen], Path]:
    env = dict(os.environ)
    for name in ("CELERY_BROKER_URL", "OPSDESK_METRICS_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update(OPSDESK_DATA_DIR=data_dir, OPSDESK_LISTEN=f"127.0.0.1:{port}", PYTHONUNBUFFERED="1")
    log_path = Path(data_dir) / "processes.log"
    log = open(log_path, "wb")
    command = opsdesk_command()
    procs = [subprocess.Popen([command, "web"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True),
             subprocess.Popen([command, "worker", "--pool", "threads", "--beat"], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)]
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return procs, log_path
        except OSError:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"alert_latency: opsdesk did not start: {log_path.read_text()[-3000:]}") from None
            time.sleep(0.2)


def stop_processes(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure_opsdesk(args: argparse.Namespace, database: str, data_dir: str) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command

    BENCH.log("migrating a fresh database")
    call_command("migrate", verbosity=0)
    receiver = Receiver()
    items = 100 if args.quick else 1000
    probed, background_tokens = setup(items, receiver.port)
    port = free_port()
    procs, log_path = start_processes(data_dir, port)
    try:
        BENCH.log(f"{items} items, {items * RULES_PER_ITEM} rules; making the series (one push each)")
        for n, (_name, token) in enumerate(probed):
            push(port, token, sample_body(1, [(f"bench_m{m}", 10.0) for m in range(RULES_PER_ITEM)]))
            if n % 200 == 199:
                BENCH.log(f"  {n + 1} items")
        background = Background(port, background_tokens)
        background.start()
        time.sleep(5)  # filing catches up; the background runs at its rate
        BENCH.log(f"background ingest: {BACKGROUND_AGENTS * BACKGROUND_SAMPLES} samples/s; breaching {items} items")
        accepted: dict[str, float] = {}
        started = time.monotonic()
        for name, token in probed:
            accepted[name] = push(port, token, sample_body(2, [("bench_m0", 99.0)]))
            time.sleep(args.pace)
        deadline = time.monotonic() + 60
        latencies: dict[str, float] = {}
        while time.monotonic() < deadline and len(latencies) < len(accepted):
            for name, at in accepted.items():
                if name not in latencies:
                    seen = receiver.seen(name)
                    if seen is not None:
                        latencies[name] = seen - at
            time.sleep(0.2)
        background.stop.set()
        background.join()
        elapsed = time.monotonic() - started
        missing = len(accepted) - len(latencies)
        values = [v * 1000 for v in latencies.values()]
        BENCH.log(f"{len(values)} notified, {missing} missing, over {elapsed:.1f} s")
        if not values:
            raise SystemExit(f"alert_latency: nothing arrived: {log_path.read_text()[-3000:]}")
        return {"alerts": len(values), "missing": missing, "rules": items * RULES_PER_ITEM,
                "background_samples_per_s": round(background.samples / elapsed),
                "p50_ms": round(statistics.median(values), 1), "p99_ms": round(percentile(values, 99), 1),
                "max_ms": round(max(values), 1), "database": database, **stages()}
    finally:
        stop_processes(procs)


def stages() -> dict[str, float | None]:
    """Where the time went, from the rows' own times (the database's clock, so comparable with
    each other but not with the receiver's): the breaching batch's receipt to its filing (the
    alert and its notification row are written in that pass), and the notification row's
    creation to its SENT."""
    from opsdesk.monitoring.models import Alert, IngestBatch
    from opsdesk.notify.models import Notification

    filed = [(b.filed_at - b.received_at).total_seconds() * 1000 for b in IngestBatch.objects.filter(
        agent__configuration_item__name__startswith="bench-", seq=2).exclude(filed_at=None).only(
        "received_at", "filed_at")]
    sources = [f"monitoring.alert:{pk}" for pk in Alert.objects.filter(
        configuration_item__name__startswith="bench-").values_list("pk", flat=True)]
    sent = [(n.sent_at - n.created_at).total_seconds() * 1000 for n in Notification.objects.filter(
        source__in=sources).exclude(sent_at=None).only("created_at", "sent_at")]
    out: dict[str, float | None] = {}
    for name, values in (("push_to_filed", filed), ("row_to_sent", sent)):
        out[f"{name}_p50_ms"] = round(statistics.median(values), 1) if values else None
        out[f"{name}_p99_ms"] = round(percentile(values, 99), 1) if values else None
    return out


# --- Prometheus + Alertmanager with their packaged defaults ---------------------------------------

class Gauge:
    """A /metrics page with one gauge this process sets."""

    def __init__(self) -> None:
        self.value = 10.0
        self.run = 0  # a label: each breach is a new series, so a new alert and a new group
        gauge = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = f'# TYPE bench_value gauge\nbench_value{{run="{gauge.run}"}} {gauge.value}\n'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def measure_prometheus(breaches: int) -> dict[str, Any]:
    prometheus, alertmanager = shutil.which("prometheus"), shutil.which("prometheus-alertmanager")
    if not prometheus or not alertmanager:
        BENCH.log("prometheus or prometheus-alertmanager not installed: prometheus_default_delay_s is null")
        return {"prometheus_default_delay_s": None}
    work = Path(tempfile.mkdtemp(prefix="opsdesk-bench-prom-"))
    receiver, gauge = Receiver(), Gauge()
    am_port, prom_port = free_port(), free_port()
    (work / "alertmanager.yml").write_text(json.dumps({
        # group_wait and group_interval: Alertmanager's defaults (30 s, 5 min); one group per breach.
        "route": {"receiver": "opsdesk", "group_by": ["alertname", "run"]},
        "receivers": [{"name": "opsdesk", "webhook_configs": [
            {"url": f"http://127.0.0.1:{receiver.port}/alertmanager", "send_resolved": False}]}]}))
    (work / "rules.yml").write_text(json.dumps({"groups": [{"name": "bench", "rules": [
        {"alert": "BenchHigh", "expr": "bench_value > 90"}]}]}))
    (work / "prometheus.yml").write_text(json.dumps({
        "global": PROMETHEUS_DEBIAN, "rule_files": [str(work / "rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": "bench", "static_configs": [{"targets": [f"127.0.0.1:{gauge.port}"]}]}]}))
    procs = [subprocess.Popen([alertmanager, f"--config.file={work / 'alertmanager.yml'}",
                               f"--storage.path={work / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
                               "--cluster.listen-address="], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
             subprocess.Popen([prometheus, f"--config.file={work / 'prometheus.yml'}",
                               f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    delays = []
    try:
        time.sleep(20)  # a first scrape and evaluation with the normal value
        for n in range(breaches):
            gauge.run, gauge.value = n + 1, 99.0
            flipped = time.monotonic()
            count = len(receiver.alertmanager)
            while len(receiver.alertmanager) == count and time.monotonic() - flipped < 300:
                time.sleep(0.1)
            if len(receiver.alertmanager) > count:
                delays.append(receiver.alertmanager[-1][0] - flipped)
                BENCH.log(f"prometheus + alertmanager breach {n + 1}: {delays[-1]:.1f} s")
            gauge.value = 10.0
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    return {"prometheus_default_delay_s": round(statistics.median(delays), 1) if delays else None,
            "prometheus_delays_s": [round(d, 1) for d in delays]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 items and alerts, 1 Prometheus breach")
    parser.add_argument("--pace", type=float, default=0.05, help="seconds between two breaches (default 0.05)")
    parser.add_argument("--skip-prometheus", action="store_true", help="leave out the Prometheus comparison")
    parser.add_argument("--prometheus-only", action="store_true", help="only the Prometheus comparison")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and the database")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    out = {} if args.prometheus_only else BENCH.run(args.keep, lambda database, data_dir: measure_opsdesk(
        args, database, data_dir))
    if not args.skip_prometheus:
        out.update(measure_prometheus(1 if args.quick else 3))
    else:
        out["prometheus_default_delay_s"] = None
    if out.get("prometheus_default_delay_s") and out.get("p99_ms"):
        out["ratio_prometheus_to_opsdesk_p99"] = round(out["prometheus_default_delay_s"] * 1000 / out["p99_ms"], 1)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
