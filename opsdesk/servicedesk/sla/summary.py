"""A ticket's SLA as the pages and the API show it: `sla_summary(ticket, now)`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext

from opsdesk.servicedesk.models import SLAClock, Ticket
from opsdesk.servicedesk.sla import clocks as clock_engine
from opsdesk.servicedesk.sla.calendar import compile_calendar
from opsdesk.servicedesk.sla.format import duration


def _clocks(ticket: Ticket) -> list[SLAClock]:
    cache = getattr(ticket, "_prefetched_objects_cache", {})
    if "sla_clocks" in cache:
        return sorted(cache["sla_clocks"], key=lambda c: (c.started_at, c.pk))
    return list(ticket.sla_clocks.select_related("calendar").order_by("started_at", "pk"))


def clock_summary(clock: SLAClock, now: dt.datetime) -> dict[str, Any]:
    cal = compile_calendar(clock.calendar if clock.calendar_id else None)
    left = clock.target_seconds - clock_engine.used_seconds(clock, cal, now)
    breached = clock.breached_at is not None or (clock.running and not clock.paused and clock.due_at is not None
                                                 and clock.due_at <= now)
    if clock.stopped_at is not None:
        state = "breached" if clock.breached_at is not None else "met"
    elif breached:
        state = "breached"
    elif clock.paused:
        state = "paused"
    elif clock.warned_percent:
        state = "warning"
    else:
        state = "running"
    return {"kind": clock.kind, "label": str(clock.get_kind_display()), "state": state, "due_at": clock.due_at,
            "seconds_left": round(left), "paused": clock.paused, "breached": breached,
            "calendar": cal.name, "fallback": clock.fallback, "stopped_at": clock.stopped_at}


def sla_summary(ticket: Ticket, now: dt.datetime) -> dict[str, Any]:
    """state ("", running, warning, breached, paused, met), due_at (the nearest running due date),
    seconds_left (business seconds left of that clock; negative when breached), paused, breached,
    overdue_seconds (wall-clock seconds since a breached due date), fallback_notice (text when the
    count used plain weekday hours for days the calendar does not know), text (the badge's words)
    and clocks (each clock's own summary)."""
    found = _clocks(ticket)
    each = [clock_summary(c, now) for c in found]
    state, due_at = clock_engine.state_of(found, now)
    running = [s for s in each if s["stopped_at"] is None]
    nearest = min(running, key=lambda s: (s["state"] != "breached", s["seconds_left"]), default=None)
    seconds_left = nearest["seconds_left"] if nearest else None
    overdue = 0
    if state == "breached" and nearest is not None and nearest["due_at"] is not None:
        overdue = max(0, round((now - nearest["due_at"]).total_seconds()))
    fallback = any(s["fallback"] for s in running)
    notice = ""
    if fallback:
        notice = gettext("The calendar does not know the holidays of some of these days yet: plain weekday hours "
                         "were counted there. An administrator enters them on the calendar's page.")
    return {"state": state, "due_at": due_at, "seconds_left": seconds_left, "paused": state == "paused",
            "breached": state == "breached", "overdue_seconds": overdue, "fallback": fallback,
            "fallback_notice": notice, "text": _text(state, seconds_left, overdue), "clocks": each}


def _text(state: str, seconds_left: float | None, overdue: int) -> str:
    if state == "breached":
        return gettext("breached %(ago)s ago") % {"ago": duration(overdue)} if overdue else gettext("breached")
    if state == "paused":
        if seconds_left is not None:
            return gettext("paused, %(left)s left") % {"left": duration(seconds_left)}
        return gettext("paused")
    if state in ("running", "warning") and seconds_left is not None:
        return gettext("%(left)s left") % {"left": duration(seconds_left)}
    if state == "met":
        return gettext("met")
    return ""
