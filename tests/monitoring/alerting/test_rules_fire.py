"""Threshold, rate, "no data" and check-state rules, evaluated as the data is filed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from opsdesk.monitoring.alerting import evaluate
from opsdesk.monitoring.models import Alert, AlertEvent, AlertRule, AlertState, Series
from opsdesk.notify.models import Notification, Page
from tests.factories import ConfigurationItemFactory, make_check_in_state

from .conftest import T0

pytestmark = pytest.mark.django_db
CPU = "host_cpu_utilisation"


def make_rule(item, **kwargs) -> AlertRule:
    kwargs.setdefault("threshold", 90.0)
    return AlertRule.objects.create(name=kwargs.pop("name", "CPU busy"), customer=item.customer,
                                    configuration_item=item, metric=kwargs.pop("metric", CPU), **kwargs)


def test_a_breaching_sample_fires_an_alert_with_its_page_and_notification_in_the_same_pass(host, group_channel):
    host.file(CPU, 50.0, T0)  # makes the series
    rule = make_rule(host.item, severity="critical")
    rule.channels.add(group_channel)
    host.file(CPU, 97.5, T0 + 30)

    alert = Alert.objects.get()
    assert (alert.state, alert.severity, alert.value, alert.threshold) == (AlertState.FIRING, "critical", 97.5, 90.0)
    assert alert.started_at == dt.datetime.fromtimestamp(T0 + 30, tz=dt.UTC)
    assert alert.series == Series.objects.get(name=CPU)
    assert list(alert.events.values_list("kind", flat=True)) == ["fired", "notified"]
    page = Page.objects.get()
    assert page.source == f"monitoring.alert:{alert.pk}"
    notification = Notification.objects.get(channel=group_channel)
    assert notification.severity == "critical"
    assert host.item.name in notification.title and "CPU busy" in notification.title
    assert "97.5" in notification.text and "90" in notification.text
    assert "/monitoring/alerts/link/" in notification.url  # the signed acknowledge link


def test_an_open_alert_is_one_row_however_often_it_fires_again(host):
    host.file(CPU, 50.0, T0)
    make_rule(host.item)
    for i in range(1, 5):
        host.file(CPU, 95.0 + i, T0 + 30 * i)
    alert = Alert.objects.get()
    assert alert.value == 99.0
    assert alert.last_seen_at == dt.datetime.fromtimestamp(T0 + 120, tz=dt.UTC)
    assert Page.objects.count() == 1


def test_recovery_needs_the_recovery_threshold_and_tells_the_same_people(host, group_channel):
    host.file(CPU, 50.0, T0)
    rule = make_rule(host.item, recovery_threshold=70.0)
    rule.channels.add(group_channel)
    host.file(CPU, 95.0, T0 + 30)
    host.file(CPU, 80.0, T0 + 60)  # below the threshold, above the recovery threshold: still firing
    assert Alert.objects.get().state == AlertState.FIRING
    host.file(CPU, 65.0, T0 + 90)
    alert = Alert.objects.get()
    assert alert.state == AlertState.RESOLVED
    assert alert.resolved_at == dt.datetime.fromtimestamp(T0 + 90, tz=dt.UTC)
    resolved = Notification.objects.filter(channel=group_channel).order_by("id").last()
    # A group channel is told in Chinese, the default language.
    assert (resolved.language, resolved.title[:4]) == ("zh-hans", "已恢复：")
    assert Page.objects.get().state == "resolved"
    # The same fault again is a new alert.
    host.file(CPU, 96.0, T0 + 120)
    assert Alert.objects.filter(state=AlertState.FIRING).count() == 1
    assert Alert.objects.count() == 2


def test_a_rule_with_a_duration_waits_pending_then_fires(host):
    host.file(CPU, 50.0, T0)
    make_rule(host.item, for_seconds=180)
    host.file(CPU, 95.0, T0 + 30)
    alert = Alert.objects.get()
    assert alert.state == AlertState.PENDING
    assert not Page.objects.exists()
    host.file(CPU, 95.0, T0 + 120)
    assert Alert.objects.get().state == AlertState.PENDING
    host.file(CPU, 95.0, T0 + 210)
    alert = Alert.objects.get()
    assert alert.state == AlertState.FIRING
    assert alert.started_at == dt.datetime.fromtimestamp(T0 + 30, tz=dt.UTC)
    assert alert.fired_at == dt.datetime.fromtimestamp(T0 + 210, tz=dt.UTC)
    assert Page.objects.count() == 1


def test_a_pending_alert_that_does_not_hold_leaves_nothing(host):
    host.file(CPU, 50.0, T0)
    make_rule(host.item, for_seconds=180)
    host.file(CPU, 95.0, T0 + 30)
    host.file(CPU, 40.0, T0 + 60)
    assert not Alert.objects.exists()
    assert not AlertEvent.objects.exists()


def test_a_rule_on_a_kind_or_a_customer_covers_their_items_and_no_others(host, customer_b):
    from .conftest import Host

    other = Host(customer_b)
    host.file(CPU, 10.0, T0)
    other.file(CPU, 10.0, T0)
    AlertRule.objects.create(name="busy anywhere of A", customer=host.item.customer, metric=CPU, threshold=90.0)
    AlertRule.objects.create(name="busy servers", ci_kind=host.item.kind, metric=CPU, threshold=95.0,
                             severity="minor")
    host.file(CPU, 99.0, T0 + 30)
    other.file(CPU, 99.0, T0 + 30)
    fired = sorted(Alert.objects.values_list("customer_id", "rule__name"))
    assert fired == sorted([(host.item.customer_id, "busy anywhere of A"), (host.item.customer_id, "busy servers"),
                            (customer_b.pk, "busy servers")])


def test_labels_narrow_a_rule_and_name_the_alert(host):
    host.file("host_filesystem_used_percent", 10.0, T0, {"mount": "/"})
    host.file("host_filesystem_used_percent", 10.0, T0, {"mount": "/data"})
    make_rule(host.item, name="Disk full", metric="host_filesystem_used_percent", labels={"mount": "/data"})
    host.file("host_filesystem_used_percent", 99.0, T0 + 30, {"mount": "/"})
    assert not Alert.objects.exists()
    host.file("host_filesystem_used_percent", 99.0, T0 + 60, {"mount": "/data"})
    assert Alert.objects.get().title == "Disk full"


def test_a_rate_rule_compares_with_the_value_a_window_ago(host):
    name = "host_disk_used_bytes"
    host.file(name, 1000.0, T0)
    make_rule(host.item, name="Growing fast", metric=name, kind="rate", threshold=100.0, rate_window_seconds=300)
    host.file(name, 1030.0, T0 + 60)  # 30 a minute
    assert not Alert.objects.exists()
    host.file(name, 1500.0, T0 + 120)  # (1500 - 1000) / 2 min = 250 a minute
    alert = Alert.objects.get()
    assert alert.value == pytest.approx(250.0)


def test_no_data_rules_fire_from_the_periodic_pass_and_resolve_when_data_comes(host):
    now = timezone.now()
    host.file(CPU, 10.0, now.timestamp() - 900)
    make_rule(host.item, name="Agent silent", kind="absence", absence_seconds=600, threshold=None)
    evaluate.absence(now)
    alert = Alert.objects.get()
    assert alert.state == AlertState.FIRING
    assert alert.started_at == dt.datetime.fromtimestamp(now.timestamp() - 300, tz=dt.UTC)
    host.file(CPU, 10.0, now.timestamp())
    evaluate.absence(now + dt.timedelta(seconds=5))
    assert Alert.objects.get().state == AlertState.RESOLVED


def test_a_check_state_rule_fires_from_a_collector_result(customer_a):
    import json

    from rest_framework.test import APIClient

    from opsdesk.core.models.tokens import hash_token, new_raw_token
    from opsdesk.monitoring import filing
    from opsdesk.monitoring.models import Agent

    check = make_check_in_state(ConfigurationItemFactory(customer=customer_a), "ok", name="https")
    AlertRule.objects.create(name="Site down", customer=customer_a, kind="check_state",
                             check_states=["critical"], severity="critical")
    raw = new_raw_token()
    Agent.objects.create(customer=customer_a, name="central", kind="collector", central=True, key_hash=hash_token(raw))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = {"seq": 1, "checks": [{"id": check.pk, "ts": T0, "state": "critical", "code": "refused",
                                  "message": "connection refused"}]}
    response = client.post("/api/monitoring/push/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    filing.file_pass()
    alert = Alert.objects.get()
    assert alert.monitor_check == check
    assert alert.description == "connection refused"
    assert alert.title == "Site down: https 严重 Critical"  # stored once: in both languages
    body = {"seq": 2, "checks": [{"id": check.pk, "ts": T0 + 60, "state": "ok"}]}
    client.post("/api/monitoring/push/", data=json.dumps(body), content_type="application/json")
    filing.file_pass()
    assert Alert.objects.get().state == AlertState.RESOLVED
