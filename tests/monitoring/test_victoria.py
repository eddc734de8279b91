"""The Prometheus-compatible metric store against a real VictoriaMetrics (Debian's
`victoria-metrics`, started once per test session on a free port with a scratch data directory):
a host agent's pushed samples go from the push straight to it (forwarding.py), once, and come
back from store.query with their values and labels, while filing keeps the series' last values
from the digest; a store that cannot be reached or refuses makes the push answer 503 with nothing
stored, and the filer's own writes (check results) stay unfiled then."""

from __future__ import annotations

import base64
import http.server
import itertools
import json
import threading
import time

import cramjam
import httpx
import orjson
import pytest
from django.db import connection
from rest_framework.test import APIClient

from opsdesk.core.models.tokens import new_raw_token
from opsdesk.monitoring import filing, forwarding, ingest, queue_insert, services
from opsdesk.monitoring.models import Chunk, IngestBatch, Series
from opsdesk.monitoring.store import Points, _store_for, get_store
from opsdesk.monitoring.store.victoria import MetricStoreError, VictoriaMetricsStore
from tests.factories import make_agent, make_rule
from tests.victoria import flush as _flush
from tests.victoria import free_port as _free_port

# One VictoriaMetrics per session: keep this module's tests on one xdist worker.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("victoria-metrics")]

URL = "/api/monitoring/push/"


_series_ids_from = itertools.count(1)


@pytest.fixture
def metrics_url(victoria, settings, db):
    """opsdesk pointed at the VictoriaMetrics, emptied first. On SQLite the ids of rolled-back
    rows come again, and VictoriaMetrics may drop samples of a series (the same labels) written
    soon after the series was deleted: each test's series ids start apart from the others'."""
    answer = httpx.post(f"{victoria}/api/v1/admin/tsdb/delete_series", data={"match[]": '{__name__=~".+"}'},
                        timeout=10)
    assert answer.status_code == 204, answer.text
    if connection.vendor == "sqlite":  # PostgreSQL's sequences are not rolled back
        table = Series._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
            cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)",
                           [table, next(_series_ids_from) * 100_000])
    settings.OPSDESK_METRICS_URL = victoria
    _store_for.cache_clear()
    yield victoria
    _store_for.cache_clear()


@pytest.fixture
def store_at(settings):
    """Point opsdesk at another metric store for the test: `store_at(url)`."""

    def point(url: str) -> None:
        settings.OPSDESK_METRICS_URL = url
        _store_for.cache_clear()

    yield point
    _store_for.cache_clear()


@pytest.fixture(autouse=True)
def forget_series_ids():
    """The filer keeps series ids in memory; rows of earlier tests were rolled back (and SQLite
    gives their ids out again)."""
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
    answer = api.post(URL, data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 200, answer.content
    return answer


def _base() -> float:
    """A recent whole five minutes, so buckets are predictable and within any retention."""
    now = time.time()
    return now - now % 300 - 3600


def test_pushed_samples_come_back_with_their_values_and_labels(metrics_url, api, agent):
    assert isinstance(get_store(), VictoriaMetricsStore)
    base = _base()
    samples = [{"name": "cpu_usage_percent", "labels": {}, "value": float(i), "ts": base + 20 * i}
               for i in range(30)]
    samples += [{"name": "filesystem_used_ratio", "labels": {"mountpoint": "/", "ci": "spoofed"},
                 "value": 0.5 + i / 100, "ts": base + 20 * i + 0.25} for i in range(30)]
    push(api, {"seq": 1, "samples": samples[:40]})
    push(api, {"seq": 2, "samples": samples[40:]})
    # In the store already; the queue holds each batch's digest (a series' newest sample: no
    # rule watches these metrics), counted as the samples it stands for.
    assert filing.file_pending() == 60
    assert not IngestBatch.objects.filter(filed_at=None).exists()
    assert Chunk.objects.count() == 0  # the samples went to VictoriaMetrics, not the database
    cpu = Series.objects.get(name="cpu_usage_percent")
    disk = Series.objects.get(name="filesystem_used_ratio")
    assert (cpu.last_ts, cpu.last_value) == (base + 580, 29.0)
    _flush(metrics_url)

    # Raw resolution (choose_step): buckets of 15 s, here one sample each.
    data = get_store().query([(cpu.id, cpu.name, cpu.labels), (disk.id, disk.name, disk.labels)],
                             base, base + 600)
    assert set(data) == {cpu.id, disk.id}
    assert data[cpu.id].step == 15
    assert data[cpu.id].ts == [base + 20 * i - (20 * i) % 15 for i in range(30)]
    assert data[cpu.id].avg == data[cpu.id].min == data[cpu.id].max == [float(i) for i in range(30)]
    assert data[disk.id].avg == pytest.approx([0.5 + i / 100 for i in range(30)])

    # Five-minute buckets, aligned as the SQL store's rollups: [base, base + 300) holds 15 samples.
    data = get_store().query([(cpu.id, cpu.name, cpu.labels)], base, base + 600, step=300)
    assert data[cpu.id].step == 300
    assert data[cpu.id].ts == [base, base + 300]
    assert data[cpu.id].avg == [7.0, 22.0]
    assert data[cpu.id].min == [0.0, 15.0]
    assert data[cpu.id].max == [14.0, 29.0]

    averages = get_store().averages([(cpu.id, cpu.name, cpu.labels), (disk.id, disk.name, disk.labels)],
                                    base - 1, base + 600)
    assert averages[cpu.id] == pytest.approx(14.5)
    assert averages[disk.id] == pytest.approx(0.645)

    # The labels: the name, the series' own, and opsdesk's (a series' own `ci` is kept aside).
    answer = httpx.get(f"{metrics_url}/api/v1/series", params={"match[]": f'{{opsdesk_series="{disk.id}"}}',
                                                                "start": base - 60, "end": base + 660})
    assert answer.json()["data"] == [{
        "__name__": "filesystem_used_ratio", "mountpoint": "/", "exported_ci": "spoofed",
        "opsdesk_series": str(disk.id), "ci": str(agent.configuration_item_id), "customer": str(agent.customer_id)}]


def test_a_series_with_no_samples_in_range_answers_empty(metrics_url, api):
    base = _base()
    push(api, {"seq": 1, "samples": [{"name": "up", "labels": {}, "value": 1, "ts": base}]})
    filing.file_pending()
    series = Series.objects.get()
    _flush(metrics_url)
    data = get_store().query([(series.id, series.name, {}), (series.id + 1000, "other", {})],
                             base + 1000, base + 2000)
    assert data[series.id].ts == [] and data[series.id + 1000].avg == []


def _count(url: str, selector: str, at: float) -> int:
    _flush(url)
    answer = httpx.get(f"{url}/api/v1/query", params={"query": f"sum(count_over_time({selector}[2h]))",
                                                      "time": f"{at:.3f}", "nocache": "1"})
    result = answer.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def test_a_resent_batch_is_forwarded_once(metrics_url, api, agent):
    base = _base()
    columns = [["load1", {}, [base + 15 * i for i in range(10)], [float(i) for i in range(10)]]]
    first = push(api, {"seq": 7, "columns": columns}).json()
    # The same batch again (its answer was lost), in this process and after the process's
    # memory of it went (a restart, another web process): answered alike, sent once.
    assert push(api, {"seq": 7, "columns": columns}).json() == first == {"stored_up_to": 7}
    forwarding.forget()
    assert push(api, {"seq": 7, "columns": columns}).json() == first
    assert IngestBatch.objects.filter(agent=agent).count() == 1
    assert _count(metrics_url, "load1", base + 300) == 10
    # The next batch is new without a look-up, and a batch after a gap is looked up and new.
    push(api, {"seq": 8, "columns": [["load1", {}, [base + 150], [1.0]]]})
    push(api, {"seq": 12, "columns": [["load1", {}, [base + 165], [2.0]]]})
    assert _count(metrics_url, "load1", base + 300) == 12
    assert sorted(IngestBatch.objects.values_list("seq", flat=True)) == [7, 8, 12]


def test_a_batch_of_a_known_layout_is_read_in_c_and_lands_alike(metrics_url, api, agent, monkeypatch):
    pytest.importorskip("opsdesk.monitoring._pushscan", reason="the C accelerator was not built (no C compiler "
                        "or no Python headers when the package was installed)")
    written = []
    monkeypatch.setattr(forwarding, "scanned_request", lambda *args: written.append(
        forwarding._pushscan.write_request(args[0], args[1].columns, args[2].heads)) or written[-1])
    base = _base()

    def batch(seq: int, first: float, values: list) -> dict:
        times = [first + 15 * i for i in range(len(values))]
        return {"seq": seq, "sent_at": time.time(),
                "columns": [["load1", {}, times, values], ["disk_used", {"mountpoint": "/"}, times[::-1], values]]}

    # The layout's first batch: the Python way, which keeps it (its text: the agent writes with orjson).
    assert api.post(URL, data=orjson.dumps(batch(1, base, [1, 2.5, 3])), content_type="application/json").json() \
        == {"stored_up_to": 1}
    assert written == []
    second = (b'{"seq":2,"columns":[["load1",{},[%d,%d],[4,-5e-1]],["disk_used",{"mountpoint":"/"},[%d,%d],[6E2,7]]]}'
              % (base + 45, base + 60, base + 60, base + 45))
    for _time in (1, 2):  # the second time, a re-send (its answer was lost): known, in C as in Python
        answer = api.post(URL, data=second, content_type="application/json")
        assert answer.status_code == 200 and answer.json() == {"stored_up_to": 2}
        assert len(written) == 1  # the C way, once
    assert filing.file_pending() == 10
    load, disk = Series.objects.get(name="load1"), Series.objects.get(name="disk_used")
    assert (load.last_ts, load.last_value) == (base + 60, -0.5)
    assert (disk.last_ts, disk.last_value) == (base + 60, 600.0)  # the greatest time, not the last written
    _flush(metrics_url)
    data = get_store().query([(load.id, load.name, load.labels), (disk.id, disk.name, disk.labels)], base, base + 120)
    assert data[load.id].avg == [1.0, 2.5, 3.0, 4.0, -0.5]
    assert data[disk.id].avg == [3.0, 2.5, 1.0, 7.0, 600.0]
    assert _count(metrics_url, '{__name__=~"load1|disk_used"}', base + 300) == 10


def test_the_digest_carries_every_sample_of_a_watched_metric(metrics_url, api, agent):
    from opsdesk.monitoring.models import Alert

    make_rule(agent.customer, item=agent.configuration_item, metric="cpu_usage_percent", threshold=90.0)
    base = _base()
    times = [base + 15 * i for i in range(10)]
    push(api, {"seq": 1, "columns": [["cpu_usage_percent", {}, times, [10.0] * 4 + [95.0] + [10.0] * 5],
                                     ["load1", {}, times, [1.0] * 10]]})
    payload = IngestBatch.objects.get().payload
    body = ingest.stored_body(payload)
    assert body[ingest.IN_STORE] is True
    assert [(name, len(ts)) for name, _labels, ts, _values in ingest.stored_columns(payload)] == [
        ("cpu_usage_percent", 10)]
    load = Series.objects.get(name="load1")
    assert ingest.latest_samples(body) == [(load.id, times[-1], 1.0)]
    assert filing.file_pending() == 20
    assert (load.__class__.objects.get(id=load.id).last_ts) == times[-1]
    # The rule saw the breach in the middle of the batch, though the series' last value is fine.
    alert = Alert.objects.get()
    assert alert.started_at.timestamp() == pytest.approx(times[4])
    assert Series.objects.get(name="cpu_usage_percent").last_value == 10.0
    assert _count(metrics_url, '{__name__=~"cpu_usage_percent|load1"}', base + 300) == 20


def test_an_unreachable_store_refuses_the_push_and_stores_nothing(store_at, api, agent):
    store_at(f"http://opsdesk:secret-password@127.0.0.1:{_free_port()}")
    answer = api.post(URL, data=json.dumps({"seq": 1, "samples": [
        {"name": "up", "labels": {}, "value": 1, "ts": _base()}]}), content_type="application/json")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    detail = answer.json()["detail"]
    assert "127.0.0.1" in detail and "secret-password" not in detail
    assert not IngestBatch.objects.exists()
    ok, note = get_store().health()
    assert not ok and "secret-password" not in note
    assert "secret-password" not in repr(get_store())


def test_refusals_are_logged_once_a_minute_with_how_many(store_at, api, caplog, monkeypatch):
    from opsdesk.monitoring.api import views

    monkeypatch.setattr(views, "_refusals", {"logged_at": -1e9, "since": 0})
    store_at(f"http://127.0.0.1:{_free_port()}")
    for seq in (1, 2, 3):
        answer = api.post(URL, data=json.dumps({"seq": seq, "samples": [
            {"name": "up", "labels": {}, "value": 1, "ts": _base()}]}), content_type="application/json")
        assert answer.status_code == 503
    logged = [r.getMessage() for r in caplog.records if r.name == "opsdesk.monitoring.api.views"]
    assert len(logged) == 1 and "(0 more refused since the last message)" in logged[0]
    monkeypatch.setattr(views, "REFUSALS_LOGGED_EVERY_SECONDS", 0.0)
    api.post(URL, data=json.dumps({"seq": 4, "samples": [{"name": "up", "labels": {}, "value": 1, "ts": _base()}]}),
             content_type="application/json")
    logged = [r.getMessage() for r in caplog.records if r.name == "opsdesk.monitoring.api.views"]
    assert len(logged) == 2 and "(2 more refused since the last message)" in logged[1]


def test_the_refusal_is_in_the_language_asked_for(store_at, api):
    store_at(f"http://127.0.0.1:{_free_port()}")
    answer = api.post(URL, data=json.dumps({"seq": 1, "samples": [
        {"name": "up", "labels": {}, "value": 1, "ts": _base()}]}), content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert answer.status_code == 503
    assert "指标存储" in answer.json()["detail"]


def test_an_error_answer_refuses_the_push(victoria, store_at, api):
    # A stray path prefix: VictoriaMetrics answers 400 "unsupported path".
    store_at(f"{victoria}/not-here")
    answer = api.post(URL, data=json.dumps({"seq": 1, "samples": [
        {"name": "up", "labels": {}, "value": 1, "ts": _base()}]}), content_type="application/json")
    assert answer.status_code == 503
    assert "answered 400" in answer.json()["detail"]
    assert not IngestBatch.objects.exists()


def test_a_batch_being_answered_is_refused_until_it_is_done(agent):
    with forwarding.claim(agent.pk, 5) as new:
        assert new
        with pytest.raises(forwarding.Busy), forwarding.claim(agent.pk, 5):
            pass
        with forwarding.claim(agent.pk, 6):  # another batch is not held up
            pass
    with forwarding.claim(agent.pk, 5) as new:
        assert new


class _Recording(http.server.BaseHTTPRequestHandler):
    """A store that takes every request (204) and keeps it."""

    received: list[tuple[str, dict, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, dict(self.headers), body))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_push_reaches_the_store_as_the_filers_remote_write_would(store_at, api, agent):
    """The exact request a push sends: remote write to /api/v1/write, the same WriteRequest the
    filer's `write` sends for the same samples (in a snappy block that stores it uncompressed),
    the Python way and the C way alike."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store_at(f"http://user:secret@127.0.0.1:{server.server_address[1]}/prefix")
    _Recording.received.clear()
    try:
        base = _base()
        push(api, {"seq": 1, "columns": [["load1", {"cpu": "0"}, [base, base + 15], [1.0, 2.0]]]})
        push(api, {"seq": 2, "columns": [["load1", {"cpu": "0"}, [base + 30], [3.0]]]})  # the C way, where built
        series = Series.objects.get()
        for (path, headers, body), (ts, values) in zip(_Recording.received, [([base, base + 15], [1.0, 2.0]),
                                                                             ([base + 30], [3.0])], strict=True):
            assert path == "/prefix/api/v1/write"
            assert headers["Content-Encoding"] == "snappy" and headers["Content-Type"] == "application/x-protobuf"
            assert headers["Authorization"] == "Basic " + base64.b64encode(b"user:secret").decode()
            (expected, count), = get_store().encode([Points(
                series_id=series.id, item_id=agent.configuration_item_id, customer_id=agent.customer_id,
                name="load1", labels={"cpu": "0"}, ts=ts, values=values)])
            assert bytes(cramjam.snappy.decompress_raw(body)) == expected and count == len(ts)
        # The batches' digests say their samples are in the store: filing writes none of them again.
        assert all(ingest.IN_STORE in ingest.stored_body(row) for row in
                   IngestBatch.objects.values_list("payload", flat=True))
        filing.file_pending()
        assert len(_Recording.received) == 2
    finally:
        server.shutdown()


def test_a_resent_sample_changes_nothing(metrics_url):
    base = _base()
    points = [Points(series_id=901, item_id=1, customer_id=1, name="m", labels={}, ts=[base, base + 1],
                     values=[1.0, 3.0])]
    store = get_store()
    store.write(points)
    store.write(points)  # at least once: the filer may send a pass again
    _flush(metrics_url)
    data = store.query([(901, "m", {})], base, base + 299, step=300)
    assert (data[901].avg, data[901].min, data[901].max) == ([2.0], [1.0], [3.0])


def _queued(agent) -> None:
    """A batch the filer writes to the store (what a collector's check results and the samples
    of stores without an import take): queued as the push's non-forwarding way queues it."""
    services.accept_batch(agent, *ingest.checked(json.dumps(
        {"seq": 1, "samples": [{"name": "up", "labels": {}, "value": 1, "ts": _base()}]}).encode()))


def test_an_unreachable_store_leaves_the_filers_batches_unfiled(store_at, agent):
    store_at(f"http://opsdesk:secret-password@127.0.0.1:{_free_port()}")
    _queued(agent)
    with pytest.raises(MetricStoreError) as caught:
        filing.file_pass()
    assert "secret-password" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)
    # Nothing half-written: the series rows made in the pass went with its transaction.
    assert IngestBatch.objects.get().filed_at is None
    assert Series.objects.count() == 0


def test_an_error_answer_leaves_the_filers_batches_unfiled(victoria, store_at, agent):
    store_at(f"{victoria}/not-here")
    _queued(agent)
    with pytest.raises(MetricStoreError, match="answered 400"):
        filing.file_pass()
    assert IngestBatch.objects.get().filed_at is None
    assert Series.objects.count() == 0


def test_health(victoria):
    ok, note = VictoriaMetricsStore(victoria).health()
    assert ok, note
    ok, note = VictoriaMetricsStore(f"http://127.0.0.1:{_free_port()}").health()
    assert not ok and "unreachable" in note


def test_healthz_reports_the_metric_store(metrics_url, client, settings):
    from unittest.mock import ANY

    from opsdesk.core import services as core_services

    core_services.beat("worker", "test")
    core_services.beat("collector", "test")
    body = client.get("/healthz").json()
    assert body["components"]["metric_store"] == {"status": "ok", "backend": "victoria", "detail": ANY}
    settings.OPSDESK_METRICS_URL = f"http://127.0.0.1:{_free_port()}"
    _store_for.cache_clear()
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["components"]["metric_store"]["status"] == "error"


def test_outside_a_transaction_the_digest_waits_and_a_resend_meanwhile_is_known(metrics_url, api, agent, later,
                                                                                monkeypatch):
    # As a push outside a transaction (a server's request: tests/agent/test_live.py pushes so);
    # here the test's transaction holds the rows the test inserts.
    monkeypatch.setattr(services, "_digest_may_wait", lambda alias: True)
    base = _base()
    columns = [["load1", {}, [base + 15 * i for i in range(10)], [float(i) for i in range(10)]]]
    assert push(api, {"seq": 3, "columns": columns}).json() == {"stored_up_to": 3}
    # The samples are in the store when the push answers; the digest's row waits for the writer.
    assert _count(metrics_url, "load1", base + 300) == 10
    assert later.wakes == 1 and not IngestBatch.objects.exists()
    forwarding.forget()  # a re-send this process does not remember: known by the row that waits
    assert push(api, {"seq": 3, "columns": columns}).json() == {"stored_up_to": 3}
    assert later.wakes == 1
    assert _count(metrics_url, "load1", base + 300) == 10
    assert queue_insert.flush_later() == 1
    filing.file_pending()  # (the flush woke the filer: in tests it may have filed it already)
    assert IngestBatch.objects.get().filed_at is not None
    assert Series.objects.get(name="load1").last_value == 9.0


def test_the_digests_of_an_agents_batches_in_a_row_wait_as_one_row(metrics_url, api, agent, later, monkeypatch):
    pytest.importorskip("opsdesk.monitoring._pushscan", reason="the C accelerator was not built (no C compiler "
                        "or no Python headers when the package was installed)")
    monkeypatch.setattr(services, "_digest_may_wait", lambda alias: True)
    base = _base()

    def send(seq: int, values: list[float], names=("load1", "load5")) -> dict:
        times = [base + 15 * (seq * 10 + i) for i in range(len(values))]
        body = {"seq": seq, "columns": [[name, {}, times, values] for name in names]}
        return api.post(URL, data=orjson.dumps(body), content_type="application/json").json()

    assert send(1, [1.0, 2.0]) == {"stored_up_to": 1}  # the layout's first: the Python way, a row of its own
    for seq in (2, 3, 4):  # read in C: one row, merged
        assert send(seq, [float(seq), seq + 0.5]) == {"stored_up_to": seq}
    assert len(queue_insert._later) == 2
    # Re-sends of merged batches, in this process and after it forgot them: known by the waiting row.
    forwarding.forget()
    assert send(3, [9.0, 9.0]) == {"stored_up_to": 3}
    assert send(2, [9.0, 9.0]) == {"stored_up_to": 2}
    assert send(5, [5.0, 5.5], names=("load1", "load15")) == {"stored_up_to": 5}  # another layout
    assert queue_insert.flush_later() == 3
    rows = list(IngestBatch.objects.order_by("seq").values_list("seq", "samples"))
    assert rows == [(1, 4), (4, 12), (5, 4)]
    # After they went in, a re-send of a merged batch is known by the row of a later one.
    forwarding.forget()
    assert send(3, [9.0, 9.0]) == {"stored_up_to": 3}
    assert IngestBatch.objects.count() == 3
    filing.file_pending()
    last = dict(Series.objects.values_list("name", "last_value"))
    assert last == {"load1": 5.5, "load5": 4.5, "load15": 5.5}
    assert _count(metrics_url, '{__name__=~"load.*"}', base + 1000) == 4 + 12 + 4
