"""The metric store: `get_store()` answers the back end OPSDESK_METRICS_URL chooses (base.MetricStore)."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from opsdesk.monitoring.store.base import MetricStore, Points, SeriesData, choose_step

__all__ = ["MetricStore", "Points", "SeriesData", "choose_step", "get_store"]


@cache
def _store_for(url: str) -> MetricStore:
    if not url:
        from opsdesk.monitoring.store.sql import SQLStore

        return SQLStore()
    from opsdesk.monitoring.store.victoria import VictoriaMetricsStore

    return VictoriaMetricsStore(url)


def get_store() -> MetricStore:
    return _store_for(settings.OPSDESK_METRICS_URL or "")
