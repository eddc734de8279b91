"""A VictoriaMetrics of the tests' own (Debian's `victoria-metrics`, started once per test
session and xdist worker on a free port with a scratch data directory): the `victoria` fixture
(registered in tests/conftest.py) answers its base URL. Tests that use it are kept on one worker
with `pytest.mark.xdist_group("victoria-metrics")`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import stop, wait_ready

BINARY = "victoria-metrics"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def victoria() -> Iterator[str]:
    """The base URL of a VictoriaMetrics of our own."""
    binary = shutil.which(BINARY) or next((p for p in (f"/usr/bin/{BINARY}",) if os.path.exists(p)), None)
    if binary is None:
        pytest.fail(f"{BINARY} is not installed: install the Debian package `victoria-metrics` "
                    "(make test-deps does)", pytrace=False)
    data = tempfile.mkdtemp(prefix="opsdesk-test-vm-")
    port = free_port()
    log = open(f"{data}/vm.log", "wb")
    proc = subprocess.Popen(
        [binary, f"-storageDataPath={data}/data", f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y",
         "-search.latencyOffset=0s", "-loggerLevel=WARN"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, f"{url}/health", Path(data, "vm.log"), BINARY)
        yield url
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(data, ignore_errors=True)


def flush(url: str) -> None:
    """Make what was written searchable now (VictoriaMetrics buffers new samples for a second or two)."""
    assert httpx.get(f"{url}/internal/force_flush", timeout=10).status_code == 200


def count(url: str, selector: str, start: float, end: float) -> int:
    """How many samples of `selector` VictoriaMetrics holds in [start, end] (flushed first)."""
    flush(url)
    window = max(1, int(end - start + 1))
    answer = httpx.get(f"{url}/api/v1/query", params={"query": f"sum(count_over_time({selector}[{window}s]))",
                                                      "time": f"{end:.3f}", "nocache": "1"}, timeout=10)
    result = answer.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0
