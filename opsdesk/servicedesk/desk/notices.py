"""Telling engineers what needs them, on their own contact methods (notify): a ticket assigned to
them, the customer's answer on their ticket, and a new P1/P2 ticket nobody has yet (its team).
Written inside the action's transaction by a `ticket_event` listener, so a notice exists exactly
when its cause does; nobody is told about what they did themselves."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from opsdesk.core.models import User
from opsdesk.servicedesk.models import Ticket

LANGUAGES = ("zh-hans", "en")
URGENT = ("p1", "p2")


def _texts(ticket: Ticket, event: str, entry=None) -> dict[str, dict]:
    url = settings.BASE_URL + reverse("servicedesk:ticket_detail", args=[ticket.pk])
    texts = {}
    for language in LANGUAGES:
        with translation.override(language):
            values = {"number": ticket.pk, "title": ticket.title, "customer": ticket.customer.name,
                      "priority": str(ticket.get_priority_display())}
            if event == "assigned":
                title = gettext("Ticket #%(number)s is yours: %(title)s") % values
            elif event == "reply":
                title = gettext("The customer answered on #%(number)s: %(title)s") % values
            else:
                title = gettext("New %(priority)s ticket #%(number)s for %(customer)s: %(title)s") % values
            text = ""
            if entry is not None:
                from opsdesk.servicedesk.richtext import html_to_text

                text = html_to_text(entry.body)[:500]
        texts[language] = {"title": title[:300], "text": text or values["customer"], "url": url,
                           "severity": "major" if ticket.priority in URGENT else "minor"}
    return texts


def _people(ticket: Ticket, event: str, actor_id: int | None) -> list[User]:
    if event in ("assigned", "reply"):
        people = [ticket.assignee] if ticket.assignee_id and ticket.assignee.is_active else []
    elif event == "opened" and ticket.priority in URGENT and ticket.assignee_id is None and ticket.team_id:
        people = list(ticket.team.members.filter(is_active=True).order_by("pk"))
    else:
        people = []
    return [p for p in people if p.pk != actor_id]


def on_ticket_event(sender, ticket: Ticket, event: str, entry=None, **kwargs) -> None:
    if event == "reply" and not kwargs.get("customer_side"):
        return
    if event not in ("assigned", "reply", "opened"):
        return
    actor_id = entry.author_id if entry is not None else kwargs.get("actor_id")
    people = _people(ticket, event, actor_id)
    if not people:
        return
    from opsdesk.notify import escalation

    mark = entry.pk if entry is not None else uuid.uuid4().hex[:16]
    escalation.tell_users(people, message=_texts(ticket, event, entry), key=f"sd.notice:{ticket.pk}:{event}:{mark}",
                          source=f"servicedesk.ticket:{ticket.pk}", customer=ticket.customer)
