"""The words and colours of a ticket's status, priority and SLA in a list: computed once per row
in Python, with the translations looked up once per page (a queue of 100 rows through template
includes and `naturaltime` cost more than its queries)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from opsdesk.servicedesk.models import Priority, TicketStatus

PRIORITY_CSS = {"p1": "danger", "p2": "warning", "p3": "info", "p4": "secondary"}
STATUS_CSS = {"new": "info", "assigned": "primary", "in_progress": "primary", "waiting_customer": "warning",
              "waiting_third_party": "warning", "resolved": "success", "closed": "secondary"}
SLA_CSS = {"breached": "text-bg-danger", "warning": "text-bg-warning", "paused": "text-bg-secondary",
           "met": "text-bg-success", "running": "text-bg-light border"}


class Words:
    """The translated words a page of rows needs, looked up once."""

    def __init__(self) -> None:
        self.status = {s.value: str(s.label) for s in TicketStatus}
        self.priority = {p.value: str(p.label) for p in Priority}
        self.paused, self.met = _("SLA paused"), _("SLA met")
        # Wall-clock time to the due date (the ticket page tells the business time left).
        self.left, self.overdue = _("due in %(time)s"), _("%(time)s overdue")
        self.day, self.hour, self.minute = _("%(n)d d"), _("%(n)d h"), _("%(n)d min")

    def duration(self, seconds: float) -> str:
        minutes = int(abs(seconds) // 60)
        days, rest = divmod(minutes, 1440)
        hours, minutes = divmod(rest, 60)
        if days:
            return f"{self.day % {'n': days}} {self.hour % {'n': hours}}" if hours else self.day % {"n": days}
        if hours:
            return f"{self.hour % {'n': hours}} {self.minute % {'n': minutes}}" if minutes else \
                self.hour % {"n": hours}
        return self.minute % {"n": minutes}


def sla(ticket, now: dt.datetime, words: Words) -> dict[str, Any] | None:
    """The SLA badge of a ticket: None when it has no SLA."""
    state = ticket.sla_state
    if not state:
        return None
    css = SLA_CSS.get(state, "text-bg-light border")
    if state == "paused":
        return {"css": css, "text": words.paused, "state": state}
    if state == "met" or ticket.sla_due_at is None:
        return {"css": SLA_CSS["met"], "text": words.met, "state": state}
    seconds = (ticket.sla_due_at - now).total_seconds()
    if seconds < 0:
        return {"css": SLA_CSS["breached"], "text": words.overdue % {"time": words.duration(seconds)},
                "state": "breached", "due_at": ticket.sla_due_at}
    return {"css": css, "text": words.left % {"time": words.duration(seconds)}, "state": state,
            "due_at": ticket.sla_due_at}


def rows(tickets, now: dt.datetime) -> list[dict[str, Any]]:
    words = Words()
    return [{"ticket": t, "status": words.status.get(t.status, t.status),
             "priority": words.priority.get(t.priority, t.priority),
             "priority_css": PRIORITY_CSS.get(t.priority, "secondary"), "sla": sla(t, now, words)}
            for t in tickets]
