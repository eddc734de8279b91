"""The real peer: Debian's prometheus-alertmanager on 127.0.0.1, its webhook receiver pointed at a
live opsdesk with the integration's token (http_config bearer), fed alerts through its own API
(POST /api/v2/alerts) as Prometheus feeds it: the same alert posted again and re-sent by
Alertmanager at each repeat_interval make ONE alert in opsdesk, which the resolution resolves."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.db import OperationalError

from opsdesk.monitoring.models import Alert, AlertState
from tests.factories import CustomerFactory
from tests.servers import stop, wait_ready

from .conftest import make_integration

BINARY = "prometheus-alertmanager"
# live_server needs committed data; serialized rollback puts back the migrations' rows.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True),
              pytest.mark.xdist_group("alertmanager")]


@pytest.fixture(scope="module", autouse=True)
def restore_database_after(django_db_setup, django_db_blocker):
    """Tests after this module in the same worker find the migrations' data again (see
    tests/browser/conftest.py)."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all(initialized_only=True):
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents:
                connection.creation.deserialize_db_from_string(contents)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CONFIG = """
route:
  receiver: opsdesk
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: opsdesk
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


@pytest.fixture
def alertmanager(tmp_path: Path):
    """Starts Alertmanager with a config written by the test; answers (start(url, token) -> base URL)."""
    binary = shutil.which(BINARY)
    if binary is None:
        pytest.skip(f"{BINARY} is not installed: install the Debian package `prometheus-alertmanager` "
                    "(make test-deps does)")
    procs: list[subprocess.Popen] = []

    def start(url: str, token: str) -> str:
        (tmp_path / "alertmanager.yml").write_text(CONFIG.format(url=url, token=token))
        port = _free_port()
        log = open(tmp_path / "alertmanager.log", "wb")
        proc = subprocess.Popen(
            [binary, f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        wait_ready(proc, f"{base}/-/ready", tmp_path / "alertmanager.log", BINARY)
        return base

    yield start
    for proc in procs:
        stop(proc, timeout=10)


def _read(query):
    """A read beside the live server's writes: SQLite's shared in-memory test database answers
    "table is locked" while the server thread writes; the next try a moment later gets through."""
    for _ in range(50):
        try:
            return query()
        except OperationalError:
            time.sleep(0.05)
    return query()


def _wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = _read(condition)
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"waited {seconds} s for {what}")


def test_alertmanager_re_sends_make_one_alert_resolved_at_the_end(live_server, alertmanager):
    customer = CustomerFactory(code="AMCUST")
    integration = make_integration(customer, "alertmanager", name="prometheus")
    base = alertmanager(f"{live_server.url}/api/monitoring/inbound/alertmanager/", integration.raw_token)
    now = dt.datetime.now(dt.UTC)
    alert = {"labels": {"alertname": "DiskFull", "instance": "nas1:9100", "severity": "critical"},
             "annotations": {"summary": "Disk almost full on nas1"},
             "startsAt": now.isoformat(), "generatorURL": "http://prometheus.local/graph"}

    def post(body: dict) -> None:
        response = httpx.post(f"{base}/api/v2/alerts", json=[body], timeout=5)
        assert response.status_code == 200, response.text

    post(alert)
    first = _wait_for(lambda: Alert.objects.filter(customer=customer).first(), 20, "the first notification")
    assert (first.title, first.severity, first.state, first.source) == \
        ("Disk almost full on nas1", "critical", AlertState.FIRING, "alertmanager")

    # Prometheus posts the firing alert again at every evaluation; Alertmanager re-sends the group
    # at every repeat_interval (2 s): each re-send moves last_seen_at, none makes a new alert.
    seen = {first.last_seen_at}
    deadline = time.monotonic() + 20
    while len(seen) < 3 and time.monotonic() < deadline:
        post(alert)
        time.sleep(0.5)
        seen.add(_read(lambda: Alert.objects.get(pk=first.pk).last_seen_at))
    assert len(seen) >= 3, "Alertmanager did not re-send the alert"
    assert Alert.objects.filter(customer=customer).count() == 1

    post({**alert, "endsAt": dt.datetime.now(dt.UTC).isoformat()})
    _wait_for(lambda: Alert.objects.get(pk=first.pk).state == AlertState.RESOLVED, 20, "the resolution")
    assert Alert.objects.filter(customer=customer).count() == 1
