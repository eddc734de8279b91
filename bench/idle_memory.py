#!/usr/bin/env python
"""Resident memory of `opsdesk up` at rest: the supervisor and everything it started.

Starts `opsdesk up` with a fresh data directory (SQLite and the filesystem task queue, the
one-machine default) on a free port, waits until /healthz answers 200, lets it idle, then sums
the memory of the supervisor and all its descendant processes, read from /proc. Stops it with
SIGTERM and checks that every process is gone. The last line of output is one JSON object (see
bench/README.md); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TARGET_RSS_MB = 400.0
# The figure that counts (the monitoring issue): proportional set size of all processes together,
# with the collector running; shared library pages are counted once across processes.
TARGET_PSS_MB = 350.0
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0  # the supervisor gives its children 15 s before it kills them


def log(message: str) -> None:
    print(f"idle_memory: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def opsdesk_command() -> str:
    # The console script next to this interpreter, so `.venv/bin/python bench/idle_memory.py`
    # measures the opsdesk of that virtualenv.
    beside = Path(sys.executable).parent / "opsdesk"
    found = str(beside) if beside.exists() else shutil.which("opsdesk")
    if not found:
        raise SystemExit("idle_memory: cannot find the opsdesk command (run with .venv/bin/python)")
    return found


def children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process visible in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone in the meantime
            continue
        # The command name (field 2) is in parentheses and may hold spaces: split after it.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(root: int) -> list[int]:
    tree = children_map()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def pss_kb(pid: int) -> int | None:
    """Proportional set size: shared pages divided among the processes sharing them, so a sum
    over processes does not count the Python interpreter's shared libraries once per process."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def label(pid: int) -> str:
    """A short name for a process of `opsdesk up`: up, web, worker, scheduler or its command."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    words = [a.decode(errors="replace") for a in argv if a]
    for name in ("up", "web", "worker", "scheduler", "collector", "setup"):
        if name in words[1:4]:
            return name
    comm = Path(f"/proc/{pid}/comm").read_text().strip() if Path(f"/proc/{pid}/comm").exists() else ""
    return comm or " ".join(words)[:40]


def snapshot(root: int) -> dict[str, Any]:
    rss = pss = 0
    pss_complete = True
    by_process: dict[str, float] = {}
    pids = []
    for pid in descendants(root):
        try:
            kb = status_kb(pid, "VmRSS")
            name = label(pid)
        except OSError:
            continue
        pids.append(pid)
        rss += kb
        proportional = pss_kb(pid)
        if proportional is None:
            pss_complete = False
        else:
            pss += proportional
        # The web server's master and its worker both say "web": number the repeats.
        key, n = name, 2
        while key in by_process:
            key, n = f"{name}-{n}", n + 1
        by_process[key] = round(kb / 1024, 1)
    return {"rss_mb": round(rss / 1024, 1), "pss_mb": round(pss / 1024, 1) if pss_complete else None,
            "processes": len(pids), "rss_mb_by_process": by_process, "pids": pids}


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> float:
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"opsdesk up exited with {proc.returncode} before /healthz answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except urllib.error.HTTPError as exc:  # 503 while the worker has not reported yet
            last = f"{exc.code} {exc.read()[:200]!r}"
        except OSError as exc:  # not listening yet
            last = str(exc)
        time.sleep(0.5)
    raise RuntimeError(f"/healthz did not answer 200 within {timeout:.0f} s (last: {last})")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run(args: argparse.Namespace) -> dict[str, Any]:
    idle_s = args.idle if args.idle is not None else (3.0 if args.quick else 15.0)
    data_dir = tempfile.mkdtemp(prefix="opsdesk-bench-mem-")
    port = free_port()
    env = dict(os.environ)
    # The one-machine default whatever this shell has exported (make exports OPSDESK_DATA_DIR=./var).
    # Secrets go in their NAME_FILE form too: with both NAME and NAME_FILE set opsdesk refuses to start.
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "OPSDESK_SECRET_KEY", "OPSDESK_ADMIN_PASSWORD",
                 "OPSDESK_CREDENTIAL_KEYS"):
        env.pop(name, None)
        env.pop(f"{name}_FILE", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(OPSDESK_DATA_DIR=data_dir, OPSDESK_LISTEN=f"127.0.0.1:{port}",
               OPSDESK_ADMIN_PASSWORD=secrets.token_urlsafe(16), PYTHONUNBUFFERED="1")
    log_path = Path(data_dir) / "up.log"
    log(f"starting opsdesk up on 127.0.0.1:{port}, data directory {data_dir}")
    started = time.monotonic()
    with open(log_path, "wb") as out:
        # A session of its own: a Ctrl-C of this script does not reach it, and if it fails to stop
        # its process group can be killed without touching anything else.
        proc = subprocess.Popen([opsdesk_command(), "up"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        try:
            ready_s = wait_healthy(f"http://127.0.0.1:{port}/healthz", proc, START_TIMEOUT_S)
        except RuntimeError as exc:
            sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
            raise SystemExit(f"idle_memory: {exc}") from None
        log(f"/healthz answered 200 after {ready_s:.1f} s; idling {idle_s:.0f} s")
        peak = 0.0
        deadline = time.monotonic() + idle_s
        while True:
            snap = snapshot(proc.pid)
            peak = max(peak, snap["rss_mb"])
            if time.monotonic() >= deadline:
                break
            time.sleep(1.0)
        log(f"rss {snap['rss_mb']} MB, pss {snap['pss_mb']} MB in {snap['processes']} processes: "
            f"{snap['rss_mb_by_process']}")
    finally:
        stop_started = time.monotonic()
        pids = descendants(proc.pid) if proc.poll() is None else [proc.pid]
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log("opsdesk up did not stop after SIGTERM; killing its process group")
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        stop_s = time.monotonic() - stop_started
        time.sleep(0.5)  # let the last children be reaped
        leftover = [pid for pid in pids if alive(pid)]
        if leftover:
            log(f"still running after the stop: {leftover}; killing them")
            for pid in leftover:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    log(f"stopped with exit code {code} in {stop_s:.1f} s")
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "rss_mb": snap["rss_mb"],
        "pss_mb": snap["pss_mb"],
        "processes": snap["processes"],
        "rss_mb_peak_idle": peak,
        "rss_mb_by_process": snap["rss_mb_by_process"],
        "target_rss_mb": TARGET_RSS_MB,
        "target_pss_mb": TARGET_PSS_MB,
        "meets_target": snap["pss_mb"] < TARGET_PSS_MB,
        "start_to_healthy_s": round(ready_s, 1),
        "idle_s": idle_s,
        "stop_s": round(stop_s, 1),
        "exit_code": code,
        "leftover_processes": len(leftover),
        "total_s": round(time.monotonic() - started, 1),
        "quick": args.quick,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="idle 3 s instead of 15 s")
    parser.add_argument("--idle", type=float, default=None, help="seconds to idle before measuring")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (with up.log)")
    args = parser.parse_args()
    print(json.dumps(run(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
