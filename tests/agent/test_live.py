"""The agent against the real server (pytest-django's live_server): enrolment writes a private
config, `run --once` pushes a batch and the inventory that the server stores, and an outage —
a TCP proxy between agent and server closed, so the agent meets "connection refused" as with a
stopped server, then opened again — ends with every batch stored exactly once, in order."""

from __future__ import annotations

import json
import logging
import stat
from urllib.parse import urlsplit

import pytest

from opsdesk.agent import inventory
from opsdesk.agent.cli import main
from opsdesk.agent.runner import Runner
from opsdesk.agent.state import AgentConfig
from opsdesk.agent.transport import Client
from opsdesk.core.models.tokens import new_raw_token
from opsdesk.monitoring import filing, queue_insert, services
from opsdesk.monitoring.models import Agent, IngestBatch, Inventory, Series
from tests.agent.peers import Proxy
from tests.factories import CustomerFactory, make_agent

# live_server needs committed data, so each test ends with a flush of every table; serialized
# rollback puts back what the migrations wrote (built-in CI kinds, the default service level).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(scope="module", autouse=True)
def restore_database_after(django_db_setup, django_db_blocker):
    """Tests that run after this module in the same worker find the migrations' data again
    (as in tests/monitoring/test_end_to_end.py)."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all(initialized_only=True):
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents:
                connection.creation.deserialize_db_from_string(contents)


def test_enrol_then_run_once_stores_a_batch_and_the_inventory(live_server, tmp_path, capsys):
    customer = CustomerFactory()
    _token, raw = services.create_enrolment_token(customer, name="web-01", actor=None)
    folder = tmp_path / "state"

    assert main(["enroll", "--server", live_server.url + "/", "--token", raw, "--hostname", "web-01",
                 "--state-dir", str(folder)]) == 0
    agent = Agent.objects.get()
    assert agent.customer == customer and agent.configuration_item.name == "web-01"
    assert f"Enrolled as agent {agent.pk}" in capsys.readouterr().out
    config = folder / "agent.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    saved = json.loads(config.read_text())
    assert (saved["server"], saved["agent"]) == (live_server.url, agent.pk)
    assert services.authenticate_agent(saved["token"]) == agent

    # The token is one-time: spending it again is refused with the server's own message.
    assert main(["enroll", "--force", "--server", live_server.url, "--token", raw, "--state-dir",
                 str(tmp_path / "again")]) == 1
    assert capsys.readouterr().err.strip() == ("opsdesk agent: the server refused the enrolment token: "
                                               "The enrolment token is not valid, has expired or was already used.")

    assert main(["run", "--once", "--state-dir", str(folder)]) == 0
    batch = IngestBatch.objects.get(agent=agent)
    assert batch.seq == 1 and batch.samples > 10
    # Filed at once (tasks run eagerly here): the samples are on the host's series.
    filing.file_pending(5)
    names = set(Series.objects.filter(configuration_item=agent.configuration_item).values_list("name", flat=True))
    assert {"cpu_usage_percent", "memory_used_percent", "filesystem_used_percent"} <= names
    stored = Inventory.objects.get(agent=agent)
    kept = json.loads((folder / "inventory.json").read_text())
    assert stored.digest == kept["hash"] == inventory.digest(stored.data)
    assert stored.data["packages"] and stored.data["hostname"]


def test_an_outage_ends_with_every_batch_stored_once_in_order(live_server, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="opsdesk.agent")
    raw = new_raw_token()
    agent = make_agent(CustomerFactory(), raw=raw)
    address = urlsplit(live_server.url)
    proxy = Proxy(address.hostname, address.port)
    try:
        AgentConfig(server=proxy.url, agent=agent.pk, token=raw).save(tmp_path)
        runner = Runner(tmp_path, client=Client(timeout=5), collect_inventory=lambda: {"hostname": "x"})
        runner.tick()
        assert runner.server_state == "up"
        proxy.close()  # the server goes away
        for _ in range(3):
            runner.tick()
        assert runner.server_state == "unreachable" and runner.spool.stats().pending == 3
        proxy.open()  # and comes back at the same address
        runner.tick()
        runner.tick()
    finally:
        proxy.close()
    assert runner.spool.stats().pending == 0
    rows = list(IngestBatch.objects.filter(agent=agent).order_by("pk").values_list("seq", flat=True))
    assert rows == [1, 2, 3, 4, 5, 6]  # contiguous, in the order sent, none twice
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unreachable" in m for m in messages) == 1
    assert [m for m in messages if "reachable again" in m][0].endswith("4 batches replayed")
    filing.file_pending()  # where the queue is a database of its own, filing sets last_seq
    agent.refresh_from_db()
    assert agent.last_seq == 6


@pytest.mark.xdist_group("victoria-metrics")
def test_victoriametrics_away_ends_with_every_sample_in_it_once(live_server, tmp_path, victoria, settings, later):
    """With VictoriaMetrics as the store the push forwards the samples itself: while it is away
    the push answers 503 and stores nothing, the agent keeps its batches, and once it is back
    they are replayed, every sample in VictoriaMetrics once."""
    import time

    from opsdesk.monitoring.store import _store_for
    from tests.victoria import count

    store_proxy = Proxy("127.0.0.1", int(urlsplit(victoria).port))
    settings.OPSDESK_METRICS_URL = store_proxy.url
    _store_for.cache_clear()
    raw = new_raw_token()
    agent = make_agent(CustomerFactory(), raw=raw)
    began = time.time()
    try:
        AgentConfig(server=live_server.url, agent=agent.pk, token=raw).save(tmp_path)
        runner = Runner(tmp_path, client=Client(timeout=5), collect_inventory=lambda: {"hostname": "x"})
        runner.tick()
        assert runner.spool.stats().pending == 0
        store_proxy.close()  # VictoriaMetrics goes away
        for _ in range(3):
            runner.tick()
        assert runner.spool.stats().pending == 3
        queue_insert.flush_later()  # the forwarded batches' digests (the writer thread's work in a server)
        assert list(IngestBatch.objects.filter(agent=agent).values_list("seq", flat=True)) == [1]
        store_proxy.open()
        runner.tick()
        runner.tick()
    finally:
        store_proxy.close()
        _store_for.cache_clear()
    assert runner.spool.stats().pending == 0
    queue_insert.flush_later()
    rows = list(IngestBatch.objects.filter(agent=agent).order_by("pk").values_list("seq", "samples"))
    # A row a batch, or fewer: the digests of batches replayed in a row with the same series are
    # merged into one that counts the samples of all (queue_insert.insert_newest_later; how many
    # merge depends on this machine's series staying the same from one tick to the next, which
    # ticks this close together do not promise: a CPU's percentage needs time between readings).
    seqs = [seq for seq, _samples in rows]
    assert seqs[0] == 1 and seqs[-1] == 6 and seqs == sorted(set(seqs))
    sent = sum(samples for _seq, samples in rows)
    assert sent > 60
    assert count(victoria, f'{{ci="{agent.configuration_item_id}"}}', began - 5, time.time() + 5) == sent
