"""Notify in /healthz and /metrics: how long the oldest due notification has waited, and how
many are pending, sent and failed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from opsdesk.core import registry

# A due notification older than this means no sender is taking them (the worker is down or
# stuck): the sweep wakes a sender every 10 s, and a request times out after 10 s.
STALE_AFTER_S = 60.0


def check_notify() -> dict[str, Any]:
    from opsdesk.notify import delivery

    now = timezone.now()
    oldest = delivery.oldest_due(now)
    age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    status = "ok" if age < STALE_AFTER_S else "stale"
    return {"status": status, "oldest_due_s": round(age, 1)}


def notify_metrics() -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from opsdesk.notify import delivery

    counts = delivery.counts()
    now = timezone.now()
    oldest = delivery.oldest_due(now)
    yield GaugeMetricFamily("opsdesk_notifications_pending", "Notifications waiting to be sent (pending or sending)",
                            value=counts.get("pending", 0) + counts.get("sending", 0))
    yield GaugeMetricFamily("opsdesk_notifications_oldest_due_seconds",
                            "How long the oldest due notification has waited",
                            value=0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()))
    yield CounterMetricFamily("opsdesk_notifications_sent", "Notifications delivered", value=counts.get("sent", 0))
    yield CounterMetricFamily("opsdesk_notifications_failed", "Notifications given up after every retry",
                              value=counts.get("failed", 0))


registry.add_health_check("notify", check_notify)
registry.add_metrics(notify_metrics)
