"""`opsdesk up`: set up, then start web, worker (with the scheduler inside it) and collector, and keep them running.

A child that dies is restarted with a growing delay; SIGTERM or Ctrl-C stops all children
cleanly (SIGTERM, then SIGKILL after a grace period) and exits. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

# opsdesk.env is standard library only (dj_database_url is imported only to parse DATABASE_URL).
from opsdesk.env import WORKER_POOLS, env_choice

# One machine: the scheduler runs inside the worker (--beat), which saves a process with Django
# loaded (~70 MB); scale-out runs `opsdesk scheduler` on its own.
CHILDREN = ("web", "worker", "collector")
GRACE_SECONDS = 15
# What opsdesk.cli exits with on a configuration error (see opsdesk.env.ConfigError).
CONFIG_ERROR_EXIT = 2


def _spawn(name: str, extra: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "opsdesk.cli", name, *extra])


def run_up(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="opsdesk up", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-setup", action="store_true", help="skip migrate/translations/admin set-up")
    args = parser.parse_args(argv)
    # Read before anything starts, so a bad value is one clear message (opsdesk.cli prints the
    # ConfigError) rather than a worker that fails and is restarted over and over.
    pool = env_choice("OPSDESK_WORKER_POOL", "threads", WORKER_POOLS)
    if not args.no_setup:
        code = subprocess.call([sys.executable, "-m", "opsdesk.cli", "setup"])
        if code != 0:
            return code
    # One machine: a thread pool keeps the worker to one process, which keeps memory low.
    extra = {"web": [], "worker": ["--pool", pool, "--beat"], "collector": []}
    procs = {name: _spawn(name, extra[name]) for name in CHILDREN}
    delays = {name: 1.0 for name in CHILDREN}
    stopping = False
    exit_code = 0

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"opsdesk: running web, worker with the scheduler, and collector (pid {os.getpid()}); "
          "Ctrl-C stops them", flush=True)
    try:
        while not stopping:
            time.sleep(0.5)
            for name, proc in list(procs.items()):
                code = proc.poll()
                if code is None or stopping:
                    continue
                if code == CONFIG_ERROR_EXIT:
                    # A configuration error (already printed by the child) comes back on every
                    # restart: stop everything and say so, instead of a restart loop.
                    print(f"opsdesk: {name} stopped on a configuration error; stopping all", flush=True)
                    stopping, exit_code = True, CONFIG_ERROR_EXIT
                    break
                print(f"opsdesk: {name} exited with {code}; restarting in {delays[name]:.0f} s", flush=True)
                deadline = time.monotonic() + delays[name]
                while time.monotonic() < deadline and not stopping:
                    time.sleep(0.2)
                if not stopping:
                    procs[name] = _spawn(name, extra[name])
                    delays[name] = min(delays[name] * 2, 30.0)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        print("opsdesk: stopped", flush=True)
    return exit_code
