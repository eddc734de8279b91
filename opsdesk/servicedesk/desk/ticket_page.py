"""What the ticket page shows: the timeline in the reader's words, the composer with macros,
the SLA, and the CI panel (its checks, the last 24 hours of its charts, its open alerts) so the
engineer diagnoses with the monitoring data beside the conversation."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for
from opsdesk.monitoring import panels
from opsdesk.monitoring.models import OPEN_STATES, Alert
from opsdesk.servicedesk.desk import badges
from opsdesk.servicedesk.models import Macro, Priority, Ticket, TicketEntry, TicketStatus
from opsdesk.servicedesk.models.tickets import EntryKind

# How many entries the page shows at once (a ticket with a long history keeps its page fast;
# the rest is one click away).
TIMELINE_LIMIT = 200
ITEMS_ON_PAGE = 3



def sla_state_words() -> dict[str, str]:
    return {"running": _("running"), "warning": _("warning"), "breached": _("breached"), "paused": _("paused"),
            "met": _("met")}


def event_text(entry: TicketEntry) -> str:
    """An event in the reader's language (events are stored as data, not words)."""
    data = entry.data or {}
    event = entry.event
    if event == "status":
        return _("Status: %(old)s → %(new)s") % {"old": _label(TicketStatus, data.get("old")),
                                                 "new": _label(TicketStatus, data.get("new"))}
    if event == "assigned":
        who = data.get("assignee_name") or _("nobody")
        team = data.get("team_name")
        return (_("Assigned to %(who)s (%(team)s)") % {"who": who, "team": team}) if team else \
            _("Assigned to %(who)s") % {"who": who}
    if event == "priority":
        return _("Priority: %(old)s → %(new)s") % {"old": _label(Priority, data.get("old")),
                                                   "new": _label(Priority, data.get("new"))}
    if event == "reopened":
        return _("Reopened")
    if event == "survey_low":
        return _("Low satisfaction rating: %(rating)s/5") % {"rating": data.get("rating", "")}
    if event == "merged_into":
        return _("Merged into #%(number)s") % {"number": data.get("target")}
    if event == "merged_from":
        return _("Ticket #%(number)s was merged into this one") % {"number": data.get("source")}
    if event == "linked":
        return _("Linked to #%(number)s") % {"number": data.get("target")}
    if event == "alert_linked":
        return _("Alert joined this incident: %(title)s") % {"title": data.get("title", "")}
    if event == "alert_resolved":
        return _("Alert resolved: %(title)s") % {"title": data.get("title", "")}
    if event == "sla_warning":
        return _("SLA: %(percent)s%% of the %(clock)s time used") % {
            "percent": data.get("percent", ""), "clock": _clock_name(data.get("clock", ""))}
    if event == "sla_breached":
        return _("SLA breached: %(clock)s") % {"clock": _clock_name(data.get("clock", ""))}
    return event.replace("_", " ")


def _clock_name(kind: str) -> str:
    return {"response": _("first response"), "resolution": _("resolution"), "update": _("update")}.get(kind, kind)


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


def timeline(ticket: Ticket, *, staff: bool) -> list[dict[str, Any]]:
    entries = ticket.entries.select_related("author").prefetch_related("attachments")
    if not staff:
        entries = entries.filter(public=True)
    rows = []
    for entry in list(entries.order_by("-created_at", "-id")[:TIMELINE_LIMIT])[::-1]:
        rows.append({"entry": entry, "is_event": entry.kind == EntryKind.EVENT,
                     "text": event_text(entry) if entry.kind == EntryKind.EVENT else "",
                     "who": str(entry.author or entry.author_name or entry.author_email or _("opsdesk")),
                     "customer_side": bool(entry.data.get("customer")) or entry.data.get("opening", False)})
    return rows


def ci_panels(request, ticket: Ticket) -> list[dict[str, Any]]:
    """Each CI of the ticket (the first few) with its checks, charts and open alerts, as far as
    the person may see them."""
    user = request.user
    result = []
    for item in scope_for(user, ticket.configuration_items.select_related("kind"))[:ITEMS_ON_PAGE]:
        checks = panels.item_panel(request, item)
        charts = panels.item_charts_panel(request, item)
        alerts = []
        if can(user, "view", Alert):
            alerts = list(scope_for(user, Alert.objects.filter(configuration_item=item, state__in=OPEN_STATES))
                          .order_by("-started_at")[:5])
        result.append({"item": item, "checks": checks, "charts": charts, "alerts": alerts,
                       "url": reverse("cmdb:configurationitem_detail", args=[item.pk])})
    return result


def context(request, ticket: Ticket, *, composer=None) -> dict[str, Any]:
    from opsdesk.core.generic.forms import style_widgets
    from opsdesk.servicedesk.desk.views import ComposerForm

    staff = request.user.is_staff_role
    form = composer or ComposerForm()
    style_widgets(form)
    linked_alerts = list(ticket.alert_links.select_related("alert").order_by("-alert__started_at")[:20]) \
        if staff else []
    macros = list(Macro.objects.filter(team__isnull=True) | Macro.objects.filter(team__members=request.user)) \
        if staff else []
    from django.utils import timezone

    from opsdesk.servicedesk.sla.summary import sla_summary

    sla = sla_summary(ticket, timezone.now())
    for clock in sla["clocks"]:
        clock["state_label"] = sla_state_words().get(clock["state"], clock["state"])
    return {
        "ticket": ticket, "timeline": timeline(ticket, staff=staff), "composer": form, "sla": sla,
        "can_reply": can(request.user, "reply", ticket), "can_note": can(request.user, "note", ticket),
        "ci_panels": ci_panels(request, ticket) if staff else [], "linked_alerts": linked_alerts,
        "macros": macros, "status_badge": badges.STATUS_CSS.get(ticket.status, "secondary"),
        "priority_badge": badges.PRIORITY_CSS.get(ticket.priority, "secondary"),
        "links": list(ticket.links_out.select_related("target")) + list(ticket.links_in.select_related("source")),
        "work_minutes": sum(w.minutes for w in ticket.work_logs.all()) if staff else 0,
        "watchers": list(ticket.watchers.all()) if staff else [],
    }
