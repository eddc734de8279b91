"""The push's fast path: a good batch from a known agent answered without DRF, one write
transaction, and a host agent's samples stored grouped per series (ingest.checked) — with the
same answers, errors and stored samples as the checks and the filer always gave."""

from __future__ import annotations

import json
import math
import random

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from opsdesk.core.models.tokens import hash_token, new_raw_token
from opsdesk.monitoring import filing, ingest, series_ids, services
from opsdesk.monitoring.models import Agent, AgentKind, IngestBatch, Series
from opsdesk.monitoring.routers import QUEUE, queue_apart
from opsdesk.monitoring.store import get_store
from tests.factories import make_agent

pytestmark = pytest.mark.django_db

URL = "/api/monitoring/push/"
T0 = 1_764_000_000.0


@pytest.fixture(autouse=True)
def _fresh_series_cache():
    filing._series_ids.clear()
    yield
    filing._series_ids.clear()


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
    return api.post(URL, data=json.dumps(body, allow_nan=True), content_type="application/json")


def sample(name="cpu_usage_percent", labels=None, value=1.5, ts=T0):
    return {"name": name, "labels": {"cpu": "0"} if labels is None else labels, "value": value, "ts": ts}


def filed_values(agent, name, labels) -> list[tuple[float, float]]:
    key = series_ids.series_key(name, labels.items())
    series = Series.objects.get(configuration_item_id=agent.configuration_item_id, key=key)
    data = get_store().query([(series.id, name, labels)], T0 - 60, T0 + 3600, step=0)[series.id]
    return list(zip(data.ts, data.avg, strict=True))


def test_a_good_batch_costs_three_statements_and_answers_like_drf(api, agent, monkeypatch):
    # The back-pressure look-up is made at most every quarter second per process, not per push:
    # made here, and kept for the test however slow the machine.
    monkeypatch.setattr(services, "BACKLOG_LOOK_SECONDS", 3600.0)
    services.filing_behind()
    # On SQLite the queue is a database of its own, with its own connection (monitoring/routers.py).
    queue = connections[QUEUE] if queue_apart() else connection
    with CaptureQueriesContext(connection) as queries, CaptureQueriesContext(queue) as queued:
        answer = push(api, {"seq": 4, "samples": [sample(), sample(value=2.5, ts=T0 + 15)]})
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"stored_up_to": 4}

    def statements(captured) -> list[str]:
        first_words = (q["sql"].split()[0].upper() for q in captured.captured_queries)
        return [s for s in first_words if s not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]

    # The agent look-up, and the batch: nothing else per push (the agent's last_seq is set by
    # filing). On SQLite the batch goes to the queue's own database.
    if queue_apart():
        assert (statements(queries), statements(queued)) == (["SELECT"], ["INSERT"])
    else:
        assert statements(queries) == ["SELECT", "INSERT"]
    filing.file_pass()
    agent.refresh_from_db()
    assert agent.last_seq == 4 and agent.last_seen_at is not None
    assert IngestBatch.objects.get().samples == 2


def test_samples_are_stored_per_series_and_filed_as_sent(api, agent):
    # Two series interleaved, one of them sent with its labels in two orders: the same series.
    samples = []
    for i in range(5):
        samples.append(sample(labels={"a": "1", "b": "2"}, value=float(i), ts=T0 + 15 * i))
        samples.append(sample(name="load1", labels={}, value=i * 10, ts=T0 + 15 * i))
    samples.append(sample(labels={"b": "2", "a": "1"}, value=99.0, ts=T0 + 75))
    assert push(api, {"seq": 1, "sent_at": T0, "samples": samples}).status_code == 200
    payload = bytes(IngestBatch.objects.get().payload)
    stored = ingest.stored_body(payload)
    assert payload[:1] == ingest.PACKED
    assert stored["seq"] == 1 and stored["sent_at"] == T0 and "samples" not in stored
    assert sorted(len(column[2]) for column in ingest.stored_columns(payload)) == [1, 5, 5]
    assert filing.file_pass() == (1, 11, False)
    assert filed_values(agent, "cpu_usage_percent", {"a": "1", "b": "2"}) == [
        (T0 + 15 * i, float(i)) for i in range(5)] + [(T0 + 75, 99.0)]
    assert filed_values(agent, "load1", {}) == [(T0 + 15 * i, i * 10) for i in range(5)]
    agent_series = Series.objects.filter(configuration_item_id=agent.configuration_item_id)
    assert agent_series.count() == 2


@pytest.mark.parametrize(("samples", "path"), [
    # A bad sample of a series already seen in the batch: its labels were checked, its numbers are not.
    ([sample(), sample(), sample(value="x")], ["samples", "2", "value"]),
    ([sample(), sample(ts=math.inf)], ["samples", "1", "ts"]),
    # The same name with a label value that is not a string is another (unchecked) series.
    ([sample(labels={"cpu": "1"}), sample(labels={"cpu": 1})], ["samples", "1", "labels"]),
    ([sample(), sample(labels={"cpu": ["0"]})], ["samples", "1", "labels"]),
    ([sample(), sample(name=["cpu"])], ["samples", "1", "name"]),
    ([sample(), {"name": "up", "labels": {}, "value": 1.0}], ["samples", "1", "ts"]),
])
def test_a_bad_sample_after_good_ones_of_its_series_is_named(api, agent, samples, path):
    answer = push(api, {"seq": 1, "samples": samples})
    assert answer.status_code == 400, answer.content
    errors = answer.json()
    for key in path:
        errors = errors[key]
    assert IngestBatch.objects.count() == 0
    agent.refresh_from_db()
    assert agent.last_seq == 0 and agent.last_seen_at is None


def test_columns_beside_samples_are_checked_and_filed_with_them(api, agent):
    body = {"seq": 1, "samples": [sample()], "columns": [["disk_used_bytes", {}, [T0], [666.0]]]}
    assert push(api, body).status_code == 200
    assert bytes(IngestBatch.objects.get().payload)[:1] == b"{"  # stored as received
    assert filing.file_pass() == (1, 2, False)
    assert filed_values(agent, "disk_used_bytes", {}) == [(T0, 666.0)]


def test_bad_columns_beside_good_samples_refuse_the_whole_batch(api, agent):
    body = {"seq": 1, "samples": [sample()], "columns": [["evil", {}, [T0], ["666"]]]}
    answer = push(api, body)
    assert answer.status_code == 400
    assert answer.json() == {"columns": {"0": {"values": {"0": ["A number is required."]}}}}
    assert IngestBatch.objects.count() == 0


def test_a_batch_stored_as_received_before_this_change_is_still_filed(agent):
    body = {"seq": 9, "samples": [sample(value=7.0)]}
    IngestBatch.objects.create(agent=agent, seq=9, samples=1, payload=json.dumps(body).encode())
    assert filing.file_pass() == (1, 1, False)
    assert filed_values(agent, "cpu_usage_percent", {"cpu": "0"}) == [(T0, 7.0)]


def test_unchecked_columns_of_a_row_stored_before_they_were_a_format_are_never_filed(agent):
    body = {"seq": 9, "samples": [sample(value=7.0)], "columns": [["evil", {}, ["x"]]]}
    IngestBatch.objects.create(agent=agent, seq=9, samples=1, payload=json.dumps(body).encode())
    assert filing.file_pass() == (1, 1, False)
    assert list(Series.objects.values_list("name", flat=True)) == ["cpu_usage_percent"]


def test_an_agent_deleted_during_its_push_gets_nothing_filed(agent):
    body, stored = ingest.checked(json.dumps({"seq": 1, "samples": [sample()]}).encode())
    snapshot = Agent.objects.get(pk=agent.pk)
    agent.delete()
    # Stored (the push does not look at the agent's row again), and set aside by filing.
    services.accept_batch(snapshot, body, stored)
    assert filing.file_pass() == (1, 0, False)
    assert not IngestBatch.objects.filter(filed_at=None).exists()
    assert not Series.objects.exists()


@pytest.mark.parametrize("key", ["samples", "columns"])
def test_a_collector_sending_plain_samples_is_refused_on_the_fast_path(customer_a, raw, key):
    Agent.objects.create(customer=customer_a, name="collector", kind=AgentKind.COLLECTOR, key_hash=hash_token(raw))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    answer = push(client, {"seq": 1, key: [sample() if key == "samples" else column()]})
    assert answer.status_code == 400
    assert "samples" in answer.json()
    assert IngestBatch.objects.count() == 0


def _mutations(rng: random.Random) -> list:
    good = sample()
    return [good, {**good, "value": rng.choice(["1", None, True, math.nan, -math.inf, 2**1100, [1]])},
            {**good, "ts": rng.choice(["1", None, False, math.inf, {}])},
            {**good, "name": rng.choice(["", "9x", "a-b", "a" * 201, 5, None])},
            {**good, "labels": rng.choice([[], {"a": 1}, {"bad-key": "x"}, {"a": "x" * 201},
                                           {f"l{i}": "v" for i in range(33)}, None])},
            {k: v for k, v in good.items() if k != rng.choice(["name", "labels", "value", "ts"])},
            "sample", 7, {**good, "labels": {"cpu": str(rng.randint(0, 3))}, "value": rng.random()}]


def _checked_as_validated(body: dict) -> bytes | None:
    """`checked` answers a body as `validate` does: the same error, or the same body and what to
    store (returned; None for a refused body)."""
    raw = json.dumps(body, allow_nan=True).encode()
    try:
        expected = ingest.validate(ingest.parse(raw))
    except ingest.Invalid as exc:
        with pytest.raises(ingest.Invalid) as refused:
            ingest.checked(raw)
        assert refused.value.errors == exc.errors, body
        return None
    answered, stored = ingest.checked(raw)
    assert answered == expected
    return stored


def test_checked_answers_what_validate_answers_for_generated_bodies():
    rng = random.Random(7)
    for _round in range(3000):
        choices = _mutations(rng)
        samples = [rng.choice(choices[:1] * 6 + choices[-1:] * 6 + choices) for _ in range(rng.randint(0, 8))]
        body: dict = {"seq": rng.choice([1, 1, 1, 0, "1", 2**64]), "samples": samples}
        if rng.random() < 0.2:
            body["sent_at"] = rng.choice([T0, "now", math.nan])
        stored = _checked_as_validated(body)
        if stored is None:
            continue
        columns = ingest.stored_columns(stored)
        filed = sorted((name, tuple(sorted(labels.items())), t, v)
                       for name, labels, ts, values in columns for t, v in zip(ts, values, strict=True))
        sent = sorted((s["name"], tuple(sorted(s["labels"].items())), s["ts"], s["value"]) for s in samples)
        assert filed == sent, body


# --- the compact `columns` form ------------------------------------------------------------------

def column(name="cpu_usage_percent", labels=None, times=(T0, T0 + 15), values=(1.5, 2.5)):
    return [name, {"cpu": "0"} if labels is None else labels, list(times), list(values)]


def test_a_columns_batch_is_stored_packed_and_filed_as_sent(api, agent):
    raw = json.dumps({"seq": 4, "sent_at": T0, "columns": [column(), column("load1", {}, [T0], [3])]}).encode()
    answer = api.post(URL, data=raw, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"stored_up_to": 4}
    stored = IngestBatch.objects.get()
    assert bytes(stored.payload)[:1] == ingest.PACKED
    assert ingest.stored_columns(bytes(stored.payload)) == [column(), column("load1", {}, [T0], [3.0])]
    assert stored.samples == 3
    assert filing.file_pass() == (1, 3, False)
    assert filed_values(agent, "cpu_usage_percent", {"cpu": "0"}) == [(T0, 1.5), (T0 + 15, 2.5)]


@pytest.mark.parametrize(("columns", "path", "message"), [
    ([column(values=[1.5])], ["0", "values"], "As many values as times are required."),
    ([column(values=[1.5, True])], ["0", "values", "1"], "A number is required."),
    ([column(values=[1.5, math.nan])], ["0", "values", "1"], "The number must be finite."),
    ([column(times=[T0, "later"])], ["0", "times", "1"], "A number is required."),
    ([column(times=[], values=[])], ["0", "times"], "A non-empty list of numbers is required."),
    # Times equal to the series' before are not checked again, but true equals 1 and false 0.
    ([column(times=[1, 0], values=[1.0, 2.0]), column(times=[True, 0], values=[1.0, 2.0])], ["1", "times", "0"],
     "A number is required."),
    ([column(times=[1.0, 0.0], values=[1.0, 2.0]), column(times=[1.0, False], values=[1.0, 2.0])],
     ["1", "times", "1"], "A number is required."),
    ([column(), column(name="9lives")], ["1", "name"], "The name must match [a-zA-Z_:][a-zA-Z0-9_:]*."),
    ([column(labels={"cpu": 0})], ["0", "labels"], "Label values must be strings."),
    ([["cpu", {}, [T0]]], ["0", "non_field_errors"], "A series must be a list of its name, labels, times and values."),
    ({"cpu": [T0]}, [], 'Expected a list of items but got type "dict".'),
])
def test_a_bad_column_is_named_and_nothing_is_stored(api, agent, columns, path, message):
    answer = push(api, {"seq": 1, "columns": columns})
    assert answer.status_code == 400, answer.content
    errors = answer.json()["columns"]
    for key in path:
        errors = errors[key]
    assert errors == [message]
    assert IngestBatch.objects.count() == 0


def test_too_many_samples_in_columns_are_refused(api, agent):
    times = [T0 + i for i in range(ingest.MAX_SAMPLES // 2 + 1)]
    answer = push(api, {"seq": 1, "columns": [column(times=times, values=times), column(times=times, values=times)]})
    assert answer.status_code == 400
    assert answer.json() == {"samples": ["At most 10000 samples are allowed in one batch."]}
    assert IngestBatch.objects.count() == 0


def _column_mutations(rng: random.Random) -> list:
    good = column()
    return [good, good, [good[0], {"cpu": str(rng.randint(0, 3))}, [T0], [rng.random()]],
            [rng.choice(["", "9x", 5, None, ["a"]]), *good[1:]],
            [good[0], rng.choice([[], {"a": 1}, {"bad-key": "x"}, None]), *good[2:]],
            [*good[:2], rng.choice([[], [T0, None], "T0", [T0, True], [math.inf, T0]]), good[3]],
            [*good[:2], rng.choice([[0, 1], [False, True], [0.0, True], [False, 1.0]]), [1.0, 2.0]],
            [*good[:3], rng.choice([[1.0], [1.0, "2"], [1.0, False], [1.0, math.nan], [1.0, 2**70], [1.0, 10**400]])],
            good[:3], "series", 7]


def test_the_columns_fast_path_answers_what_validate_answers_for_generated_bodies():
    rng = random.Random(11)
    for _round in range(3000):
        choices = _column_mutations(rng)
        body: dict = {"seq": rng.choice([1, 1, 1, 0, "1", 2**64]),
                      "columns": [rng.choice(choices) for _ in range(rng.randint(0, 6))]}
        if rng.random() < 0.2:
            body["sent_at"] = rng.choice([T0, "now", math.nan, True])
        stored = _checked_as_validated(body)
        if stored is not None:
            assert ingest.stored_columns(stored) == body["columns"]


# --- back-pressure --------------------------------------------------------------------------------

def _backlog(agent, *, unfiled_age_s: float, filed_age_s: float | None) -> None:
    import datetime as dt

    from django.utils import timezone

    now = timezone.now()
    unfiled = IngestBatch.objects.create(agent=agent, seq=100, samples=1, payload=b"{}")
    IngestBatch.objects.filter(pk=unfiled.pk).update(received_at=now - dt.timedelta(seconds=unfiled_age_s))
    if filed_age_s is not None:
        IngestBatch.objects.create(agent=agent, seq=99, samples=1, payload=b"",
                                   filed_at=now - dt.timedelta(seconds=filed_age_s))


def test_a_push_waits_while_a_working_filer_is_behind(api, agent):
    _backlog(agent, unfiled_age_s=services.BACKLOG_SECONDS + 1, filed_age_s=1)
    answer = push(api, {"seq": 1, "columns": [column()]})
    assert answer.status_code == 429, answer.content
    assert answer["Retry-After"] == "1"
    assert "filed more slowly" in answer.json()["detail"]
    assert not IngestBatch.objects.filter(seq=1).exists()
    agent.refresh_from_db()
    assert agent.last_seq == 0


def test_a_push_is_stored_when_the_filer_keeps_up(api, agent):
    _backlog(agent, unfiled_age_s=0, filed_age_s=1)  # just pushed: within BACKLOG_SECONDS
    assert push(api, {"seq": 1, "columns": [column()]}).status_code == 200
    assert IngestBatch.objects.filter(seq=1).exists()


def test_a_push_is_stored_when_no_filer_runs_at_all(api, agent):
    # Nothing filed for longer than FILER_ALIVE_SECONDS: the worker is down, the batches wait for it.
    _backlog(agent, unfiled_age_s=600, filed_age_s=services.FILER_ALIVE_SECONDS + 60)
    assert push(api, {"seq": 1, "columns": [column()]}).status_code == 200
    assert IngestBatch.objects.filter(seq=1).exists()


# --- the packed stored form ----------------------------------------------------------------------

def test_a_packed_row_keeps_every_number_exactly(api, agent):
    values = [0.1, -0.0, 1e308, -1e-308, 2**53, -(2**63), 12345678.25, 3]
    times = [T0 + i for i in range(len(values))]
    columns = [column("node_load1", {}, times, values)] + [
        column(f"metric_{i}", {"device": f"sd{i}"}, [T0 + 15 * j for j in range(10)], [j * 1.25 for j in range(10)])
        for i in range(50)]
    raw = json.dumps({"seq": 1, "columns": columns}).encode()
    assert api.post(URL, data=raw, content_type="application/json").status_code == 200
    payload = bytes(IngestBatch.objects.get().payload)
    assert ingest.stored_columns(payload)[0] == ["node_load1", {}, times, [float(v) for v in values]]
    filing.file_pass()
    assert filed_values(agent, "node_load1", {}) == [(t, float(v)) for t, v in zip(times, values, strict=True)]


def test_series_sharing_their_times_store_them_once_and_are_filed_alike(api, agent):
    shared = [T0 + 15 * j for j in range(10)]
    columns = [column(f"metric_{i}", {}, list(shared), [i + j / 10 for j in range(10)]) for i in range(3)]
    columns.insert(1, column("other", {}, [t + 1 for t in shared], [9.0] * 10))  # the run is broken once
    columns.append(column("back", {}, list(reversed(shared)), [float(j) for j in range(10)]))  # sorted, then shared
    raw = json.dumps({"seq": 1, "columns": columns}).encode()
    assert api.post(URL, data=raw, content_type="application/json").status_code == 200
    payload = bytes(IngestBatch.objects.get().payload)
    # Times written for metric_0, other and metric_1 only: 3 x 10 + 5 x 10 doubles and the header.
    header = int.from_bytes(payload[1:5], "little")
    assert len(payload) == 5 + header + 8 * (3 * 10 + 5 * 10)
    stored = ingest.stored_columns(payload)
    assert [c[2] for c in stored] == [shared, [t + 1 for t in shared], shared, shared, shared]
    assert stored[4][3] == [float(9 - j) for j in range(10)]
    filing.file_pass()
    assert filed_values(agent, "metric_2", {}) == [(t, 2 + j / 10) for j, t in enumerate(shared)]
    assert filed_values(agent, "back", {}) == [(t, float(9 - j)) for j, t in enumerate(shared)]


def test_a_series_sent_out_of_time_order_is_filed_in_order(api, agent):
    body = {"seq": 1, "columns": [column(times=[T0 + 30, T0, T0 + 15], values=[3.0, 1.0, 2.0])]}
    assert push(api, body).status_code == 200
    assert filing.file_pass() == (1, 3, False)
    assert filed_values(agent, "cpu_usage_percent", {"cpu": "0"}) == [(T0, 1.0), (T0 + 15, 2.0), (T0 + 30, 3.0)]


def test_rows_stored_as_json_columns_before_packing_are_still_filed(agent):
    # What checked() stored until rows were packed: the columns marker and the JSON body.
    body = {"seq": 9, "sent_at": T0, "columns": [column(values=[4.0, 5.0])]}
    IngestBatch.objects.create(agent=agent, seq=9, samples=2, payload=ingest.COLUMNS + json.dumps(body).encode())
    assert filing.file_pass() == (1, 2, False)
    assert filed_values(agent, "cpu_usage_percent", {"cpu": "0"}) == [(T0, 4.0), (T0 + 15, 5.0)]
