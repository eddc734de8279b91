"""The SLA engine in the registry: business calendars (with the "add days" action, the year page
and the warning that a calendar runs out), their days, the SLA policies of the service levels,
the seed calendars, the dashboard warning and the sweep's task."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry
from opsdesk.core.audit import register as audit
from opsdesk.core.permissions import MANAGERS, STAFF, can
from opsdesk.core.registry import Action, DetailPanel, ModelEntry
from opsdesk.servicedesk.models import BusinessCalendar, CalendarDay, SLAPolicy
from opsdesk.servicedesk.sla import listeners, services, status, tasks  # noqa: F401  (they register themselves)
from opsdesk.servicedesk.sla.forms import AddDaysForm, add_days_params


def _add_days(calendar: BusinessCalendar, *, actor, **params: Any) -> BusinessCalendar:
    services.add_days(calendar, actor=actor, **add_days_params(params))
    return calendar


registry.register(ModelEntry(
    BusinessCalendar, tenant_path=None, menu="servicedesk", view_roles=STAFF, edit_roles=MANAGERS,
    columns=["name", "time_zone", "always_open", "chinese_holidays", "holidays_entered_until", "is_default"],
    search_fields=["name", "description"], url_slug="calendars",
    actions=[Action("add_days", _("Add days"), _add_days, roles=MANAGERS, icon="bi-calendar-plus",
                    form=AddDaysForm, available=lambda c: not c.always_open)],
))
registry.register(ModelEntry(
    CalendarDay, tenant_path=None, view_roles=STAFF, edit_roles=MANAGERS,
    columns=["date", "calendar", "kind", "name", "hours"], search_fields=["name"], select_related=("calendar",),
    url_slug="calendardays", ordering=("calendar", "date"),
))
registry.register(ModelEntry(
    SLAPolicy, tenant_path=None, menu="servicedesk", view_roles=STAFF, edit_roles=MANAGERS,
    columns=["service_level", "calendar", "warn_at", "update_minutes", "escalation_policy"],
    select_related=("service_level", "calendar", "escalation_policy"), url_slug="slapolicies",
))

audit("servicedesk.BusinessCalendar")
audit("servicedesk.CalendarDay")
audit("servicedesk.SLAPolicy")


def _calendar_panel(request, calendar: BusinessCalendar) -> dict | None:
    return {"calendar": calendar, "runs_out": status.runs_out(calendar, timezone.localdate()),
            "year_url": reverse("servicedesk:calendar_year", args=[calendar.pk]),
            "can_add": can(request.user, "add_days", calendar) and not calendar.always_open}


registry.add_detail_panel(BusinessCalendar, DetailPanel(
    "sla_calendar_year", _("Holidays and working days"), "servicedesk/sla/calendar_panel.html",
    context=_calendar_panel, order=10))


def sla_widgets(request) -> list[dict]:
    """The dashboard's warning: calendars in use whose known holidays run out within 60 days."""
    if getattr(request.user, "role", None) not in STAFF:
        return []
    rows = []
    for found in status.calendars_running_out(timezone.localdate()):
        note = (gettext("Ran out on %(day)s: clocks count plain weekday hours after it.") if found.past
                else gettext("Runs out on %(day)s (in %(days)d days).")) % {
            "day": found.runs_out_on.isoformat(), "days": found.days_left}
        rows.append({"label": found.calendar.name, "note": note, "level": "danger" if found.past else "warning",
                     "url": reverse("servicedesk:calendar_year", args=[found.calendar.pk])})
    if not rows:
        return []
    return [{"kind": "list", "id": "sla-calendars-running-out", "title": gettext("Business calendars running out"),
             "rows": rows, "empty": ""}]


registry.add_dashboard_panel("servicedesk_sla", sla_widgets, order=60)
registry.add_setup_step("servicedesk_calendars", services.seed_calendars, order=70)
