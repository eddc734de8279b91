"""`opsdesk setup` then `opsdesk demo`: alert rules, alerts in every state with real timelines (the
critical one with its incident), a silence, a maintenance window, a heartbeat, and the on-call
schedule and escalation policy that page for the demo customers — and nothing sent anywhere."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Iterator

import pytest
from auditlog.models import LogEntry
from django.db import transaction
from django.test import Client
from django.utils import timezone

from opsdesk.core.demo import load_demo
from opsdesk.core.models import User
from opsdesk.core.registry import registry
from opsdesk.monitoring import filing
from opsdesk.monitoring.alerting import evaluate, rules
from opsdesk.monitoring.alerting.preview import preview
from opsdesk.monitoring.models import (
    Alert,
    AlertRule,
    AlertState,
    InboundIntegration,
    MaintenanceWindow,
    Silence,
)
from opsdesk.notify import oncall
from opsdesk.notify.models import Channel, ContactMethod, EscalationPolicy, Notification, Page, Schedule
from opsdesk.servicedesk.models import TicketAlert

pytestmark = pytest.mark.django_db
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker) -> Iterator[str]:
    """The demo, loaded once for the module (it takes seconds) in a transaction rolled back at
    its end; each test runs inside it in a savepoint of its own."""
    with django_db_blocker.unblock(), transaction.atomic():
        # Per-process caches keyed by ids that an earlier test's rolled-back rows may have used.
        filing._series_ids.clear()
        evaluate._item_kinds.clear()
        rules.forget()
        for step in registry["setup"]:  # as `make demo` does: the default incident policy among them
            step.run()
        yield load_demo()
        transaction.set_rollback(True)
    filing._series_ids.clear()
    evaluate._item_kinds.clear()
    rules.forget()


@pytest.fixture
def said(loaded: str, db) -> str:
    return loaded


def test_the_demo_has_alerts_in_every_state_with_real_timelines(said):
    assert "7 alert rules" in said and "1 silence" in said and "1 heartbeat" in said
    states = set(Alert.objects.values_list("state", flat=True))
    assert {AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.RESOLVED} <= states

    # Firing and critical on ACME's database server: paged, and the incident policy opened its ticket.
    critical = Alert.objects.get(severity="critical", state=AlertState.FIRING)
    assert (critical.customer.code, critical.configuration_item.name) == ("ACME", "acme-db01")
    assert critical.notified and not critical.held
    ticket = TicketAlert.objects.get(alert=critical).ticket
    assert (ticket.ticket_type, ticket.customer.code, ticket.channel) == ("incident", "ACME", "alert")
    assert list(ticket.configuration_items.values_list("name", flat=True)) == ["acme-db01"]
    page = Page.objects.get(source=f"monitoring.alert:{critical.pk}")
    assert page.state == "active" and page.paged_users and page.policy.name == "标准升级 Standard escalation"

    # Acknowledged days ago by the engineer, with a comment, in the order it happened.
    acknowledged = Alert.objects.get(state=AlertState.ACKNOWLEDGED)
    assert acknowledged.acknowledged_by.username == "engineer"
    assert list(acknowledged.events.values_list("kind", flat=True)) == [
        "pending", "fired", "notified", "acknowledged", "comment"]
    times = list(acknowledged.events.values_list("at", flat=True))
    assert times == sorted(times) and timezone.now() - times[0] > dt.timedelta(days=2)
    assert acknowledged.fired_at < acknowledged.acknowledged_at < timezone.now() - dt.timedelta(days=2)
    # Its change history agrees with the timeline; and the replay's clock is the real one again.
    history = list(LogEntry.objects.get_for_object(acknowledged).values_list("timestamp", flat=True))
    assert len(history) >= 3 and max(history) == times[-1]
    assert abs(timezone.now().timestamp() - time.time()) < 60

    # Resolved yesterday: the backup that failed (acknowledged, commented, then pinged), and CPU peaks.
    yesterday = timezone.now().astimezone(ZONE).date() - dt.timedelta(days=1)
    resolved = [a for a in Alert.objects.filter(state=AlertState.RESOLVED)
                if a.resolved_at.astimezone(ZONE).date() == yesterday]
    assert len(resolved) >= 2
    backup = Alert.objects.get(source="heartbeat")
    assert backup in resolved and "No space left on device" in backup.description
    assert list(backup.events.values_list("kind", flat=True)) == [
        "fired", "notified", "acknowledged", "comment", "resolved"]

    # Held by the BLUESKY silence: firing, nobody paged.
    held = Alert.objects.get(silenced_by__isnull=False)
    assert (held.customer.code, held.severity, held.state, held.notified) == ("BLUESKY", "minor", "firing", False)
    silence = held.silenced_by
    assert silence.ends_at - silence.starts_at == dt.timedelta(hours=2) and silence.reason
    assert silence.matchers == [{"name": "severity", "op": "=", "value": "minor"}]
    assert silence.created_by.username == "engineer" and Silence.objects.count() == 1


def test_the_timeline_is_on_the_alert_page_for_the_engineer(said):
    acknowledged = Alert.objects.get(state=AlertState.ACKNOWLEDGED)
    client = Client()
    client.force_login(User.objects.get(username="engineer"))
    html = client.get(f"/monitoring/alerts/{acknowledged.pk}/").content.decode()
    assert "200 GB more is requested" in html
    listing = client.get("/monitoring/alerts/").content.decode()
    assert "主机不可达 Host unreachable" in listing and "夜间备份 Nightly backup" in listing


def test_the_rules_maintenance_window_and_heartbeat(said):
    cpu = AlertRule.objects.get(name="CPU 使用率过高 CPU above 90%")
    assert (cpu.customer.code, cpu.severity, cpu.for_seconds) == ("ACME", "critical", 300) and cpu.runbook
    # The rule editor's preview shows it would have fired on the demo's week of data.
    assert preview(cpu, User.objects.get(username="engineer")).count > 0
    # The "no data" rule is off: the demo's servers stopped reporting when it was loaded.
    assert not AlertRule.objects.get(kind="absence").enabled

    window = MaintenanceWindow.objects.get()
    start = window.starts_at.astimezone(ZONE)
    assert (window.recurrence, start.weekday(), start.hour) == ("weekly", 6, 2)
    assert window.ends_at - window.starts_at == dt.timedelta(hours=2)
    assert {i.kind.slug for i in window.configuration_items.all()} == {"database"}
    assert {i.customer.code for i in window.configuration_items.all()} == {"ACME"}

    heartbeat = InboundIntegration.objects.get()
    assert (heartbeat.kind, heartbeat.period_seconds, heartbeat.customer.code) == ("heartbeat", 86400, "ACME")
    assert heartbeat.last_ping_at is not None and timezone.now() - heartbeat.last_ping_at < dt.timedelta(days=1)


def test_someone_is_on_call_and_the_customers_page_through_the_policy(said):
    schedule = Schedule.objects.get(name="一线值班 First line")
    now = timezone.now()
    assert oncall.on_call(schedule, now)
    rotation = schedule.rotations.get()
    start = rotation.starts_at.astimezone(ZONE)
    assert (rotation.kind, start.weekday(), start.hour) == ("weekly", 0, 9) and rotation.starts_at < now
    assert {m.user.username for m in rotation.members.all()} == {"engineer", "manager"}
    override = schedule.overrides.get()
    assert override.user.username == "manager" and override.starts_at.astimezone(ZONE).weekday() == 1
    assert now < override.starts_at <= now + dt.timedelta(days=7)
    # Without the override, the engineer would be on call then.
    midday = override.starts_at + dt.timedelta(hours=3)
    assert oncall.on_call(schedule, midday) == [override.user]
    layer = oncall.Timeline(schedule, now, now).layers[0]
    assert layer.who(midday).username == "engineer"

    policy = EscalationPolicy.objects.get()
    assert {c.code for c in policy.customers.all()} == {"ACME", "BLUESKY"}
    assert (policy.repeat, policy.final_user.username) == (1, "manager")
    steps = list(policy.steps.order_by("position"))
    assert [(s.delay_minutes, s.target) for s in steps] == [(0, "schedule"), (15, "user")]
    assert steps[0].schedule == schedule and steps[1].user.username == "manager"
    assert {m.address for m in ContactMethod.objects.all()} == {"engineer@example.com", "manager@example.com"}

    # Nothing is sent anywhere: no channel, so no notification.
    assert not Channel.objects.exists() and not Notification.objects.exists()
    assert load_demo() == "demo data is already loaded"
