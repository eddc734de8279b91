"""Alerts → incidents: an alert the severity policy covers opens an incident linked to it, one
ticket per alert group (the alert's item, or its fingerprint when it has none), so a re-fire or
another alert on the same item while the incident is open joins it instead of opening another.
The alert's resolution is noted on the ticket (the engineer decides when the incident is done).

Runs inside the transaction that writes the alert (monitoring's alert_notified/alert_resolved),
so the incident exists exactly when the alert's notifications do."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from opsdesk.monitoring.models import Alert
from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import AlertTicketPolicy, Ticket, TicketAlert, TicketEntry
from opsdesk.servicedesk.models.alert_policy import IMPACT_OF_SEVERITY
from opsdesk.servicedesk.models.tickets import OPEN_STATUSES, EntryKind
from opsdesk.servicedesk.signals import ticket_event

log = logging.getLogger(__name__)


def group_key(alert: Alert) -> str:
    if alert.configuration_item_id:
        return f"{alert.customer_id}:ci:{alert.configuration_item_id}"
    return f"{alert.customer_id}:fp:{alert.fingerprint}"


def policy_for(alert: Alert) -> AlertTicketPolicy | None:
    policy = AlertTicketPolicy.objects.filter(customer_id=alert.customer_id).first() or \
        AlertTicketPolicy.objects.filter(customer__isnull=True).first()
    return policy if policy is not None and policy.covers(alert.severity) else None


def open_for_alert(alert: Alert) -> Ticket | None:
    """The incident of this alert's group: the open one it joins, or a new one. None when the
    policy does not cover it."""
    if TicketAlert.objects.filter(alert=alert).exists():
        return None
    policy = policy_for(alert)
    if policy is None:
        return None
    key = group_key(alert)
    link = (TicketAlert.objects.filter(group_key=key, ticket__status__in=OPEN_STATUSES,
                                       ticket__merged_into__isnull=True)
            .select_related("ticket").order_by("-ticket_id").first())
    now = timezone.now()
    if link is not None:
        ticket = link.ticket
        TicketAlert.objects.create(ticket=ticket, alert=alert, group_key=key)
        _note(ticket, "alert_linked", alert, now)
        return ticket
    impact, urgency = IMPACT_OF_SEVERITY.get(alert.severity, ("medium", "medium"))
    customer = alert.customer
    with override(_language(customer)):
        description = _alert_description(alert)
    ticket = services.open_ticket(
        actor=None, customer=customer, title=alert.title[:300], description=description, channel="alert",
        ticket_type="incident", category=policy.category, impact=impact, urgency=urgency, team=policy.team,
        configuration_items=[alert.configuration_item] if alert.configuration_item_id else (),
        author_name="opsdesk", at=alert.fired_at or now)
    TicketAlert.objects.create(ticket=ticket, alert=alert, group_key=key)
    return ticket


def _language(customer) -> str:
    from opsdesk.core.models import User

    language = User.objects.filter(customer=customer, is_active=True).exclude(language="") \
        .values_list("language", flat=True).first()
    return language or "zh-hans"


def _alert_description(alert: Alert) -> str:
    lines = [alert.title]
    if alert.description:
        lines.append(alert.description)
    if alert.value is not None:
        lines.append(_("Value: %(value)s (threshold %(threshold)s)") % {
            "value": f"{alert.value:g}", "threshold": "" if alert.threshold is None else f"{alert.threshold:g}"})
    if alert.runbook_url:
        lines.append(_("Runbook: %(url)s") % {"url": alert.runbook_url})
    return "\n".join(lines)


def _note(ticket: Ticket, event: str, alert: Alert, at) -> TicketEntry:
    entry = TicketEntry.objects.create(ticket=ticket, kind=EntryKind.EVENT, event=event, created_at=at, via="alert",
                                       data={"alert": alert.pk, "title": alert.title, "severity": alert.severity})
    ticket_event.send(sender=Ticket, ticket=ticket, event=event, entry=entry)
    return entry


def note_resolved(alert: Alert) -> int:
    """Write the alert's resolution on the tickets it is linked to; answers how many."""
    links = list(TicketAlert.objects.filter(alert=alert).select_related("ticket"))
    for link in links:
        _note(link.ticket, "alert_resolved", alert, alert.resolved_at or timezone.now())
    return len(links)


def on_alert_notified(sender, alert: Alert, **kwargs) -> None:
    # A savepoint: whatever goes wrong opening the incident must not undo the alert and its pages.
    try:
        with transaction.atomic():
            open_for_alert(alert)
    except Exception:
        log.exception("could not open an incident for alert %s", alert.pk)


def on_alert_resolved(sender, alert: Alert, **kwargs) -> None:
    try:
        with transaction.atomic():
            note_resolved(alert)
    except Exception:
        log.exception("could not note the resolution of alert %s", alert.pk)
