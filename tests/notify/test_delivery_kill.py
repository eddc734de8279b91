"""THE kill test: a real `celery -A opsdesk worker` (filesystem transport, a scratch database of
its own: a SQLite file, or a fresh PostgreSQL database beside DATABASE_URL's) delivering a burst
of 200 notifications to a webhook receiver on 127.0.0.1 is killed with SIGKILL while one of its
requests is in flight, then started again: its beat's sweep takes the rows whose lease ran out,
and every notification is delivered and SENT. The harness is bench/notify.py's, so the benchmark
and the test measure the same thing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "notify.py"


def _harness():
    spec = importlib.util.spec_from_file_location("bench_notify", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_worker_killed_mid_burst_loses_no_notification():
    harness = _harness()
    system = harness.System()
    try:
        system.migrate()
        system.start_worker()
        result = harness.kill_run(system, count=200, hold_request=3)
    finally:
        system.close()
    # The request held open at the kill had its rows SENDING under a lease the killed worker
    # never settled: they came back through the sweep.
    assert result["sending_at_kill"] >= 1
    assert result["rows"] == 200
    assert result["lost_keys"] == [] and result["lost_after_kill"] == 0
    assert result["complete_after_kill"] is True
    # The held request reached the receiver before the kill, and was sent again after it: the
    # at-least-once copy a receiver drops by its key.
    assert result["duplicates_after_kill"] >= 1
