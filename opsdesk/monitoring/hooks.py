"""Monitoring's part in /healthz, /metrics and `opsdesk setup`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from opsdesk.core import registry

# How often the collector reports (the collector command beats at it; /healthz allows three misses).
COLLECTOR_HEARTBEAT_SECONDS = 30.0


def check_collector() -> dict[str, Any]:
    """The central collector reports every 30 s (management command `collector`)."""
    from opsdesk.core.health import check_heartbeat

    return check_heartbeat("collector", COLLECTOR_HEARTBEAT_SECONDS)


def check_metric_store() -> dict[str, Any]:
    """The SQL back end is the database (already checked); a Prometheus-compatible store is asked."""
    from opsdesk.monitoring.store import get_store

    store = get_store()
    try:
        ok, note = store.health()
    except Exception as exc:
        ok, note = False, str(exc)[:200]
    return {"status": "ok" if ok else "error", "backend": store.name, "detail": note}


def ingest_metrics() -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    from opsdesk.monitoring.models import IngestBatch

    unfiled = IngestBatch.objects.filter(filed_at=None)
    yield GaugeMetricFamily("opsdesk_ingest_unfiled_batches", "Pushed batches not yet filed into series",
                            value=unfiled.count())
    since = timezone.now() - dt.timedelta(minutes=1)
    recent = IngestBatch.objects.filter(received_at__gte=since).aggregate(n=Sum("samples"))["n"] or 0
    yield GaugeMetricFamily("opsdesk_ingest_samples_per_second", "Samples pushed per second over the last minute",
                            value=recent / 60.0)


def prepare_local_monitoring() -> str:
    from opsdesk.monitoring.local import ensure_local_monitoring

    host, _central = ensure_local_monitoring()
    return f"this machine is monitored as {host.configuration_item} (customer {host.customer})"


registry.add_health_check("collector", check_collector)
registry.add_health_check("metric_store", check_metric_store)
registry.add_metrics(ingest_metrics)
registry.add_setup_step("monitoring", prepare_local_monitoring, order=50)
