"""The agents' push API: one batch, one row, stored once; malformed batches refused whole."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from opsdesk.core.models.tokens import new_raw_token
from opsdesk.monitoring import filing, ingest
from opsdesk.monitoring.models import Agent, IngestBatch
from tests.factories import make_agent

pytestmark = pytest.mark.django_db

URL = "/api/monitoring/push/"


def sample(**over):
    return {"name": "node_cpu_seconds_total", "labels": {"cpu": "0", "mode": "idle"}, "value": 1.5,
            "ts": 1764000000.0, **over}


def batch(seq=1, samples=None):
    return {"seq": seq, "sent_at": 1764000001.0, "samples": [sample()] if samples is None else samples}


@pytest.fixture
def raw():
    return new_raw_token()


@pytest.fixture
def agent(customer_a, raw):
    return make_agent(customer_a, raw=raw)


@pytest.fixture
def api(agent, raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def push(api, body):
    # Sent as the agent sends it: a JSON body written by hand (APIClient's encoder refuses NaN).
    return api.post(URL, data=json.dumps(body, allow_nan=True), content_type="application/json")


def test_a_batch_is_stored_once_as_one_row(api, agent):
    answer = push(api, batch(7, [sample(), sample(value=2, labels={})]))
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"stored_up_to": 7}
    row = IngestBatch.objects.get()
    assert (row.agent, row.seq, row.samples, row.filed_at) == (agent, 7, 2, None)
    # Stored grouped per series (ingest.checked): the two samples are two series of one sample.
    stored = ingest.stored_body(bytes(row.payload))
    assert stored["seq"] == 7 and stored["sent_at"] == 1764000001.0
    assert ingest.stored_columns(bytes(row.payload)) == [
        ["node_cpu_seconds_total", {"cpu": "0", "mode": "idle"}, [1764000000.0], [1.5]],
        ["node_cpu_seconds_total", {}, [1764000000.0], [2.0]]]
    filing.file_pass()  # where the queue is a database of its own, filing sets last_seq
    agent.refresh_from_db()
    assert agent.last_seq == 7 and agent.last_seen_at is not None


def test_a_resent_batch_answers_the_same_and_is_not_stored_twice(api, agent):
    first = push(api, batch(3))
    again = push(api, batch(3, [sample(value=99)]))
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"stored_up_to": 3}
    assert IngestBatch.objects.count() == 1
    assert ingest.stored_columns(bytes(IngestBatch.objects.get().payload))[0][3] == [1.5]


def test_an_older_batch_does_not_lower_last_seq(api, agent):
    # Filed in between: where the queue is a database of its own (SQLite), filing sets last_seq.
    assert push(api, batch(5)).status_code == 200
    filing.file_pass()
    assert push(api, batch(4)).status_code == 200
    filing.file_pass()
    agent.refresh_from_db()
    assert agent.last_seq == 5
    assert IngestBatch.objects.count() == 2


@pytest.mark.parametrize(("body", "path"), [
    (batch(samples=[sample(), sample(), sample(), sample(name="9bad")]), ["samples", "3", "name"]),
    (batch(samples=[sample(name="a" * 201)]), ["samples", "0", "name"]),
    (batch(samples=[sample(), sample(value=float("nan"))]), ["samples", "1", "value"]),
    (batch(samples=[sample(ts=float("inf"))]), ["samples", "0", "ts"]),
    (batch(samples=[sample(value="1.5")]), ["samples", "0", "value"]),
    (batch(samples=[sample(value=True)]), ["samples", "0", "value"]),
    (batch(samples=[sample(name=5)]), ["samples", "0", "name"]),
    (batch(samples=[sample(labels={"a": 1})]), ["samples", "0", "labels"]),
    (batch(samples=[sample(labels={"bad-name": "x"})]), ["samples", "0", "labels"]),
    (batch(samples=[sample(labels={"a": "x" * 201})]), ["samples", "0", "labels"]),
    (batch(samples=[sample(labels={f"l{i}": "x" for i in range(33)})]), ["samples", "0", "labels"]),
    (batch(samples=[{"name": "up", "labels": {}, "ts": 1.0}]), ["samples", "0", "value"]),
    (batch(samples=["up"]), ["samples", "0"]),
    (batch(samples=[sample()] * 10_001), ["samples"]),
    (batch(samples={"name": "up"}), ["samples"]),
    ({"sent_at": 1.0, "samples": [sample()]}, ["seq"]),
    ({"seq": "1", "samples": [sample()]}, ["seq"]),
    ({"seq": 1.5, "samples": [sample()]}, ["seq"]),
    ({"seq": 0, "samples": [sample()]}, ["seq"]),
    ({"seq": 1}, ["samples"]),
])
def test_a_malformed_batch_is_refused_whole_naming_the_field(api, agent, body, path):
    answer = push(api, body)
    assert answer.status_code == 400, answer.content
    errors = answer.json()
    for key in path:
        assert key in errors, (path, errors)
        errors = errors[key]
    assert IngestBatch.objects.count() == 0
    agent.refresh_from_db()
    assert agent.last_seq == 0 and agent.last_seen_at is None


def test_ten_thousand_samples_are_accepted(api):
    assert push(api, batch(1, [sample(value=i) for i in range(10_000)])).status_code == 200
    assert IngestBatch.objects.get().samples == 10_000


@pytest.mark.parametrize("header", [None, "Bearer opd_not-a-token", "Bearer", "Basic abc"])
def test_without_a_valid_agent_token_it_is_401(agent, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    answer = push(client, batch())
    assert answer.status_code == 401
    assert "detail" in answer.json()
    assert IngestBatch.objects.count() == 0


def test_a_persons_token_is_not_an_agent_token(admin_api):
    assert push(admin_api, batch()).status_code == 401
    assert IngestBatch.objects.count() == 0


def test_an_agent_token_opens_nothing_else(api, agent):
    for url in ("/api/core/customers/", "/api/cmdb/configurationitems/", "/api/monitoring/agents/"):
        assert api.get(url).status_code in (401, 403), url
    assert Agent.objects.count() == 1


def test_a_deleted_agent_can_no_longer_push(api, agent):
    assert push(api, batch(1)).status_code == 200  # its token is cached now (pushing_agents.pushing_agent)
    agent.delete()
    assert push(api, batch()).status_code == 401
