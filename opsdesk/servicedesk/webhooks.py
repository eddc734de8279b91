"""Ticket events out to customers' systems: a `ticket_event` listener that writes one
notification row per subscribed webhook in the action's transaction (so the event and its
delivery commit together); notify's delivery signs, sends, retries and never loses it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from opsdesk.core.memo import remember
from opsdesk.notify import services as notify
from opsdesk.servicedesk.models import Ticket, TicketWebhook
from opsdesk.servicedesk.models.webhooks import WEBHOOK_EVENTS

EVENTS = {key for key, _label in WEBHOOK_EVENTS}


def payload(ticket: Ticket, event: str, entry=None) -> dict:
    fields = {"ticket": str(ticket.pk), "event": event, "customer": ticket.customer.code, "status": ticket.status,
              "priority": ticket.priority, "sla_state": ticket.sla_state,
              "sla_due_at": ticket.sla_due_at.isoformat() if ticket.sla_due_at else ""}
    if entry is not None:
        fields["entry"] = str(entry.pk)
    return {"title": f"#{ticket.pk} {ticket.title}", "text": event,
            "url": settings.BASE_URL + reverse("servicedesk:ticket_detail", args=[ticket.pk]),
            "severity": "info", "fields": fields}


def on_ticket_event(sender, ticket: Ticket, event: str, entry=None, **kwargs) -> None:
    if event not in EVENTS or (entry is not None and not entry.public):
        return
    hooks = remember(("servicedesk.webhooks", ticket.customer_id), lambda: list(
        TicketWebhook.objects.filter(Q(customer=ticket.customer_id) | Q(customer__isnull=True), enabled=True,
                                     channel__enabled=True).select_related("channel")))
    for hook in hooks:
        if hook.events and event not in hook.events:
            continue
        # The key names this event once (a receiver drops the copy a retry brings).
        mark = entry.pk if entry is not None else uuid.uuid4().hex[:16]
        notify.queue(hook.channel, payload(ticket, event, entry), source=f"servicedesk.ticket:{ticket.pk}",
                     key=f"sd.webhook:{hook.pk}:{ticket.pk}:{event}:{mark}", customer=ticket.customer)
