"""The alert lifecycle: pending → firing → acknowledged → resolved, one row per fault.

Evaluation (and the inbound receivers) describe what they see as Candidates (a fault present now)
and Recoveries (a fault gone); `apply` turns them into alert rows and timeline events in the
caller's transaction, de-duplicated by fingerprint (a re-fire of an open fault, an Alertmanager
re-send, changes only `last_seen_at`). Alerts that fire are first all written, then held back or
not (holds.py: an upstream fault, a silence, a maintenance window, flapping), then notified: so
when a switch and the fifty servers behind it fail in one pass, the servers' alerts are
suppressed by the switch's whichever came first in the pass.

Notifying goes through notify's escalation (a page per alert, source "monitoring.alert:<id>"):
monitoring hands notify the message and the recipient policy; notify never knows alerts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opsdesk.core.actions import domain_action
from opsdesk.core.models import User
from opsdesk.monitoring.models import OPEN_STATES, Alert, AlertEvent, AlertEventKind, AlertState
from opsdesk.monitoring.signals import alert_notified, alert_resolved
from opsdesk.notify.signals import page_acknowledged

log = logging.getLogger(__name__)


def fingerprint(*parts: object, labels: dict[str, str] | None = None) -> str:
    text = "\x1f".join(str(p) for p in parts)
    if labels:
        text += "".join(f"\x1e{k}\x1d{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass
class Candidate:
    """A fault present now (a rule's condition met, an inbound alert firing)."""

    fingerprint: str
    customer_id: int
    source: str
    title: str
    severity: str
    at: dt.datetime
    value: float | None = None
    threshold: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    description: str = ""
    rule_id: int | None = None
    integration_id: int | None = None
    item_id: int | None = None
    series_id: int | None = None
    check_id: int | None = None
    runbook_url: str = ""
    for_seconds: int = 0  # held as PENDING until the condition has held this long
    started_at: dt.datetime | None = None  # when the sender says it started (default: `at`)


@dataclass
class Recovery:
    fingerprint: str
    at: dt.datetime
    value: float | None = None
    text: str = ""


def source_of(alert: Alert) -> str:
    """The alert as notify knows it: an opaque key."""
    return f"monitoring.alert:{alert.pk}"


def _event(alert: Alert, kind: str, at: dt.datetime, *, actor: User | None = None, text: str = "",
           value: float | None = None) -> AlertEvent:
    return AlertEvent(alert=alert, kind=kind, at=at, actor=actor if actor is not None and actor.pk else None,
                      text=str(text)[:500], value=value)


def _create(candidate: Candidate, state: str) -> Alert | None:
    """A new open alert, or None when another pass made it meanwhile (the partial unique index on
    the fingerprint of open alerts decides)."""
    at = candidate.at
    alert = Alert(customer_id=candidate.customer_id, source=candidate.source, rule_id=candidate.rule_id,
                  integration_id=candidate.integration_id, configuration_item_id=candidate.item_id,
                  series_id=candidate.series_id, monitor_check_id=candidate.check_id,
                  fingerprint=candidate.fingerprint, labels=candidate.labels, title=candidate.title[:300],
                  description=candidate.description, severity=candidate.severity, state=state,
                  value=candidate.value, threshold=candidate.threshold, started_at=candidate.started_at or at,
                  fired_at=at if state == AlertState.FIRING else None, last_seen_at=at,
                  runbook_url=candidate.runbook_url[:200])
    try:
        with transaction.atomic():
            alert.save()
    except IntegrityError:
        return None
    return alert


def apply(candidates: Iterable[Candidate], recoveries: Iterable[Recovery] = ()) -> list[Alert]:
    """Write what evaluation saw; answers the alerts that fired now (after holds and notifying)."""
    candidates = list(candidates)
    recoveries = list(recoveries)
    if not candidates and not recoveries:
        return []
    wanted = {c.fingerprint for c in candidates} | {r.fingerprint for r in recoveries}
    open_alerts = {a.fingerprint: a for a in Alert.objects.filter(fingerprint__in=wanted, state__in=OPEN_STATES)}
    events: list[AlertEvent] = []
    fired: list[Alert] = []
    touched: list[Alert] = []
    for candidate in sorted(candidates, key=lambda c: c.at):
        alert = open_alerts.get(candidate.fingerprint)
        if alert is None:
            held_for = (candidate.at - (candidate.started_at or candidate.at)).total_seconds()
            waits = candidate.for_seconds > 0 and held_for < candidate.for_seconds
            alert = _create(candidate, AlertState.PENDING if waits else AlertState.FIRING)
            if alert is None:  # made by a racing pass: take it as the open one
                alert = Alert.objects.filter(fingerprint=candidate.fingerprint, state__in=OPEN_STATES).first()
                if alert is None:
                    continue
            else:
                open_alerts[alert.fingerprint] = alert
                if alert.state == AlertState.PENDING:
                    events.append(_event(alert, AlertEventKind.PENDING, candidate.at, value=candidate.value))
                else:
                    events.append(_event(alert, AlertEventKind.FIRED, candidate.at, value=candidate.value))
                    fired.append(alert)
                continue
        alert.last_seen_at = max(alert.last_seen_at, candidate.at)
        alert.value = candidate.value if candidate.value is not None else alert.value
        if alert.state == AlertState.PENDING and \
                (candidate.at - alert.started_at).total_seconds() >= candidate.for_seconds:
            alert.state, alert.fired_at = AlertState.FIRING, candidate.at
            events.append(_event(alert, AlertEventKind.FIRED, candidate.at, value=candidate.value))
            fired.append(alert)
        touched.append(alert)
    resolved: list[Alert] = []
    for recovery in sorted(recoveries, key=lambda r: r.at):
        alert = open_alerts.pop(recovery.fingerprint, None)
        if alert is None:
            continue
        if alert.state == AlertState.PENDING:
            # The condition did not hold long enough: it never was an alert.
            alert.delete()
            continue
        _close(alert, recovery.at, value=recovery.value)
        events.append(_event(alert, AlertEventKind.RESOLVED, recovery.at, value=recovery.value, text=recovery.text))
        resolved.append(alert)
    for alert in {id(a): a for a in touched + fired}.values():
        if alert.pk and alert.state != AlertState.RESOLVED:
            alert.save(update_fields=["state", "fired_at", "last_seen_at", "value"])
    AlertEvent.objects.bulk_create(events)
    if fired:
        from opsdesk.monitoring.alerting import holds

        holds.apply_holds(fired)
        for alert in fired:
            if not alert.held:
                notify_fired(alert)
    for alert in resolved:
        after_resolved(alert)
    return fired


def _close(alert: Alert, at: dt.datetime, *, value: float | None = None, actor: User | None = None) -> None:
    alert.state, alert.resolved_at = AlertState.RESOLVED, at
    alert.resolved_by = actor if actor is not None and actor.pk else None
    if value is not None:
        alert.value = value
    alert.save(update_fields=["state", "resolved_at", "resolved_by", "value"])


# --- notifying ---------------------------------------------------------------------------------

def _policy_and_channels(alert: Alert):
    policy, channels = None, []
    if alert.rule_id and alert.rule is not None:
        policy = alert.rule.escalation_policy
        channels = list(alert.rule.channels.filter(enabled=True))
    elif alert.integration_id and alert.integration is not None:
        policy = alert.integration.escalation_policy
    return policy, channels


def notify_fired(alert: Alert) -> None:
    """Start paging for a firing alert (in the caller's transaction: the page and its first
    notifications are written with the alert, and sent as soon as it commits)."""
    from opsdesk.monitoring.alerting import messages
    from opsdesk.notify import escalation

    policy, channels = _policy_and_channels(alert)
    escalation.start_page(source_of(alert), customer=alert.customer, policy=policy,
                          message=messages.firing(alert), channels=channels)
    alert.notified = True
    alert.save(update_fields=["notified"])
    AlertEvent.objects.create(alert=alert, kind=AlertEventKind.NOTIFIED, at=timezone.now())
    alert_notified.send(sender=Alert, alert=alert)


def after_resolved(alert: Alert) -> None:
    """Tell those who were paged, and let the alerts this one held back speak for themselves."""
    from opsdesk.monitoring.alerting import messages

    alert_resolved.send(sender=Alert, alert=alert)

    if alert.notified:
        from opsdesk.notify import escalation

        escalation.resolve_page(source_of(alert), message=messages.resolved(alert))
    dependants = list(Alert.objects.filter(suppressed_by=alert, state__in=OPEN_STATES))
    if dependants:
        from opsdesk.monitoring.alerting import holds

        now = timezone.now()
        for dependant in dependants:
            dependant.suppressed_by = None
            dependant.save(update_fields=["suppressed_by"])
        holds.apply_holds(dependants, now=now)
        for dependant in dependants:
            if not dependant.held and not dependant.notified and dependant.state == AlertState.FIRING:
                notify_fired(dependant)


# --- what people do ----------------------------------------------------------------------------

def acknowledge(alert: Alert, *, actor: User | None, via: str = "") -> Alert:
    """Someone is on it: escalation stops, those paged are told."""
    if alert.state != AlertState.FIRING:
        raise ValidationError({"state": _("Only a firing alert can be acknowledged.")})
    with domain_action(actor, "acknowledge", alert):
        now = timezone.now()
        alert.state, alert.acknowledged_at = AlertState.ACKNOWLEDGED, now
        alert.acknowledged_by = actor if actor is not None and actor.pk else None
        alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
        AlertEvent.objects.create(alert=alert, kind=AlertEventKind.ACKNOWLEDGED, at=now,
                                  actor=alert.acknowledged_by, text=via)
        if alert.notified:
            from opsdesk.notify import escalation

            escalation.acknowledge_page(source_of(alert), actor=alert.acknowledged_by)
    return alert


def resolve(alert: Alert, *, actor: User | None, via: str = "") -> Alert:
    """Closed by a person (the fault is gone, or it will not come back by itself: an inbound alert
    whose sender never resolves)."""
    if alert.state not in OPEN_STATES:
        raise ValidationError({"state": _("The alert is already resolved.")})
    with domain_action(actor, "resolve", alert):
        now = timezone.now()
        _close(alert, now, actor=actor)
        AlertEvent.objects.create(alert=alert, kind=AlertEventKind.RESOLVED, at=now,
                                  actor=alert.resolved_by, text=via)
        after_resolved(alert)
    return alert


def comment(alert: Alert, *, actor: User | None, text: str) -> Alert:
    if not text.strip():
        raise ValidationError({"text": _("This field is required.")})
    with domain_action(actor, "comment", alert) as action:
        AlertEvent.objects.create(alert=alert, kind=AlertEventKind.COMMENT, at=timezone.now(),
                                  actor=actor if actor is not None and actor.pk else None, text=text.strip())
        action.audit(alert, {"comment": ["", text.strip()[:200]]})
    return alert


@receiver(page_acknowledged)
def _page_acknowledged(sender, page, actor=None, **kwargs) -> None:
    """A person acknowledged an alert's page on the page itself: the alert is acknowledged too
    (its own acknowledgement finds the page stopped already and leaves it)."""
    prefix = "monitoring.alert:"
    if not page.source.startswith(prefix) or not page.source[len(prefix):].isdigit():
        return
    alert = Alert.objects.filter(pk=int(page.source[len(prefix):]), state=AlertState.FIRING).first()
    if alert is not None:
        acknowledge(alert, actor=actor, via="page")
