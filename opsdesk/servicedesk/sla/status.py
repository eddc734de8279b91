"""Whether a business calendar is about to run out of known holidays: warned 60 days before the
last day chinese-calendar or the administrator covers, on the calendar's page and, for calendars
in use, on the dashboard."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

from opsdesk.servicedesk.models import BusinessCalendar, SLAClock, SLAPolicy
from opsdesk.servicedesk.sla.calendar import compile_calendar

WARN_DAYS = 60


@dataclass(frozen=True)
class RunsOut:
    calendar: BusinessCalendar
    runs_out_on: dt.date | None  # None: never (no State Council notices followed)
    days_left: int | None
    warn: bool      # within WARN_DAYS of the end, or past it
    past: bool      # already past it: clocks count weekday hours for the days after
    in_use: bool


def in_use(calendar: BusinessCalendar) -> bool:
    """Named by an SLA policy, the default for policies without one, or counting a running clock."""
    return calendar.is_default or SLAPolicy.objects.filter(calendar=calendar).exists() or \
        SLAClock.objects.filter(calendar=calendar, stopped_at__isnull=True).exists()


def runs_out(calendar: BusinessCalendar, today: dt.date) -> RunsOut:
    end = compile_calendar(calendar).runs_out_on
    if end is None:
        return RunsOut(calendar, None, None, False, False, in_use(calendar))
    left = (end - today).days
    return RunsOut(calendar, end, left, left <= WARN_DAYS, left < 0, in_use(calendar))


def calendars_running_out(today: dt.date) -> list[RunsOut]:
    """Calendars in use whose known holidays end within WARN_DAYS (or already ended)."""
    found = []
    used = Q(is_default=True) | Q(policies__isnull=False)
    for calendar in BusinessCalendar.objects.filter(chinese_holidays=True, always_open=False).filter(used).distinct():
        status = runs_out(calendar, today)
        if status.warn:
            found.append(status)
    return found
