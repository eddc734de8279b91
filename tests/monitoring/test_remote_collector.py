"""A collector inside a customer's network, as a real process: it enrols with a one-time token,
fetches the checks named for it from a live server, runs them and pushes the results."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from opsdesk.monitoring import filing
from opsdesk.monitoring.models import Agent, AgentKind, Check, IngestBatch
from opsdesk.monitoring.services import create_enrolment_token
from tests.factories import ConfigurationItemFactory, CustomerFactory

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]

from tests.monitoring.test_end_to_end import restore_database_after  # noqa: E402,F401  (same clean-up)


def opsdesk(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "opsdesk.cli", "collector", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def test_a_remote_collector_runs_its_checks_and_pushes_the_results(live_server, tmp_path):
    customer = CustomerFactory()
    _token, raw = create_enrolment_token(customer, name="dmz", actor=None)
    state = str(tmp_path / "collector")
    enrol = opsdesk("enroll", "--server", live_server.url, "--token", raw, "--name", "dmz-1", "--state-dir", state)
    out, _ = enrol.communicate(timeout=60)
    assert enrol.returncode == 0, out
    collector = Agent.objects.get(kind=AgentKind.COLLECTOR, name="dmz-1")
    assert collector.customer == customer

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    item = ConfigurationItemFactory(customer=customer)
    open_port = Check.objects.create(customer=customer, configuration_item=item, name="open", type="tcp",
                                     target="127.0.0.1", params={"port": port}, interval=2, timeout=2,
                                     collector=collector)
    listener_closed = socket.socket()
    listener_closed.bind(("127.0.0.1", 0))
    closed_port = listener_closed.getsockname()[1]
    listener_closed.close()  # nothing listens there: refused
    closed = Check.objects.create(customer=customer, configuration_item=item, name="closed", type="tcp",
                                  target="127.0.0.1", params={"port": closed_port}, interval=2, timeout=2,
                                  collector=collector)

    process = opsdesk("remote", "--state-dir", state, "--refresh", "5")
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and IngestBatch.objects.filter(agent=collector).count() < 2:
            time.sleep(0.5)
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
        listener.close()
    assert process.returncode == 0, out
    assert IngestBatch.objects.filter(agent=collector).exists(), out
    filing._series_ids.clear()
    filing.file_pending(10)
    open_port.refresh_from_db()
    closed.refresh_from_db()
    assert open_port.state == "ok", (open_port.last_code, open_port.last_message, out)
    assert (closed.state, closed.last_code) == ("critical", "refused"), out
