"""The desk's public replies, and a resolution, go back to the chat groups the ticket came from.

A `ticket_event` listener (inside the action's transaction, so the outgoing row commits with the
reply): a public reply written by the desk (not the customer's own words coming in), and the
status "resolved", on a ticket that a group of the same customer opened or added to."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.dispatch import receiver
from django.utils import translation
from django.utils.translation import gettext as _

from opsdesk.servicedesk.chat import answers
from opsdesk.servicedesk.models import Ticket, TicketEntry
from opsdesk.servicedesk.models.chat import ChatGroup
from opsdesk.servicedesk.richtext import html_to_text
from opsdesk.servicedesk.signals import ticket_event

MAX_TEXT = 3000  # the vendors take about 4 KB of text; the rest is on the ticket


def groups_of(ticket: Ticket) -> list[ChatGroup]:
    # Only groups of the ticket's own customer: a group never hears another customer's ticket.
    return list(ChatGroup.objects.filter(customer_id=ticket.customer_id, integration__enabled=True)
                .filter(Q(open_ticket=ticket) | Q(messages__ticket=ticket)).distinct()
                .select_related("integration", "notify_channel", "customer"))


def _author(entry: TicketEntry) -> str:
    if entry.author_id:
        return entry.author.get_full_name() or entry.author.username
    return entry.author_name or _("Service desk")


@receiver(ticket_event, dispatch_uid="servicedesk.chat.replies")
def to_chat(sender: Any, ticket: Ticket, event: str, entry: TicketEntry | None = None, **extra: Any) -> None:
    if event == "reply" and entry is not None and entry.public and not extra.get("customer_side"):
        key = f"reply:{entry.pk}"
        with translation.override(ticket.language):
            words = html_to_text(entry.body).strip()
            if len(words) > MAX_TEXT:
                words = words[:MAX_TEXT] + "…"
            title = _("Ticket #%(number)s: reply from %(author)s") % {"number": ticket.pk, "author": _author(entry)}
    elif event == "status" and extra.get("new") == "resolved":
        key = f"resolved:{ticket.pk}:{ticket.resolved_at.isoformat() if ticket.resolved_at else ''}"
        with translation.override(ticket.language):
            title = _("Ticket #%(number)s is resolved.") % {"number": ticket.pk}
            words = _("Mention me again if the problem comes back.")
    else:
        return
    for group in groups_of(ticket):
        answers.deliver(group, title, words, key=f"chat:{group.pk}:{key}", ticket=ticket)
