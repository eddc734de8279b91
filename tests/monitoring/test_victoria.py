"""The Prometheus-compatible metric store against a real VictoriaMetrics (Debian's
`victoria-metrics`, started once per test session on a free port with a scratch data directory):
pushed batches go through the push API and the filer, and come back from store.query with their
values and labels; a store that cannot be reached leaves the batches unfiled and nothing written."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import httpx
import pytest
from rest_framework.test import APIClient

from opsdesk.core.models.tokens import new_raw_token
from opsdesk.monitoring import filing
from opsdesk.monitoring.models import Chunk, IngestBatch, Series
from opsdesk.monitoring.store import Points, _store_for, get_store
from opsdesk.monitoring.store.victoria import MetricStoreError, VictoriaMetricsStore
from tests.factories import make_agent

# One VictoriaMetrics per session: keep this module's tests on one xdist worker.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("victoria-metrics")]

URL = "/api/monitoring/push/"
BINARY = "victoria-metrics"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def victoria():
    """The base URL of a VictoriaMetrics of our own."""
    binary = shutil.which(BINARY) or next((p for p in (f"/usr/bin/{BINARY}",) if os.path.exists(p)), None)
    if binary is None:
        pytest.fail(f"{BINARY} is not installed: install the Debian package `victoria-metrics` "
                    "(make test-deps does)", pytrace=False)
    data = tempfile.mkdtemp(prefix="opsdesk-test-vm-")
    port = _free_port()
    log = open(f"{data}/vm.log", "wb")
    proc = subprocess.Popen(
        [binary, f"-storageDataPath={data}/data", f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y",
         "-search.latencyOffset=0s", "-loggerLevel=WARN"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{BINARY} exited with {proc.returncode}: {open(f'{data}/vm.log').read()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{BINARY} did not answer /health within 30 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


def _flush(url: str) -> None:
    """Make what was written searchable now (VictoriaMetrics buffers new samples for a second or two)."""
    assert httpx.get(f"{url}/internal/force_flush", timeout=10).status_code == 200


@pytest.fixture
def metrics_url(victoria, settings):
    """opsdesk pointed at the VictoriaMetrics, emptied first (ids of rolled-back rows come again)."""
    answer = httpx.post(f"{victoria}/api/v1/admin/tsdb/delete_series", data={"match[]": '{__name__=~".+"}'},
                        timeout=10)
    assert answer.status_code == 204, answer.text
    settings.OPSDESK_METRICS_URL = victoria
    _store_for.cache_clear()
    yield victoria
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


def test_an_unreachable_store_leaves_the_batches_unfiled(settings, api):
    settings.OPSDESK_METRICS_URL = f"http://opsdesk:secret-password@127.0.0.1:{_free_port()}"
    _store_for.cache_clear()
    try:
        push(api, {"seq": 1, "samples": [{"name": "up", "labels": {}, "value": 1, "ts": _base()}]})
        with pytest.raises(MetricStoreError) as caught:
            filing.file_pass()
        assert "secret-password" not in str(caught.value)
        assert "127.0.0.1" in str(caught.value)
        # Nothing half-written: the series rows made in the pass went with its transaction.
        assert IngestBatch.objects.get().filed_at is None
        assert Series.objects.count() == 0
        ok, note = get_store().health()
        assert not ok and "secret-password" not in note
        assert "secret-password" not in repr(get_store())
    finally:
        _store_for.cache_clear()


def test_an_error_answer_leaves_the_batches_unfiled(victoria, settings, api):
    # A stray path prefix: VictoriaMetrics answers 400 "unsupported path".
    settings.OPSDESK_METRICS_URL = f"{victoria}/not-here"
    _store_for.cache_clear()
    try:
        push(api, {"seq": 1, "samples": [{"name": "up", "labels": {}, "value": 1, "ts": _base()}]})
        with pytest.raises(MetricStoreError, match="answered 400"):
            filing.file_pass()
        assert IngestBatch.objects.get().filed_at is None
        assert Series.objects.count() == 0
    finally:
        _store_for.cache_clear()


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
