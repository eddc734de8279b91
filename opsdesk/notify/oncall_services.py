"""On-call's domain actions: take over a shift, add an override, seed a schedule from iCalendar.
Views, the API and tasks call these (permission, validation, one transaction, an audit row).

Also who sees which schedule: engineers the schedules of their teams (and those of no team),
administrators and service managers every one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from auditlog.context import disable_auditlog
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from opsdesk.core.actions import domain_action
from opsdesk.core.models import User
from opsdesk.core.permissions import ENGINEER, STAFF, is_active_user
from opsdesk.core.services import create_object
from opsdesk.notify import ical
from opsdesk.notify.models import EscalationPolicy, Override, Schedule
from opsdesk.notify.oncall import shift_end

# A take-over "from now" with nobody on call now lasts this long.
DEFAULT_TAKE_OVER = dt.timedelta(hours=12)
MAX_OVERRIDE = dt.timedelta(days=366)


# --- who sees which schedule ----------------------------------------------------------------------

def visible_schedules(user, queryset: QuerySet | None = None) -> QuerySet:
    """The schedules `user` may see: none for customer users, an engineer's teams' (and those of
    no team), every one for administrators and managers."""
    qs = queryset if queryset is not None else Schedule.objects.all()
    if not is_active_user(user) or getattr(user, "role", None) not in STAFF:
        return qs.none()
    if user.role == ENGINEER:
        return qs.filter(Q(team__isnull=True) | Q(team__members=user)).distinct()
    return qs


def visible_policies(user, queryset: QuerySet | None = None) -> QuerySet:
    qs = queryset if queryset is not None else EscalationPolicy.objects.all()
    if not is_active_user(user) or getattr(user, "role", None) not in STAFF:
        return qs.none()
    if user.role == ENGINEER:
        return qs.filter(Q(team__isnull=True) | Q(team__members=user)).distinct()
    return qs


def _through(visible: Callable[[Any], QuerySet], path: str) -> Callable[[Any, QuerySet], QuerySet]:
    def narrow(user, queryset: QuerySet) -> QuerySet:
        ids = visible(user).values("pk")
        return queryset.filter(pk__in=ids) if path == "pk" else queryset.filter(**{f"{path}__in": ids})

    return narrow


def schedules_through(path: str) -> Callable[[Any, QuerySet], QuerySet]:
    """The registry's `narrow` for a model reached from its schedule by `path` ("pk" for the
    schedule itself): an engineer sees what belongs to their teams' schedules (and those of no
    team) on every page, list, search, export and API answer alike."""
    return _through(visible_schedules, path)


def policies_through(path: str) -> Callable[[Any, QuerySet], QuerySet]:
    """The same for escalation policies and their steps."""
    return _through(visible_policies, path)


def may_see_schedule(user, schedule: Schedule) -> bool:
    return visible_schedules(user, Schedule.objects.filter(pk=schedule.pk)).exists()


# --- take over ----------------------------------------------------------------------------------

def _period(schedule: Schedule, starts_at: dt.datetime | None, ends_at: dt.datetime | None,
            now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The period of a take-over: as given, or from now to the end of the shift running now."""
    start = starts_at or now
    if ends_at is None:
        ends_at = shift_end(schedule, start) or start + DEFAULT_TAKE_OVER
    if ends_at <= now:
        raise ValidationError({"ends_at": _("The period is over already.")})
    if ends_at <= start:
        raise ValidationError({"ends_at": _("The end must be after the start.")})
    if ends_at - start > MAX_OVERRIDE:
        raise ValidationError({"ends_at": _("An override may last at most a year.")})
    return start, ends_at


def take_over(schedule: Schedule, *, actor: User, starts_at: dt.datetime | None = None,
              ends_at: dt.datetime | None = None, reason: str = "", user: User | None = None,
              now: dt.datetime | None = None) -> Override:
    """"I cover for her on Tuesday": an override putting the actor (or `user`, for a manager
    arranging cover) on call in `schedule` for the period, from now to the end of the current
    shift when no period is given."""
    moment = now or timezone.now()
    who = user or actor
    if who is None or not who.is_active or who.role not in STAFF:
        raise ValidationError({"user": _("Only an active staff member can be on call.")})
    with domain_action(actor, "take_over", schedule) as action:
        if actor is not None and not may_see_schedule(actor, schedule):
            from opsdesk.core.actions import permission_denied

            raise permission_denied()
        start, end = _period(schedule, starts_at, ends_at, moment)
        override = Override(schedule=schedule, user=who, starts_at=start, ends_at=end,
                            reason=(reason or _("Taken over"))[:200], created_by=actor)
        override.full_clean()
        # One audit row, on the schedule, says who took over when (the override's own creation
        # would be a second row about the same change).
        with disable_auditlog():
            override.save()
        action.audit(schedule, {"override": [None, f"#{override.pk} {who.username} {start.isoformat()} – "
                                                   f"{end.isoformat()}"]})
    return override


def create_override(data: dict[str, Any], *, actor: User | None) -> Override:
    """The generic "add override": the person adding it is kept as its author."""
    schedule = data.get("schedule")
    if actor is not None and schedule is not None and not may_see_schedule(actor, schedule):
        raise ValidationError({"schedule": _("Select a valid choice. That choice is not one of the available "
                                             "choices.")})
    def author(override: Override) -> None:
        override.created_by = actor if actor is not None and actor.pk else None

    return create_object(Override, data, actor=actor, prepare=author)


# --- iCalendar in ----------------------------------------------------------------------------------

def import_ical(schedule: Schedule, *, actor: User | None, data: bytes | str,
                now: dt.datetime | None = None) -> ical.ImportReport:
    """Seed `schedule` from an uploaded iCalendar file: its events replace the overrides the last
    import made; events naming nobody known are in the report."""
    with domain_action(actor, "import_calendar", schedule) as action:
        # One audit row for the import, not one per override it replaces or makes.
        with disable_auditlog():
            report = ical.import_calendar(schedule, data, now=now)
        if report.errors:
            raise ValidationError({"file": _("This is not an iCalendar file: %(reason)s") %
                                   {"reason": report.errors[0]}})
        action.audit(schedule, {"overrides from iCalendar": [report.removed, report.created],
                                "unmatched events": [None, len(report.unmatched)]})
    return report


def refresh_ical(schedule: Schedule, *, actor: User | None, now: dt.datetime | None = None) -> ical.ImportReport:
    """Read the schedule's iCalendar URL again."""
    if not schedule.ical_url:
        raise ValidationError({"ical_url": _("The schedule has no iCalendar URL.")})
    try:
        data = ical.fetch(schedule.ical_url)
    except Exception as exc:  # any failure of the feed is the person's to read
        raise ValidationError({"ical_url": _("The iCalendar URL could not be read: %(reason)s") %
                               {"reason": str(exc)[:200]}}) from None
    return import_ical(schedule, actor=actor, data=data, now=now)
