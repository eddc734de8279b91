#!/usr/bin/env python
"""What the host agent costs the machine it watches: peak resident memory and CPU time of
`opsdesk agent run` at its default interval (30 s).

Starts a minimal receiver in this process (http.server on 127.0.0.1, answering the push endpoint
with {"stored_up_to": seq} and the inventory endpoint with {"stored": true}), writes an agent.json
for it into a temporary state directory, and runs `python -m opsdesk.cli agent run --interval 30`
as a child. Over the run (about 3 minutes; 50 s with --quick) it samples the child's RSS with
psutil each second; at the end it reads the kernel's own peak (VmHWM, which also catches a peak
between two samples), the child's CPU time (user + system, and that of the commands it ran:
dpkg-query for the inventory), then stops it with SIGTERM and checks that it exits 0.

`cpu_percent` is the child's CPU time over the wall time of the run, in percent of one core,
start-up included (importing Python and psutil, the first inventory); `cpu_percent_after_start`
leaves out everything before the first batch arrived. The last line of output is one JSON object
(see bench/README.md); progress goes to stderr.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
TARGET_RSS_MB = 30.0
TARGET_CPU_PERCENT = 1.0
FULL_S, QUICK_S = 180.0, 50.0
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0


def log(message: str) -> None:
    print(f"agent: {message}", file=sys.stderr, flush=True)


class Receiver:
    """The two endpoints the agent talks to, keeping count of what arrived."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.samples = 0
        self.inventories = 0
        self.first_batch = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/api/monitoring/push/":
                    receiver.batches.append(body["seq"])
                    receiver.samples += len(body["samples"])
                    receiver.first_batch.set()
                    answer: dict[str, Any] = {"stored_up_to": body["seq"]}
                elif self.path == "/api/monitoring/inventory/":
                    receiver.inventories += 1
                    answer = {"stored": True}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measure(duration: float, interval: float, state_dir: Path) -> dict[str, Any]:
    receiver = Receiver()
    (state_dir / "agent.json").write_text(json.dumps({"server": receiver.url, "agent": 1, "token": "bench"}))
    os.chmod(state_dir / "agent.json", 0o600)
    command = [sys.executable, "-m", "opsdesk.cli", "agent", "run", "--interval", f"{interval:g}",
               "--state-dir", str(state_dir)]
    log(f"running {' '.join(command[1:])} for {duration:g} s against {receiver.url}")
    env = {k: v for k, v in os.environ.items() if k not in ("OPSDESK_AGENT_DIR", "JOURNAL_STREAM")}
    started = time.monotonic()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    try:
        process = psutil.Process(child.pid)
        if not receiver.first_batch.wait(START_TIMEOUT_S):
            raise SystemExit(f"agent: no batch arrived within {START_TIMEOUT_S:g} s")
        start_s = time.monotonic() - started
        cpu_at_first = cpu_seconds(process)
        log(f"first batch after {start_s:.2f} s ({cpu_at_first:.2f} s of CPU)")
        peak = 0
        rss_series = []
        while time.monotonic() - started < duration:
            rss = process.memory_info().rss
            peak = max(peak, rss)
            rss_series.append(rss)
            time.sleep(1.0)
        wall = time.monotonic() - started
        cpu = cpu_seconds(process)
        hwm = peak_rss_kb(child.pid) * 1024
        rss_end = process.memory_info().rss
        try:
            pss = process.memory_full_info().pss
        except (psutil.AccessDenied, AttributeError):
            pss = None
        stop_at = time.monotonic()
        child.send_signal(signal.SIGTERM)
        try:
            exit_code = child.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            exit_code = child.wait()
        stop_s = time.monotonic() - stop_at
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        receiver.stop()
    errors = child.stderr.read() if child.stderr else ""
    for line in errors.splitlines()[-10:]:
        log(f"  agent log: {line}")
    mb = 1024 * 1024
    rss_mb = round(max(peak, hwm) / mb, 1)
    cpu_percent = round(100.0 * cpu / wall, 3)
    after_start = round(100.0 * (cpu - cpu_at_first) / (wall - start_s), 3)
    return {
        "rss_mb": rss_mb,
        "cpu_percent": cpu_percent,
        "interval_s": interval,
        "duration_s": round(wall, 1),
        "rss_mb_sampled_peak": round(peak / mb, 1),
        "rss_mb_end": round(rss_end / mb, 1),
        "pss_mb_end": round(pss / mb, 1) if pss is not None else None,
        "rss_mb_growth_after_first_minute": round((rss_series[-1] - rss_series[min(60, len(rss_series) - 1)]) / mb, 2),
        "cpu_percent_after_start": after_start,
        "cpu_s": round(cpu, 3),
        "start_to_first_batch_s": round(start_s, 2),
        "start_cpu_s": round(cpu_at_first, 3),
        "batches_received": len(receiver.batches),
        "batches_in_order": receiver.batches == sorted(set(receiver.batches)),
        "samples_per_batch": round(receiver.samples / max(1, len(receiver.batches)), 1),
        "inventories_received": receiver.inventories,
        "exit_code": exit_code,
        "stop_s": round(stop_s, 2),
        "target_rss_mb": TARGET_RSS_MB,
        "target_cpu_percent": TARGET_CPU_PERCENT,
        "meets_target": rss_mb < TARGET_RSS_MB and cpu_percent < TARGET_CPU_PERCENT,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"run {QUICK_S:g} s instead of {FULL_S:g} s")
    parser.add_argument("--duration", type=float, help="seconds to run (overrides --quick)")
    parser.add_argument("--interval", type=float, default=30.0, help="the agent's interval (default: %(default)g)")
    parser.add_argument("--keep", action="store_true", help="keep the state directory (its path goes to stderr)")
    args = parser.parse_args()
    duration = args.duration or (QUICK_S if args.quick else FULL_S)
    state_dir = Path(tempfile.mkdtemp(prefix="opsdesk-bench-agent-"))
    try:
        result = measure(duration, args.interval, state_dir)
    finally:
        if args.keep:
            log(f"state directory kept: {state_dir}")
        else:
            shutil.rmtree(state_dir, ignore_errors=True)
    result["quick"] = bool(args.quick and not args.duration)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
