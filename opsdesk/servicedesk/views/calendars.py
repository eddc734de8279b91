"""A business calendar's year: every day marked (working day, weekend, holiday, swapped working
day, not known yet), the form that adds days, and the warning that the calendar runs out."""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from opsdesk.core.generic.forms import apply_errors, style_widgets
from opsdesk.core.permissions import STAFF, can
from opsdesk.core.views.generic import MAX_ID
from opsdesk.servicedesk.models import BusinessCalendar
from opsdesk.servicedesk.sla import chinese, services, status
from opsdesk.servicedesk.sla.calendar import DayPlan, compile_calendar
from opsdesk.servicedesk.sla.forms import AddDaysForm, add_days_params
from opsdesk.servicedesk.sla.hours import format_hours

FIRST_YEAR, LAST_YEAR = services.FIRST_YEAR, services.LAST_YEAR
# Short enough for a month of 7 narrow columns ("星期一" is not): translated as 一 二 三….
WEEKDAY_INITIALS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


@dataclass
class Cell:
    day: dt.date | None
    plan: DayPlan | None = None
    today: bool = False
    label: str = ""
    hours: str = ""

    @property
    def css(self) -> str:
        if self.plan is None:
            return "blank"
        return f"{self.plan.kind}{' unknown' if self.plan.fallback else ''}"


def _month(cal, year: int, month: int, today: dt.date) -> dict:
    weeks = []
    for week in pycalendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        row = []
        for day in week:
            if day.month != month:
                row.append(Cell(None))
                continue
            plan = cal.plan(day)
            row.append(Cell(day, plan, day == today, chinese.holiday_label(plan.name) if plan.name else "",
                            format_hours(plan.intervals)))
        weeks.append(row)
    return {"number": month, "first": dt.date(year, month, 1), "weeks": weeks}


@login_required
def calendar_year(request, pk: int):
    if getattr(request.user, "role", None) not in STAFF or not 0 < pk <= MAX_ID:
        raise Http404
    calendar = get_object_or_404(BusinessCalendar, pk=pk)
    cal = compile_calendar(calendar)
    today = timezone.now().astimezone(cal.zone).date()
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    year = min(max(year, FIRST_YEAR), LAST_YEAR)
    may_add = can(request.user, "add_days", calendar) and not calendar.always_open
    form = AddDaysForm(request.POST if request.method == "POST" else None)
    style_widgets(form)
    if request.method == "POST":
        if not may_add:
            raise PermissionDenied(_("You do not have permission to do this."))
        if form.is_valid():
            try:
                services.add_days(calendar, actor=request.user, **add_days_params(form.cleaned_data))
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                specs = form.cleaned_data["specs"]
                count = sum((s.last - s.first).days + 1 for s in specs)
                messages.success(request, _("%(count)d days set.") % {"count": count})
                shown = specs[0].first.year if specs else year
                return HttpResponseRedirect(f"{reverse('servicedesk:calendar_year', args=[pk])}?year={shown}")
    cal = compile_calendar(BusinessCalendar.objects.get(pk=pk))
    months = [_month(cal, year, m, today) for m in range(1, 13)]
    known = chinese.known_range()
    return render(request, "servicedesk/sla/calendar_year.html", {
        "calendar": calendar, "year": year, "months": months, "form": form, "may_add": may_add,
        "runs_out": status.runs_out(calendar, today), "previous": year - 1, "next": year + 1, "this_year": today.year,
        "package_version": chinese.package_version(), "package_until": known[1] if known else None,
        "weekday_names": [pgettext("weekday, one or two letters", name) for name in WEEKDAY_INITIALS],
        "unknown_days": sum(1 for m in months for w in m["weeks"] for c in w if c.plan and c.plan.fallback)},
        status=400 if form.errors else 200)
