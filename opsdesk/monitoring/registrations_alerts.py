"""Alerting in the registry: rules, alerts (acknowledge, resolve, comment), silences and
maintenance windows; the pages of its own (the alert's page, the signed acknowledge link)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Case, IntegerField, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry
from opsdesk.core.generic.filters import ScopedFilterSet
from opsdesk.core.models import Customer
from opsdesk.core.permissions import ALL_ROLES, STAFF
from opsdesk.core.registry import Action, ModelEntry
from opsdesk.core.views.generic import ObjectListView
from opsdesk.monitoring.alerting import lifecycle, self_alerts, silences  # noqa: F401  (self_alerts: receivers)
from opsdesk.monitoring.alerting.forms import CommentForm
from opsdesk.monitoring.alerting.rule_form import AlertRuleForm
from opsdesk.monitoring.models import (
    OPEN_STATES,
    Alert,
    AlertRule,
    AlertState,
    MaintenanceWindow,
    Severity,
    Silence,
)
from opsdesk.monitoring.views.rule_editor import RuleEditView

NOBODY: frozenset[str] = frozenset()

# Firing first, then acknowledged, pending and resolved; within a state, the worst and newest first.
STATE_ORDER = Case(When(state=AlertState.FIRING, then=0), When(state=AlertState.ACKNOWLEDGED, then=1),
                   When(state=AlertState.PENDING, then=2), default=3, output_field=IntegerField())
SEVERITY_ORDER = Case(When(severity=Severity.CRITICAL, then=0), When(severity=Severity.MAJOR, then=1),
                      When(severity=Severity.MINOR, then=2), default=3, output_field=IntegerField())


class AlertListView(ObjectListView):
    # Refreshes its table every 15 s (htmx), keeping the filters.
    template_name = "monitoring/alert_list.html"


class AlertFilterSet(ScopedFilterSet):
    customer = django_filters.ModelChoiceFilter(queryset=Customer.objects.all(), label=_("customer"))
    state = django_filters.MultipleChoiceFilter(choices=AlertState.choices, label=_("state"), distinct=False)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, label=_("severity"), distinct=False)
    open = django_filters.BooleanFilter(method="only_open", label=_("open"))

    class Meta:
        model = Alert
        fields = ["customer", "state", "severity", "open", "configuration_item"]

    def only_open(self, queryset, name, value):
        return queryset.filter(state__in=OPEN_STATES) if value else queryset.exclude(state__in=OPEN_STATES)


# The list shows a rule's condition as one line; an export keeps its fields, as the API has them.
RULE_EXPORT_FIELDS = ("name", "customer", "configuration_item", "ci_kind", "template", "kind", "metric", "labels",
                      "operator", "threshold", "recovery_threshold", "for_seconds", "rate_window_seconds",
                      "absence_seconds", "check_states", "check_type", "severity", "enabled")


def rule_export_rows(queryset) -> tuple[list[str], list[list[Any]]]:
    fields = [AlertRule._meta.get_field(name) for name in RULE_EXPORT_FIELDS]
    header = [str(f.verbose_name) for f in fields] + [str(_("condition"))]
    rows = [[getattr(rule, f.name) for f in fields] + [rule.condition_text()]
            for rule in queryset.select_related("customer", "configuration_item", "ci_kind", "template")]
    return header, rows


registry.register(ModelEntry(
    AlertRule, tenant_path="customer", tenant_optional=True, menu="monitoring", view_roles=STAFF, edit_roles=STAFF,
    columns=["name", "customer", "kind", "condition_text", "severity", "enabled"],
    sortable=("name", "customer__name", "kind", "severity", "enabled"), export_rows=rule_export_rows,
    search_fields=["name", "metric"], select_related=("customer",), form=AlertRuleForm,
    views={"add": RuleEditView, "edit": RuleEditView},
))
registry.register(ModelEntry(
    # Raised by evaluation and the inbound receivers only; people act on it.
    Alert, tenant_path="customer", menu="monitoring", view_roles=ALL_ROLES, edit_roles=NOBODY, creatable=False,
    roles={"acknowledge": STAFF, "resolve": STAFF, "comment": STAFF},
    columns=["title", "customer", "configuration_item", "severity", "state", "started_at", "held_because"],
    sortable=("title", "customer__name", "configuration_item__name", "severity", "state", "started_at"),
    search_fields=["title", "configuration_item__name"], filterset=AlertFilterSet,
    select_related=("customer", "configuration_item", "suppressed_by"),
    ordering=(STATE_ORDER, SEVERITY_ORDER, "-started_at"), views={"list": AlertListView},
    # The fingerprint is for machines, the series is drawn, and "notified" is on the timeline.
    detail_template="monitoring/alert_detail.html", detail_exclude=("fingerprint", "series", "notified"),
    detail_context=lambda request, alert: alert_context(request, alert),
    actions=[
        Action("acknowledge", _("Acknowledge"), lambda alert, *, actor: lifecycle.acknowledge(alert, actor=actor),
               roles=STAFF, icon="bi-hand-thumbs-up", style="primary",
               available=lambda a: a.state == AlertState.FIRING),
        Action("resolve", _("Resolve"), lambda alert, *, actor: lifecycle.resolve(alert, actor=actor),
               roles=STAFF, icon="bi-check2-circle", available=lambda a: a.state in OPEN_STATES,
               confirm=_("The alert is closed; if its condition still holds, a new alert fires.")),
        Action("comment", _("Comment"), lambda alert, *, actor, text: lifecycle.comment(alert, actor=actor, text=text),
               roles=STAFF, icon="bi-chat-left-text", form=CommentForm),
    ],
))
registry.register(ModelEntry(
    Silence, tenant_path="customer", tenant_optional=True, menu="monitoring", view_roles=STAFF, edit_roles=STAFF,
    columns=["reason", "customer", "starts_at", "ends_at", "created_by"], search_fields=["reason"],
    select_related=("customer", "created_by"), create=silences.create_silence, update=silences.update_silence,
    actions=[Action("expire", _("End now"), silences.expire_silence, roles=STAFF, icon="bi-stop-circle",
                    available=lambda s: s.ends_at > timezone.now())],
))
registry.register(ModelEntry(
    MaintenanceWindow, tenant_path="customer", menu="monitoring", view_roles=ALL_ROLES, edit_roles=STAFF,
    columns=["name", "customer", "starts_at", "ends_at", "recurrence"], search_fields=["name", "reason"],
    select_related=("customer",),
))


def alert_context(request, alert: Alert) -> dict:
    from opsdesk.monitoring.alerting.detail import detail_context

    return detail_context(request, alert)
