import pytest
from django.utils import timezone

from opsdesk.core import services
from opsdesk.core.models import Heartbeat

pytestmark = pytest.mark.django_db


def test_healthz_is_503_without_a_worker_heartbeat(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["broker"]["status"] == "ok"
    assert body["components"]["worker"]["status"] == "missing"


def test_healthz_is_200_with_a_fresh_heartbeat(client):
    services.beat("worker", "test")
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"


def test_a_stale_heartbeat_is_reported(client, settings):
    Heartbeat.objects.create(name="worker", at=timezone.now() - timezone.timedelta(hours=1))
    body = client.get("/healthz").json()
    assert body["components"]["worker"]["status"] == "stale"


def test_the_heartbeat_task_writes_a_heartbeat():
    from opsdesk.core.tasks import heartbeat

    heartbeat.delay()
    assert Heartbeat.objects.filter(name="worker").exists()


def test_metrics_are_prometheus_text(client, customer_a):
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "opsdesk_up 1.0" in text and "opsdesk_customers 1.0" in text and "process_resident_memory_bytes" in text
