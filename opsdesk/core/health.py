"""/healthz and Prometheus /metrics, both fed by the registry.

Core registers its health checks (database, broker, worker heartbeat, data disk) and its /metrics
figures here, at import (opsdesk/core/registrations.py imports this module); other apps add
theirs with `registry.add_health_check(name, check)` and `registry.add_metrics(collect)`.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from opsdesk.core import registry

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)


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


def check_heartbeat(name: str, every_seconds: float) -> dict:
    """A background process's heartbeat (services.beat): "stale" after three missed beats."""
    from opsdesk.core.models import Heartbeat

    try:
        beat = Heartbeat.objects.filter(name=name).first()
    except Exception as exc:
        return {"status": "error", "error": str(exc)[:200]}
    if beat is None:
        return {"status": "missing"}
    age = (timezone.now() - beat.at).total_seconds()
    return {"status": "ok" if age <= every_seconds * 3 else "stale", "age_s": round(age, 1), "detail": beat.detail}


def check_worker() -> dict:
    return check_heartbeat("worker", settings.WORKER_HEARTBEAT_SECONDS)


def data_disk_usage() -> Any:
    """shutil.disk_usage of the data directory (the SQLite database, the queue, the keys)."""
    return shutil.disk_usage(settings.DATA_DIR)


def check_disk() -> dict:
    """Free space where the data directory lives: with it full, every write fails."""
    try:
        usage = data_disk_usage()
    except OSError as exc:
        return {"status": "error", "error": str(exc)[:200]}
    minimum = settings.DATA_DISK_MIN_FREE_BYTES
    return {
        "status": "ok" if usage.free >= minimum else "error",
        "free_bytes": usage.free,
        "total_bytes": usage.total,
        "free_percent": round(100 * usage.free / usage.total, 1) if usage.total else 0.0,
        "min_free_bytes": minimum,
    }


def run_checks() -> dict[str, dict]:
    """Every registered check; one that raises is reported as an error, not a 500 of /healthz."""
    results: dict[str, dict] = {}
    for name, check in registry.registry["health_checks"].items():
        try:
            results[name] = check()
        except Exception as exc:
            logger.exception("health check %s failed", name)
            results[name] = {"status": "error", "error": str(exc)[:200]}
    return results


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    components = run_checks()
    healthy = all(c.get("status") == "ok" for c in components.values())
    return JsonResponse({"status": "ok" if healthy else "error", "components": components},
                        status=200 if healthy else 503)


# prometheus_client is imported where it is used: this module is loaded in every process (for
# the registrations) and only the web serves /metrics; the worker and scheduler need not hold it.

def disk_metrics() -> Iterator[GaugeMetricFamily]:
    from prometheus_client.core import GaugeMetricFamily

    try:
        usage = data_disk_usage()
    except OSError:
        return
    yield GaugeMetricFamily("opsdesk_data_disk_free_bytes", "Free bytes on the data directory's disk",
                            value=usage.free)
    yield GaugeMetricFamily("opsdesk_data_disk_total_bytes", "Size in bytes of the data directory's disk",
                            value=usage.total)


def core_metrics() -> Iterator[GaugeMetricFamily]:
    from prometheus_client.core import GaugeMetricFamily

    from opsdesk.core.models import Customer, Heartbeat

    yield GaugeMetricFamily("opsdesk_customers", "Customers", value=Customer.objects.count())
    ages = GaugeMetricFamily("opsdesk_heartbeat_age_seconds", "Seconds since a background process "
                             "last reported", labels=["process"])
    now = timezone.now()
    for beat in Heartbeat.objects.all():
        ages.add_metric([beat.name], (now - beat.at).total_seconds())
    yield ages
    yield GaugeMetricFamily("opsdesk_queue_depth", "Tasks waiting in the broker", value=queue_depth())


class OpsdeskCollector:
    """Figures read at scrape time: the disk always, then what the apps registered (registry
    store "metrics") when the database answers, since nearly all of those read it."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        # The disk first and regardless of the database: a full disk may be why it fails.
        yield from disk_metrics()
        # One opsdesk_up sample either way: 0 and nothing else when the database does not answer.
        if check_database()["status"] != "ok":
            yield GaugeMetricFamily("opsdesk_up", "1 when the database answers", value=0)
            return
        yield GaugeMetricFamily("opsdesk_up", "1 when the database answers", value=1)
        for collect in registry.registry["metrics"]:
            yield from collect()


def queue_depth() -> float:
    from opsdesk.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        return float(len(os.listdir(folder)))
    try:
        with app.connection_for_read() as conn:
            with conn.channel() as channel:
                return float(channel.queue_declare("celery", passive=True).message_count)
    except Exception:
        return float("nan")


registry.add_health_check("database", check_database)
registry.add_health_check("broker", check_broker)
registry.add_health_check("worker", check_worker)
registry.add_health_check("disk", check_disk)
registry.add_metrics(core_metrics)

@cache
def metrics_registry() -> CollectorRegistry:
    from prometheus_client import CollectorRegistry
    from prometheus_client.platform_collector import PlatformCollector
    from prometheus_client.process_collector import ProcessCollector

    collectors = CollectorRegistry()
    ProcessCollector(registry=collectors)
    PlatformCollector(registry=collectors)
    collectors.register(OpsdeskCollector())
    return collectors


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
