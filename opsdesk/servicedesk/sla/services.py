"""Writes of the SLA configuration that need more than the generic create and update: the days an
administrator adds to a business calendar (one, a range, or a whole State Council notice at
once), and the seed calendars. Each is one transaction with one audit row."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from auditlog.context import disable_auditlog
from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils.translation import gettext as _

from opsdesk.core.actions import domain_action, permission_denied
from opsdesk.core.models import User
from opsdesk.core.permissions import can
from opsdesk.servicedesk.models import BusinessCalendar, CalendarDay, DayKind
from opsdesk.servicedesk.sla.hours import parse_hours

# The years a calendar day may be in: before 2000 no ticket is open, after 2200 is a typo.
FIRST_YEAR, LAST_YEAR = 2000, 2200
# A notice's holiday lasts a few days; a range longer than this is a typo.
MAX_RANGE_DAYS = 31
# The keywords a line may use for the kind, in either language.
KIND_WORDS = {"holiday": DayKind.HOLIDAY, "假": DayKind.HOLIDAY, "休": DayKind.HOLIDAY, "放假": DayKind.HOLIDAY,
              "休息": DayKind.HOLIDAY, "workday": DayKind.WORKDAY, "work": DayKind.WORKDAY, "班": DayKind.WORKDAY,
              "上班": DayKind.WORKDAY, "补班": DayKind.WORKDAY}
_LINE = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2})(?:\s*(?:\.\.|~|至|到|–|—)\s*(\d{4}-\d{1,2}-\d{1,2}))?\s+(\S+)\s*(.*)$")


@dataclass(frozen=True)
class DaySpec:
    first: dt.date
    last: dt.date
    kind: str
    name: str = ""
    hours: str = ""


def parse_lines(text: str, field: str = "lines") -> list[DaySpec]:
    """"2027-01-01..2027-01-03 holiday 元旦" per line (or "2027-02-07 workday 春节补班"). Errors
    name `field` and the line."""
    specs, errors = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        kind = KIND_WORDS.get(match.group(3).lower()) if match else None
        if match is None or kind is None:
            errors.append(_("Line %(number)d: write “2027-01-01..2027-01-03 holiday 元旦” or “2027-02-07 workday "
                            "春节补班”.") % {"number": number})
            continue
        try:
            first = dt.date.fromisoformat(_iso(match.group(1)))
            last = dt.date.fromisoformat(_iso(match.group(2))) if match.group(2) else first
        except ValueError:
            errors.append(_("Line %(number)d: that is not a date.") % {"number": number})
            continue
        specs.append(DaySpec(first, last, kind, match.group(4).strip()[:100]))
    if errors:
        raise ValidationError({field: errors})
    return specs


def _iso(text: str) -> str:
    year, month, day = text.split("-")
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


def _check(specs: list[DaySpec], field: str) -> None:
    errors: dict[str, list[str]] = {}
    for spec in specs:
        if not (FIRST_YEAR <= spec.first.year and spec.last.year <= LAST_YEAR):
            errors.setdefault(field, []).append(_("Give a day between %(first)d and %(last)d.") % {
                "first": FIRST_YEAR, "last": LAST_YEAR})
        elif spec.last < spec.first:
            errors.setdefault(field, []).append(
                _("%(last)s is before %(first)s.") % {"last": spec.last.isoformat(), "first": spec.first.isoformat()})
        elif (spec.last - spec.first).days >= MAX_RANGE_DAYS:
            errors.setdefault(field, []).append(
                _("%(first)s to %(last)s is more than %(days)d days.") % {
                    "first": spec.first.isoformat(), "last": spec.last.isoformat(), "days": MAX_RANGE_DAYS})
        if spec.kind not in DayKind.values:
            errors.setdefault("kind", []).append(_("Choose holiday or working day."))
        if spec.kind == DayKind.HOLIDAY and spec.hours.strip():
            errors.setdefault("hours", []).append(_("A holiday has no working hours."))
        try:
            parse_hours(spec.hours)
        except ValidationError as exc:
            errors.setdefault("hours", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)


def add_days(calendar: BusinessCalendar, *, actor: User | None, specs: list[DaySpec],
             entered_until: dt.date | None = None, field: str = "first") -> list[CalendarDay]:
    """Set the days of `specs` (a day already set is replaced) and, with `entered_until`, say the
    calendar's own days complete the notices up to that day. One audit row on the calendar."""
    if actor is not None and not can(actor, "add_days", calendar):
        raise permission_denied()
    if not specs and entered_until is None:
        raise ValidationError({field: _("Give at least one day.")})
    _check(specs, field)
    if entered_until is not None and not FIRST_YEAR <= entered_until.year <= LAST_YEAR:
        raise ValidationError({"entered_until": _("Give a day between %(first)d and %(last)d.") % {
            "first": FIRST_YEAR, "last": LAST_YEAR}})
    with domain_action(actor, "add_days", calendar) as context:
        before = calendar.holidays_entered_until
        # The action's one audit row below says what changed; not one row per day besides.
        with disable_auditlog():
            written = _write(calendar, specs, entered_until, before)
        BusinessCalendar.objects.filter(pk=calendar.pk).update(version=F("version") + 1)
        context.audit(calendar, {
            "days": [None, "; ".join(_describe(s) for s in specs)],
            **({"holidays_entered_until": [before.isoformat() if before else None, entered_until.isoformat()]}
               if entered_until is not None and entered_until != before else {})})
    return written


def _write(calendar: BusinessCalendar, specs: list[DaySpec], entered_until: dt.date | None,
           before: dt.date | None) -> list[CalendarDay]:
    written = []
    for spec in specs:
        for offset in range((spec.last - spec.first).days + 1):
            row, _created = CalendarDay.objects.update_or_create(
                calendar=calendar, date=spec.first + dt.timedelta(days=offset),
                defaults={"kind": spec.kind, "name": spec.name, "hours": spec.hours})
            written.append(row)
    if entered_until is not None and entered_until != before:
        calendar.holidays_entered_until = entered_until
        calendar.save(update_fields=["holidays_entered_until", "updated_at"])
    return written


def _describe(spec: DaySpec) -> str:
    span = spec.first.isoformat() if spec.first == spec.last else f"{spec.first.isoformat()}..{spec.last.isoformat()}"
    return " ".join(p for p in (span, spec.kind, spec.name, spec.hours) if p)


# --- seed ----------------------------------------------------------------------------------------

ALWAYS_OPEN_NAME = "7×24"
CHINA_NAME = "China working days 9:00–18:00 (Asia/Shanghai)"


def seed_calendars() -> str | None:
    """The two calendars every installation starts with (idempotent: made once, never changed
    afterwards, so an administrator's edits stay)."""
    made = []
    if not BusinessCalendar.objects.filter(name=ALWAYS_OPEN_NAME).exists():
        BusinessCalendar.objects.create(name=ALWAYS_OPEN_NAME, always_open=True, time_zone="Asia/Shanghai",
                                        description="Every hour of every day (7×24 contracts).")
        made.append(ALWAYS_OPEN_NAME)
    if not BusinessCalendar.objects.filter(name=CHINA_NAME).exists():
        BusinessCalendar.objects.create(
            name=CHINA_NAME, time_zone="Asia/Shanghai", chinese_holidays=True,
            is_default=not BusinessCalendar.objects.filter(is_default=True).exists(),
            description="Monday to Friday 9:00–18:00, China's statutory holidays and swapped working days.")
        made.append(CHINA_NAME)
    return f"business calendars created: {', '.join(made)}" if made else None
