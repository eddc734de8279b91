"""The home page: panels that apps register (registry.add_dashboard_panel), so core never
imports the apps to its right. A panel renders to widgets: numbers, charts and lists of things
to act on. Core's own: what changed recently, and contracts that end soon."""

from __future__ import annotations

import datetime as dt

from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from opsdesk.core.models import Contract, Customer
from opsdesk.core.permissions import can
from opsdesk.core.registry import registry
from opsdesk.core.scoping import scope_for, scope_log

CONTRACT_WARNING_DAYS = 60


def widgets(request) -> list[dict]:
    out: list[dict] = []
    for panel in registry["dashboard_panels"]:
        out.extend(panel.render(request))
    return out


def customers_widget(request) -> list[dict]:
    customers = scope_for(request.user, Customer.objects.all())
    return [{"kind": "number", "title": _("Customers"), "value": customers.count(),
             "url": reverse("core:customer_list"), "icon": "bi-building"}]


def ending_contracts(request) -> list[dict]:
    """Contracts that end within 60 days: renew them, or the service levels stop applying."""
    if not can(request.user, "view", Contract):
        return []
    today = timezone.localdate()
    contracts = scope_for(request.user, Contract.objects.select_related("customer")).filter(
        end_date__gte=today, end_date__lte=today + dt.timedelta(days=CONTRACT_WARNING_DAYS)).order_by("end_date")
    rows = [{"label": f"{c.customer} · {c}", "url": reverse("core:contract_detail", args=[c.pk]),
             "note": _("ends %(date)s (in %(days)d days)") % {"date": c.end_date, "days": (c.end_date - today).days},
             "level": "danger" if (c.end_date - today).days <= 14 else "warning"}
            for c in contracts[:8]]
    return [{"kind": "list", "id": "ending-contracts", "title": _("Contracts ending within 60 days"), "rows": rows,
             "empty": _("No contract ends within 60 days."),
             "more": {"url": reverse("core:contract_list"), "label": _("All contracts")}}]


def _entry_url(entry: LogEntry) -> str:
    model = entry.content_type.model_class() if entry.content_type_id else None
    registered = registry["models"].get(model) if model else None
    if registered is None or entry.action == LogEntry.Action.DELETE or not str(entry.object_pk).isdigit():
        return f"{reverse('audit_list')}?object_repr={entry.object_repr[:50]}"
    return reverse(registered.url_name("detail"), args=[entry.object_pk])


def action_label(entry: LogEntry) -> str:
    """What was done, in the reader's language: a named action's own label, else created,
    changed or deleted."""
    name = entry.additional_data.get("action") if isinstance(entry.additional_data, dict) else None
    model = entry.content_type.model_class() if entry.content_type_id else None
    registered = registry["models"].get(model) if model else None
    named = registered.action(name) if registered and name else None
    if named is not None:
        return str(named.label)
    generic = {LogEntry.Action.CREATE: pgettext("audit action", "created"),
               LogEntry.Action.UPDATE: pgettext("audit action", "changed"),
               LogEntry.Action.DELETE: pgettext("audit action", "deleted")}
    return generic.get(entry.action, pgettext("audit action", "changed"))


def recent_changes(request) -> list[dict]:
    if not getattr(request.user, "is_staff_role", False):
        return []
    entries = scope_log(request.user, LogEntry.objects.select_related("actor", "content_type")).order_by(
        "-timestamp")[:8]
    rows = []
    for e in entries:
        who = str(e.actor) if e.actor else _("system")
        rows.append({"label": e.object_repr, "url": _entry_url(e),
                     "note": f"{who} · {action_label(e)} · "
                             f"{timezone.localtime(e.timestamp):%Y-%m-%d %H:%M}"})
    return [{"kind": "list", "id": "recent-changes", "title": _("Recent changes"), "rows": rows,
             "empty": _("Nothing has changed yet."),
             "more": {"url": reverse("audit_list"), "label": _("Audit log")}}]
