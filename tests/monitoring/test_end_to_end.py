"""The agent's sender (opsdesk/agent/sender.py) against the real push API on a live server:
three spooled batches, one of them sent twice, end as exactly three stored batches."""

from __future__ import annotations

import httpx
import pytest

from opsdesk.agent.sender import push_pending
from opsdesk.agent.spool import Spool
from opsdesk.core.models.tokens import new_raw_token
from opsdesk.monitoring import filing
from opsdesk.monitoring.models import IngestBatch
from tests.factories import CustomerFactory, make_agent

# live_server needs committed data, so the test ends with a flush of every table; serialized
# rollback puts back what the migrations wrote (built-in CI kinds, the default service level).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(scope="module", autouse=True)
def restore_database_after(django_db_setup, django_db_blocker):
    """Tests that run after this module in the same worker find the migrations' data again
    (see tests/browser/conftest.py)."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all(initialized_only=True):
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents:
                connection.creation.deserialize_db_from_string(contents)


def _samples(n: int) -> list[dict]:
    return [{"name": "node_load1", "labels": {"host": "web-01"}, "value": 0.5 * n, "ts": 1764000000.0 + n}]


def test_the_sender_pushes_spooled_batches_and_a_resent_one_is_stored_once(live_server, tmp_path):
    raw = new_raw_token()
    agent = make_agent(CustomerFactory(), raw=raw)
    spool = Spool(tmp_path / "spool")
    seqs = [spool.append({"samples": _samples(n)}) for n in range(3)]
    assert seqs == [1, 2, 3]

    with httpx.Client(timeout=10) as client:
        first = push_pending(spool, client, live_server.url, raw, max_batches=2)
        assert (first.sent, first.stored_up_to, first.error) == (2, 2, "")
        # The answer to batch 2 was "lost": the agent sends it again with batch 3.
        lost = Spool(tmp_path / "resend")
        for n in range(2):
            lost.append({"samples": _samples(n)})
        lost.ack(1)
        assert push_pending(lost, client, live_server.url, raw).stored_up_to == 2
        rest = push_pending(spool, client, live_server.url, raw)
        assert (rest.sent, rest.stored_up_to, rest.error) == (1, 3, "")
        # A wrong token is refused, not retried.
        spool.append({"samples": _samples(9)})
        refused = push_pending(spool, client, live_server.url, "opd_wrong")
        assert refused.refused and refused.error.startswith("HTTP 401")

    assert spool.stats().pending == 1 and lost.stats().pending == 0
    assert list(IngestBatch.objects.filter(agent=agent).values_list("seq", "samples")) == [(1, 1), (2, 1), (3, 1)]
    filing.file_pending()  # where the queue is a database of its own, filing sets last_seq
    agent.refresh_from_db()
    assert agent.last_seq == 3
