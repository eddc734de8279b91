"""On-call pages: who is on call now (and next) in every schedule the person sees, a schedule's
two-week calendar with a "take over" on each shift, the person's own on-call page with their
calendar URL, and the iCalendar import of a schedule."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from opsdesk.core.permissions import STAFF, can
from opsdesk.core.views.generic import MAX_ID
from opsdesk.notify import ical, oncall, oncall_services
from opsdesk.notify.models import ContactMethod, Schedule
from opsdesk.notify.views.oncall_forms import CalendarUploadForm

CALENDAR_DAYS = 14


def _staff(request) -> None:
    if getattr(request.user, "role", None) not in STAFF:
        raise Http404


def _schedule(request, pk: int) -> Schedule:
    if not 0 < pk <= MAX_ID:
        raise Http404
    return get_object_or_404(oncall_services.visible_schedules(request.user).select_related("team"), pk=pk)


def person_zone(user) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(getattr(user, "time_zone", "") or settings.OPSDESK_TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        return zoneinfo.ZoneInfo("Asia/Shanghai")


def contacts_of(users) -> dict[int, list[ContactMethod]]:
    """Each user's enabled contact methods, in one query."""
    found: dict[int, list[ContactMethod]] = {u.pk: [] for u in users}
    for method in ContactMethod.objects.filter(user__in=list(found), enabled=True).select_related("channel"):
        found[method.user_id].append(method)
    return found


@dataclass
class NowRow:
    schedule: Schedule
    now: list
    next: oncall.Shift | None
    until: dt.datetime | None
    people: list | None = None
    next_methods: list | None = None


def now_rows(user, schedules, at: dt.datetime) -> list[NowRow]:
    rows = []
    for schedule in schedules:
        running = [s for s in oncall.shifts(schedule, at, at + dt.timedelta(days=35)) if s.start <= at]
        rows.append(NowRow(schedule, running, oncall.next_change(schedule, at),
                           min((s.end for s in running), default=None)))
    return rows


@login_required
def oncall_now(request):
    _staff(request)
    at = timezone.now()
    schedules = oncall_services.visible_schedules(request.user).select_related("team").order_by("name")
    rows = now_rows(request.user, schedules, at)
    people = {s.user for row in rows for s in row.now} | {row.next.user for row in rows if row.next}
    contacts = contacts_of(people)
    for row in rows:
        row.people = [{"shift": s, "methods": contacts[s.user.pk]} for s in row.now]
        row.next_methods = contacts[row.next.user.pk] if row.next else []
    return render(request, "notify/oncall_now.html", {
        "rows": rows, "zone": person_zone(request.user),
        "can_add": can(request.user, "add", Schedule)})


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


@dataclass
class DayCell:
    day: dt.date
    shifts: list
    today: bool


@login_required
def oncall_calendar(request, pk: int):
    _staff(request)
    schedule = _schedule(request, pk)
    zone = oncall.zone_of(schedule)
    today = timezone.now().astimezone(zone).date()
    asked = parse_date(request.GET.get("week", "") or "") if request.GET.get("week") else None
    first = _week_start(asked or today)
    start = dt.datetime.combine(first, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(first + dt.timedelta(days=CALENDAR_DAYS), dt.time(0), tzinfo=zone)
    timeline = oncall.shifts(schedule, start, end)
    days = []
    for offset in range(CALENDAR_DAYS):
        day = first + dt.timedelta(days=offset)
        day_start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
        cells = [{"shift": s, "from": max(s.start, day_start).astimezone(zone),
                  "to": min(s.end, day_end).astimezone(zone),
                  "starts_before": s.start < day_start, "ends_after": s.end > day_end}
                 for s in timeline if s.start < day_end and s.end > day_start]
        days.append(DayCell(day, cells, day == today))
    return render(request, "notify/oncall_calendar.html", {
        "schedule": schedule, "weeks": [days[:7], days[7:]], "zone": zone, "first": first,
        "previous": first - dt.timedelta(days=7), "next": first + dt.timedelta(days=7), "this_week": _week_start(today),
        "can_take_over": can(request.user, "take_over", schedule),
        "has_rotations": schedule.rotations.exists(), "empty": not timeline,
        "weekday_names": [days[i].day for i in range(7)]})


@require_POST
@login_required
def oncall_take_over(request, pk: int):
    """Take over one shift of the calendar (its period comes with the button), or from now."""
    _staff(request)
    schedule = _schedule(request, pk)
    if not can(request.user, "take_over", schedule):
        raise PermissionDenied(_("You do not have permission to do this."))
    times = {}
    for name in ("starts_at", "ends_at"):
        raw = request.POST.get(name, "")
        value = parse_datetime(raw) if raw else None
        if raw and (value is None or timezone.is_naive(value)):
            messages.error(request, _("The shift's time could not be read; nothing was changed."))
            return HttpResponseRedirect(reverse("notify:oncall_calendar", args=[schedule.pk]))
        times[name] = value
    now = timezone.now()
    if times["starts_at"] is not None and times["starts_at"] < now:
        times["starts_at"] = now  # the part of a running shift that is still to come
    try:
        override = oncall_services.take_over(schedule, actor=request.user, **times)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        zone = person_zone(request.user)
        messages.success(request, _("You are on call in %(schedule)s from %(start)s until %(end)s.") % {
            "schedule": schedule.name, "start": override.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "end": override.ends_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")})
    week = request.POST.get("week", "")
    return HttpResponseRedirect(reverse("notify:oncall_calendar", args=[schedule.pk]) +
                                (f"?week={week}" if parse_date(week or "") else ""))


@login_required
def oncall_mine(request):
    """The person's own on-call: their next shifts and the URL their calendar app subscribes to."""
    _staff(request)
    at = timezone.now()
    mine = []
    for schedule in ical.schedules_of(request.user).order_by("name"):
        mine += [(schedule, s) for s in oncall.shifts(schedule, at, at + dt.timedelta(days=ical.EXPORT_DAYS))
                 if s.user.pk == request.user.pk]
    mine.sort(key=lambda pair: pair[1].start)
    feed = request.build_absolute_uri(reverse("notify:oncall_ical", args=[ical.feed_token(request.user)]))
    return render(request, "notify/oncall_mine.html", {
        "shifts": mine[:50], "feed_url": feed, "zone": person_zone(request.user),
        "contacts": contacts_of([request.user])[request.user.pk]})


@login_required
def oncall_import(request, pk: int):
    """Seed a schedule from an uploaded .ics, or refresh it from its iCalendar URL."""
    _staff(request)
    schedule = _schedule(request, pk)
    if not can(request.user, "import_calendar", schedule):
        raise PermissionDenied(_("You do not have permission to do this."))
    form = CalendarUploadForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            if request.POST.get("source") == "url":
                report = oncall_services.refresh_ical(schedule, actor=request.user)
            else:
                upload = form.cleaned_data.get("file")
                if upload is None:
                    raise ValidationError({"file": _("Choose an .ics file.")})
                report = oncall_services.import_ical(schedule, actor=request.user, data=upload.read())
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error("file" if field not in form.fields else field, errors)
    zone = oncall.zone_of(schedule)
    unmatched = [(summary, start.astimezone(zone)) for summary, start in (report.unmatched if report else [])]
    return render(request, "notify/oncall_import.html", {
        "schedule": schedule, "form": form, "report": report, "unmatched": unmatched[:200],
        "more_unmatched": max(0, len(unmatched) - 200)}, status=400 if form.errors else 200)


def schedule_detail_context(request, schedule: Schedule) -> dict:
    """What the schedule's page shows beside its fields: who is on call now and next."""
    at = timezone.now()
    row = now_rows(request.user, [schedule], at)[0]
    return {"oncall_row": row, "zone": oncall.zone_of(schedule),
            "can_import": can(request.user, "import_calendar", schedule)}
