"""What a customer sees of a ticket: the public conversation and the status history in words.

Internal notes, private events (assignment, priority, SLA) and the attachments of notes are
never part of it: the queries below ask for public entries only, so a new kind of private
entry stays private without anyone remembering to hide it here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import pgettext, pgettext_lazy

from opsdesk.servicedesk.models import Attachment, Ticket, TicketEntry, TicketStatus
from opsdesk.servicedesk.models.tickets import EntryKind

S = TicketStatus

# The ticket's status as the customer reads it (the desk's words are about its own work).
STATUS_WORDS = {
    S.NEW: pgettext_lazy("portal status", "Received"),
    S.ASSIGNED: pgettext_lazy("portal status", "Assigned"),
    S.IN_PROGRESS: pgettext_lazy("portal status", "In progress"),
    S.WAITING_CUSTOMER: pgettext_lazy("portal status", "Waiting for your answer"),
    S.WAITING_THIRD_PARTY: pgettext_lazy("portal status", "Waiting for a supplier"),
    S.RESOLVED: pgettext_lazy("portal status", "Resolved"),
    S.CLOSED: pgettext_lazy("portal status", "Closed"),
}
STATUS_STYLE = {
    S.NEW: "secondary", S.ASSIGNED: "info", S.IN_PROGRESS: "primary", S.WAITING_CUSTOMER: "warning",
    S.WAITING_THIRD_PARTY: "info", S.RESOLVED: "success", S.CLOSED: "dark",
}


def status_words(status: str) -> str:
    return str(STATUS_WORDS.get(status, status))


@dataclass
class Item:
    kind: str                       # "message" or "event"
    at: dt.datetime
    pk: int
    author: str = ""
    from_desk: bool = False
    opening: bool = False
    body: str = ""                  # sanitised HTML (TicketEntry.body)
    text: str = ""                  # an event in words
    icon: str = "bi-dot"
    link: int | None = None         # a ticket number the event names
    attachments: list[Attachment] = field(default_factory=list)


def public_entries(ticket: Ticket) -> QuerySet[TicketEntry]:
    return ticket.entries.filter(public=True).exclude(kind=EntryKind.NOTE).select_related("author") \
        .prefetch_related("attachments").order_by("created_at", "id")


def public_attachments(ticket: Ticket) -> QuerySet[Attachment]:
    """The ticket's attachments a customer may open: those of public entries (or of none)."""
    return ticket.attachments.filter(Q(entry__isnull=True) | Q(entry__public=True)).order_by("id")


def _person(user: Any) -> str:
    return str(user.get_full_name() or user.username) if user is not None else ""


def _status_text(data: dict) -> tuple[str, str] | None:
    old, new, reason = data.get("old"), data.get("new"), data.get("reason", "")
    if reason == "merged":
        return None  # the "merged into" event says it
    if new in (S.NEW, S.IN_PROGRESS) and old in (S.RESOLVED, S.CLOSED):
        return pgettext("portal event", "Reopened"), "bi-arrow-counterclockwise"
    texts = {
        S.ASSIGNED: (pgettext("portal event", "An engineer was assigned"), "bi-person-check"),
        S.IN_PROGRESS: (pgettext("portal event", "An engineer is working on it"), "bi-tools"),
        S.WAITING_CUSTOMER: (pgettext("portal event", "The service desk is waiting for your answer"),
                             "bi-hourglass-split"),
        S.WAITING_THIRD_PARTY: (pgettext("portal event", "Waiting for a supplier or another party"),
                                "bi-hourglass-split"),
        S.RESOLVED: (pgettext("portal event", "Resolved: please confirm, or reply if it is not fixed"),
                     "bi-check2-circle"),
        S.CLOSED: (pgettext("portal event", "Closed"), "bi-archive"),
        S.NEW: (pgettext("portal event", "Received"), "bi-inbox"),
    }
    return texts.get(new)


def items(ticket: Ticket) -> list[Item]:
    """The customer's timeline of `ticket`, oldest first."""
    out: list[Item] = []
    for entry in public_entries(ticket):
        if entry.kind == EntryKind.REPLY:
            data = entry.data or {}
            opening = bool(data.get("opening"))
            # The opening message is the requester's; a reply is the customer's when it came from
            # their side (portal, mail, chat), otherwise the desk's.
            from_desk = not opening and not data.get("customer", False)
            author = (entry.author_name if opening else "") or _person(entry.author) or entry.author_name \
                or entry.author_email
            if from_desk and not author:
                author = _("Service desk")
            out.append(Item("message", entry.created_at, entry.pk, author=author, from_desk=from_desk,
                            opening=opening, body=entry.body, attachments=list(entry.attachments.all())))
        elif entry.event == "status":
            worded = _status_text(entry.data or {})
            if worded is not None:
                out.append(Item("event", entry.created_at, entry.pk, text=worded[0], icon=worded[1]))
        elif entry.event == "merged_into":
            target = (entry.data or {}).get("target")
            out.append(Item("event", entry.created_at, entry.pk, icon="bi-union", link=target,
                            text=pgettext("portal event", "Merged into request #%(number)s; the conversation "
                                                          "continues there.") % {"number": target}))
        elif entry.event == "merged_from":
            source = (entry.data or {}).get("source")
            out.append(Item("event", entry.created_at, entry.pk, icon="bi-union",
                            text=pgettext("portal event", "Request #%(number)s was merged into this one.")
                            % {"number": source}))
    return out
