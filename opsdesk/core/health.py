"""/healthz (database, broker, worker heartbeat) and Prometheus /metrics."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:
        return {"status": "error", "error": str(exc)[:200]}


def check_broker() -> dict:
    from opsdesk.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_type
        return {"status": "ok", "transport": str(transport)}
    except Exception as exc:
        return {"status": "error", "error": str(exc)[:200]}


def check_worker() -> dict:
    from opsdesk.core.models import Heartbeat

    try:
        beat = Heartbeat.objects.filter(name="worker").first()
    except Exception as exc:
        return {"status": "error", "error": str(exc)[:200]}
    if beat is None:
        return {"status": "missing"}
    age = (timezone.now() - beat.at).total_seconds()
    limit = settings.WORKER_HEARTBEAT_SECONDS * 3
    return {"status": "ok" if age <= limit else "stale", "age_s": round(age, 1), "detail": beat.detail}


@never_cache
def healthz(request):
    components = {"database": check_database(), "broker": check_broker(), "worker": check_worker()}
    healthy = all(c["status"] == "ok" for c in components.values())
    return JsonResponse({"status": "ok" if healthy else "error", "components": components},
                        status=200 if healthy else 503)


class OpsdeskCollector:
    """Figures read from the database at scrape time; apps add theirs by registration."""

    extra: list = []

    def collect(self):
        from opsdesk.core.models import Customer, Heartbeat

        # One opsdesk_up sample either way: 0 and nothing else when the database does not answer.
        if check_database()["status"] != "ok":
            yield GaugeMetricFamily("opsdesk_up", "1 when the database answers", value=0)
            return
        yield GaugeMetricFamily("opsdesk_up", "1 when the database answers", value=1)
        yield GaugeMetricFamily("opsdesk_customers", "Customers", value=Customer.objects.count())
        ages = GaugeMetricFamily("opsdesk_heartbeat_age_seconds", "Seconds since a background process "
                                 "last reported", labels=["process"])
        now = timezone.now()
        for beat in Heartbeat.objects.all():
            ages.add_metric([beat.name], (now - beat.at).total_seconds())
        yield ages
        yield GaugeMetricFamily("opsdesk_queue_depth", "Tasks waiting in the broker", value=queue_depth())
        for func in self.extra:
            yield from func()


def queue_depth() -> float:
    from opsdesk.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        import os

        return float(len(os.listdir(folder)))
    try:
        with app.connection_for_read() as conn:
            with conn.channel() as channel:
                return float(channel.queue_declare("celery", passive=True).message_count)
    except Exception:
        return float("nan")


_registry = CollectorRegistry()
ProcessCollector(registry=_registry)
PlatformCollector(registry=_registry)
_registry.register(OpsdeskCollector())


@never_cache
def metrics(request):
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
