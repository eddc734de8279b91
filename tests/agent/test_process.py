"""`opsdesk agent run` as a real process: SIGTERM (systemd's stop) or SIGINT (Ctrl-C) ends it
cleanly with exit code 0 — while it sleeps, or after finishing the push it is in the middle of."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsdesk.agent.sender import PUSH_PATH
from opsdesk.agent.state import AgentConfig
from tests.agent.peers import Peer

ROOT = Path(__file__).resolve().parents[2]


def _until(condition, child: subprocess.Popen, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    assert condition()


@pytest.mark.slow
@pytest.mark.parametrize("signum, during_push", [(signal.SIGTERM, True), (signal.SIGINT, False)],
                         ids=["SIGTERM-during-a-push", "SIGINT-while-sleeping"])
def test_a_signal_stops_agent_run_with_exit_0(tmp_path, signum, during_push):
    peer = Peer()
    try:
        AgentConfig(server=peer.url, agent=1, token="t").save(tmp_path)
        child = subprocess.Popen([sys.executable, "-m", "opsdesk.cli", "agent", "run", "--interval", "1",
                                  "--state-dir", str(tmp_path)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        try:
            _until(lambda: len(peer.stored) >= 1, child)
            if during_push:
                peer.delay = 0.8  # the next push takes a while; the signal comes in the middle of it
                _until(lambda: len(peer.posts(PUSH_PATH)) >= 2, child)
            child.send_signal(signum)
            started = time.monotonic()
            assert child.wait(timeout=10) == 0
            assert time.monotonic() - started < 3
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        log = child.stderr.read()
        assert "Traceback" not in log and "stopped (0 batches wait in the spool)" in log, log
        assert sorted(peer.stored) == list(range(1, len(peer.stored) + 1))
        if during_push:
            assert len(peer.stored) == 2  # the push under way was finished and acknowledged; no new one began
    finally:
        peer.stop()
