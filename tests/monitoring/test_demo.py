"""`opsdesk demo` with monitoring: a week of metrics on some servers, checks in several states."""

from __future__ import annotations

import pytest

from opsdesk.core.demo import load_demo
from opsdesk.monitoring import filing
from opsdesk.monitoring.models import Check, Rollup, Series
from opsdesk.monitoring.store import get_store

pytestmark = pytest.mark.django_db


def test_the_demo_has_charts_and_checks_in_several_states():
    filing._series_ids.clear()
    said = load_demo()
    assert "a week of metrics on 8 servers" in said
    cpu = Series.objects.filter(name="cpu_usage_percent").order_by("pk").first()
    assert cpu is not None and cpu.configuration_item.customer.code == "ACME"
    week = get_store().query([(cpu.id, cpu.name, {})], cpu.last_ts - 7 * 86400, cpu.last_ts)[cpu.id]
    assert week.step == 300 and len(week.ts) >= 2000
    assert all(0 <= v <= 100 for v in week.max)
    assert Rollup.objects.filter(series=cpu, step=3600).count() >= 7 * 24
    states = set(Check.objects.values_list("state", flat=True))
    assert {"ok", "warning", "critical"} <= states
    # Named for a collector that runs nowhere: the central one leaves the made-up states alone.
    assert not Check.objects.filter(collector__isnull=True, configuration_item__customer__code="ACME").exists()
    assert load_demo() == "demo data is already loaded"
