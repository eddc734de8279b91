"""iCalendar out and in.

Out: each person's shifts over every schedule for the next 60 days, at a URL that calendar apps
subscribe to without logging in (`feed_token`/`user_for_token`: signed with the secret key, so
it cannot be guessed or changed to another person's).

In: a schedule seeded from an iCalendar file or URL, as Grafana OnCall and PagerDuty export them.
Each event (each occurrence of a recurring one) becomes an override carrying the event's UID, so a
refresh replaces exactly the overrides the feed made and leaves people's own ones alone. The
person is the event's attendee or organizer (by email), else its summary (an email, a username,
or PagerDuty's "On Call - NAME - SCHEDULE"). Events naming nobody we know are reported back,
never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from dateutil import rrule
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from opsdesk.core.models import User
from opsdesk.notify.models import Override, Schedule

if TYPE_CHECKING:
    # Imported where a calendar is made or read: icalendar costs every process 6 MB at rest.
    import icalendar
from opsdesk.notify.oncall import shifts, zone_of

EXPORT_DAYS = 60
# How far back and ahead a feed's events are read (recurring events are expanded in this window).
IMPORT_BACK_DAYS = 1
IMPORT_AHEAD_DAYS = 90
MAX_FEED_BYTES = 5 * 1024 * 1024
FEED_TIMEOUT_S = 20.0
TOKEN_SALT = "opsdesk.notify.oncall-ical"
PRODID = "-//opsdesk//on-call//EN"
EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


# --- out ----------------------------------------------------------------------------------------

def feed_token(user: User) -> str:
    """The secret part of a person's calendar URL. It carries the user's id and a piece of their
    password hash, so setting a new password revokes every URL given out before."""
    return signing.dumps({"u": user.pk, "p": user.password[-8:]}, salt=TOKEN_SALT, compress=True)


def user_for_token(token: str) -> User | None:
    try:
        data = signing.loads(token, salt=TOKEN_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    if user is None or user.password[-8:] != data.get("p"):
        return None
    return user


def schedules_of(user: User):
    """The schedules in which `user` takes shifts or has an override."""
    return Schedule.objects.filter(Q(rotations__members__user=user) | Q(overrides__user=user)).distinct()


def user_calendar(user: User, *, now: dt.datetime | None = None, days: int = EXPORT_DAYS) -> bytes:
    start = now or timezone.now()
    end = start + dt.timedelta(days=days)
    import icalendar

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"On call: {user.username}")
    for schedule in schedules_of(user).order_by("name"):
        for shift in shifts(schedule, start, end):
            if shift.user.pk != user.pk:
                continue
            event = icalendar.Event()
            event.add("uid", f"opsdesk-{schedule.pk}-{user.pk}-{int(shift.start.timestamp())}@opsdesk")
            event.add("summary", f"{schedule.name}: {user.username}")
            event.add("dtstart", shift.start)
            event.add("dtend", shift.end)
            event.add("dtstamp", start)
            event.add("location", "override" if shift.override is not None else f"layer {shift.layer}")
            event.add("attendee", f"mailto:{user.email}" if user.email else f"opsdesk:{user.username}")
            calendar.add_component(event)
    return calendar.to_ical()


# --- in -----------------------------------------------------------------------------------------

@dataclass
class ImportReport:
    created: int = 0
    removed: int = 0
    # (summary, start) of each event naming nobody we know.
    unmatched: list[tuple[str, dt.datetime]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _candidates(event: icalendar.Event) -> list[str]:
    """What an event says about its person, most telling first: attendees' and the organizer's
    email, then the summary and the emails and names in it."""
    found: list[str] = []
    attendees = event.get("attendee")
    for value in (attendees if isinstance(attendees, list) else [attendees] if attendees else []):
        found.append(str(value))
    if event.get("organizer"):
        found.append(str(event.get("organizer")))
    # Grafana OnCall's rotations name the priority level first: "[L1] ann".
    summary = re.sub(r"^\[L\d+\]\s*", "", str(event.get("summary", "")).strip())
    found += EMAIL.findall(summary)
    # PagerDuty: "On Call - Jane Doe - Primary"; Grafana OnCall: the username alone.
    parts = [p.strip() for p in summary.split(" - ")]
    if len(parts) >= 2 and parts[0].lower() in ("on call", "on-call", "oncall"):
        found.append(parts[1])
    found.append(summary)
    return [c.removeprefix("mailto:").removeprefix("MAILTO:").strip() for c in found if c]


def match_user(event: icalendar.Event) -> User | None:
    users = User.objects.filter(is_active=True)
    for candidate in _candidates(event):
        if not candidate:
            continue
        if "@" in candidate:
            user = users.filter(email__iexact=candidate).first()
        else:
            user = users.filter(username__iexact=candidate).first()
            if user is None and " " in candidate:
                first, _sep, last = candidate.partition(" ")
                user = users.filter(first_name__iexact=first, last_name__iexact=last).first()
        if user is not None:
            return user
    return None


def _as_instant(value, zone: dt.tzinfo) -> dt.datetime:
    """An event time as an aware instant: a floating time or a whole day is in the schedule's zone."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def _occurrences(event: icalendar.Event, zone: dt.tzinfo, start: dt.datetime,
                 end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    begin_raw = event.decoded("dtstart")
    first = _as_instant(begin_raw, zone)
    if event.get("dtend") is not None:
        length = _as_instant(event.decoded("dtend"), zone) - first
    elif event.get("duration") is not None:
        length = event.decoded("duration")
    else:
        length = dt.timedelta(days=1) if not isinstance(begin_raw, dt.datetime) else dt.timedelta(0)
    if length <= dt.timedelta(0):
        return []
    if event.get("rrule") is None:
        return [(first, first + length)] if first < end and first + length > start else []
    # Recurrences are expanded in the event's own zone, so a weekly 09:00 stays 09:00 across DST.
    local_zone = begin_raw.tzinfo if isinstance(begin_raw, dt.datetime) and begin_raw.tzinfo else zone
    local_first = first.astimezone(local_zone)
    rule = rrule.rrulestr(event.get("rrule").to_ical().decode(), dtstart=local_first, forceset=True)
    exdates = event.get("exdate")
    for group in (exdates if isinstance(exdates, list) else [exdates] if exdates else []):
        for item in group.dts:
            rule.exdate(_as_instant(item.dt, zone).astimezone(local_zone))
    result = []
    for occurrence in rule.between((start - length).astimezone(local_zone), end.astimezone(local_zone), inc=True):
        instant = occurrence.astimezone(dt.UTC)
        if instant < end and instant + length > start:
            result.append((instant, instant + length))
    return result


def read_events(schedule: Schedule, data: bytes | str, *, now: dt.datetime | None = None):
    """(uid, start, end, user or None, summary) of every event occurrence in the import window."""
    import icalendar

    calendar = icalendar.Calendar.from_ical(data)
    zone = zone_of(schedule)
    moment = now or timezone.now()
    start, end = moment - dt.timedelta(days=IMPORT_BACK_DAYS), moment + dt.timedelta(days=IMPORT_AHEAD_DAYS)
    events = [c for c in calendar.walk("VEVENT")]
    # Moved occurrences (RECURRENCE-ID) replace the occurrence of their series they name.
    moved: dict[str, set[dt.datetime]] = {}
    for event in events:
        if event.get("recurrence-id") is not None:
            moved.setdefault(str(event.get("uid")), set()).add(_as_instant(event.decoded("recurrence-id"), zone))
    found = []
    for event in events:
        if str(event.get("status", "")).upper() == "CANCELLED" or str(event.get("transp", "")).upper() == "TRANSPARENT":
            continue
        uid = str(event.get("uid", "")) or f"{event.get('summary', '')}-{event.get('dtstart').to_ical().decode()}"
        user = match_user(event)
        summary = str(event.get("summary", ""))
        skip = moved.get(uid, set()) if event.get("recurrence-id") is None else set()
        for begin, finish in _occurrences(event, zone, start, end):
            if begin in skip:
                continue
            found.append((f"{uid}#{begin:%Y%m%dT%H%M%SZ}"[:300], begin, finish, user, summary))
    return found


def import_calendar(schedule: Schedule, data: bytes | str, *, now: dt.datetime | None = None) -> ImportReport:
    """Replace the schedule's feed overrides by the events of `data`, in one transaction. Called by
    the domain functions in oncall_services (which check who may)."""
    report = ImportReport()
    try:
        events = read_events(schedule, data, now=now)
    except (ValueError, KeyError, TypeError) as exc:
        report.errors.append(str(exc)[:300])
        return report
    with transaction.atomic():
        stale = schedule.overrides.exclude(ical_uid="")
        report.removed = stale.count()
        stale.delete()
        rows = []
        for uid, begin, finish, user, summary in events:
            if user is None:
                report.unmatched.append((summary, begin))
                continue
            rows.append(Override(schedule=schedule, user=user, starts_at=begin, ends_at=finish,
                                 reason=summary[:200], ical_uid=uid))
        Override.objects.bulk_create(rows)
        report.created = len(rows)
    return report


def fetch(url: str) -> bytes:
    """The feed's body (webcal:// read as https://), at most MAX_FEED_BYTES."""
    if url.startswith("webcal://"):
        url = "https://" + url.removeprefix("webcal://")
    with httpx.Client(timeout=FEED_TIMEOUT_S, follow_redirects=True) as client, \
            client.stream("GET", url) as response:
        response.raise_for_status()
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_FEED_BYTES:
                raise ValueError(f"the feed is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB")
        return body


def refresh_feed(schedule: Schedule, *, now: dt.datetime | None = None) -> ImportReport:
    try:
        data = fetch(schedule.ical_url)
    except (httpx.HTTPError, ValueError) as exc:
        report = ImportReport()
        report.errors.append(str(exc)[:300])
        return report
    return import_calendar(schedule, data, now=now)


def refresh_all_feeds() -> int:
    """Refresh every schedule that has a feed URL; the number refreshed without error."""
    done = 0
    for schedule in Schedule.objects.exclude(ical_url=""):
        if not refresh_feed(schedule).errors:
            done += 1
    return done
