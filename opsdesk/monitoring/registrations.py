"""Monitoring in the registry: agents and enrolment tokens, checks and their state history, the
latest data of each series, the panels on the CI, customer and check pages, and the API routes
(the agents' push and the query and status API)."""

from __future__ import annotations

import json
from typing import Any

import django_filters
from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core import registry
from opsdesk.core.generic.filters import ScopedFilterSet
from opsdesk.core.models import Customer
from opsdesk.core.permissions import ALL_ROLES, STAFF
from opsdesk.core.registry import Action, DetailPanel, ModelEntry
from opsdesk.core.search import text_condition
from opsdesk.monitoring import panels, services
from opsdesk.monitoring.api.query import query_urls
from opsdesk.monitoring.api.views import PUSH_PATH, push_answer, push_urls
from opsdesk.monitoring.availability import panels as availability_panels
from opsdesk.monitoring.availability.api import availability_urls
from opsdesk.monitoring.check_form import CheckForm
from opsdesk.monitoring.demo import load_monitoring
from opsdesk.monitoring.models import Agent, Check, CheckState, CheckStateChange, EnrolmentToken, Series
from opsdesk.monitoring.template_services import create_check, reset_check_to_template, update_check
from opsdesk.monitoring.units import unit_of

NOBODY: frozenset[str] = frozenset()
MAX_ID = 2**63 - 1

registry.register(ModelEntry(
    # Made by enrolment only (POST /api/monitoring/enrol/), never by the generic add.
    Agent, tenant_path="customer", menu="monitoring", view_roles=ALL_ROLES, edit_roles=STAFF,
    roles={"add": NOBODY}, creatable=False,
    columns=["name", "kind", "customer", "configuration_item", "status_text", "last_seen_at"],
    sortable=("name", "kind", "customer__name", "configuration_item__name", "last_seen_at"),
    search_fields=["name"], select_related=("customer", "configuration_item"),
))
registry.register(ModelEntry(
    # Made by monitoring.services.create_enrolment_token, which shows the raw token once.
    EnrolmentToken, tenant_path="customer", menu="monitoring", view_roles=STAFF, edit_roles=STAFF,
    roles={"add": NOBODY}, creatable=False,
    columns=["name", "customer", "expires_at", "used_at", "created_by", "created_at"],
    search_fields=["name"], select_related=("customer", "created_by"),
))


# --- checks, their history and the latest data ------------------------------------------------

class IdFilter(django_filters.Filter):
    """An object's id: a whole number a database key can hold (a larger one is a 400, not a 500)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


def check_type_choices() -> list[tuple[str, str]]:
    """The check types the collector knows (from the code, so they tell nothing of any customer)."""
    from opsdesk.monitoring.checks import CHECK_TYPES

    return sorted(((name, gettext(t.label)) for name, t in CHECK_TYPES.items()), key=lambda c: c[1])


# Worst first, as the pages list them.
STATE_CHOICES = [(state, CheckState(state).label) for state in panels.STATES_WORST_FIRST]


class CheckFilterSet(ScopedFilterSet):
    customer = django_filters.ModelChoiceFilter(queryset=Customer.objects.all(), label=_("customer"))
    state = django_filters.MultipleChoiceFilter(choices=STATE_CHOICES, label=_("state"), distinct=False)
    type = django_filters.ChoiceFilter(choices=check_type_choices, label=_("type"))
    enabled = django_filters.BooleanFilter(label=_("enabled"))
    # By id (an item's page links here): a list of every item would be too long to choose from.
    item = IdFilter(field_name="configuration_item", label=_("configuration item (id)"))

    class Meta:
        model = Check
        fields = ["customer", "state", "type", "enabled", "item"]


# Searched by the list's own `q` only, not by the global search (search_fields is empty): there
# are dozens of series and many state changes per item, millions in all, and one hit per metric
# would bury the items themselves (whose pages show their data).
SERIES_SEARCH = ["name", "configuration_item__name"]
STATE_CHANGE_SEARCH = ["monitor_check__name", "monitor_check__configuration_item__name", "message"]


def _search(fields: list[str]):
    def search(self, queryset, name, value: str):
        condition = text_condition(queryset.model, fields, value)
        return queryset if condition is None else queryset.filter(condition)
    return search


def series_export_rows(queryset) -> tuple[list[str], list[list[Any]]]:
    """Latest data as numbers a spreadsheet can sum: the raw value and its unit in columns of
    their own, and the labels as JSON (the page writes them for a person)."""
    header = [str(_("configuration item")), str(_("metric")), str(_("labels")), str(_("last value")),
              str(_("unit")), str(_("last time"))]
    rows = [[str(s.configuration_item), s.name, json.dumps(s.labels, ensure_ascii=False, sort_keys=True),
             s.last_value, unit_of(s.name), s.last_time()] for s in queryset.iterator(chunk_size=2000)]
    return header, rows


class SeriesFilterSet(ScopedFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    customer = django_filters.ModelChoiceFilter(queryset=Customer.objects.all(), label=_("customer"))
    item = IdFilter(field_name="configuration_item", label=_("configuration item (id)"))
    name = django_filters.CharFilter(label=_("metric"))
    search = _search(SERIES_SEARCH)

    class Meta:
        model = Series
        fields = ["customer", "item", "name"]


class CheckStateChangeFilterSet(ScopedFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    customer = django_filters.ModelChoiceFilter(field_name="monitor_check__customer", queryset=Customer.objects.all(),
                                                label=_("customer"))
    state = django_filters.MultipleChoiceFilter(choices=STATE_CHOICES, label=_("state"), distinct=False)
    check = IdFilter(field_name="monitor_check", label=_("check (id)"))
    item = IdFilter(field_name="monitor_check__configuration_item", label=_("configuration item (id)"))
    search = _search(STATE_CHANGE_SEARCH)

    class Meta:
        model = CheckStateChange
        fields = ["customer", "state", "check", "item"]


registry.register(ModelEntry(
    Check, tenant_path="customer", menu="monitoring", view_roles=ALL_ROLES, edit_roles=STAFF,
    columns=["name", "configuration_item", "customer", "type", "state", "state_since", "last_run_at", "enabled"],
    sortable=("name", "configuration_item__name", "customer__name", "type", "state", "state_since", "last_run_at"),
    search_fields=["name", "configuration_item__name", "target"], filterset=CheckFilterSet,
    select_related=("configuration_item", "customer"), detail_exclude=("params", "last_params", "changed_at", "edited"),
    readonly_fields=("enabled", "state", "state_since", "last_run_at", "last_code", "last_message", "last_params"),
    create=create_check, update=update_check, form=CheckForm,
    actions=[
        Action("enable", _("Enable"), services.enable_check, roles=STAFF, icon="bi-play-circle",
               available=lambda c: not c.enabled),
        Action("disable", _("Disable"), services.disable_check, roles=STAFF, icon="bi-pause-circle",
               available=lambda c: c.enabled,
               confirm=_("The check stops running and its state becomes pending until it is enabled again.")),
        Action("reset_to_template", _("Reset to template"), reset_check_to_template, roles=STAFF,
               icon="bi-arrow-counterclockwise", available=lambda c: bool(c.template_id and c.edited),
               confirm=_("What was edited on this check goes back to its template's values.")),
    ],
))
registry.register(ModelEntry(
    # Written by the results of checks only.
    CheckStateChange, tenant_path="monitor_check__customer", menu="monitoring", view_roles=ALL_ROLES,
    edit_roles=NOBODY, creatable=False, url_slug="statechanges",
    columns=["monitor_check", "previous", "state", "at", "reason_text"],
    sortable=("monitor_check__name", "previous", "state", "at"), filterset=CheckStateChangeFilterSet,
    select_related=("monitor_check", "monitor_check__configuration_item"),
))
registry.register(ModelEntry(
    # "Latest data": every series with its last value. Made by filing, never by a person.
    Series, tenant_path="customer", view_roles=ALL_ROLES, edit_roles=NOBODY, creatable=False, url_slug="series",
    list_title=_("Latest data"),
    columns=["configuration_item", "name", "labels", "last_value", "last_time"],
    sortable=("configuration_item__name", "name", "last_value", "last_ts"), filterset=SeriesFilterSet,
    select_related=("configuration_item",), export_rows=series_export_rows, detail_exclude=("key",),
))
registry.add_nav_link("monitoring", "monitoring:series_list", _("Latest data"), ALL_ROLES)


# --- panels on other pages --------------------------------------------------------------------

registry.add_detail_panel(ConfigurationItem, DetailPanel(
    "monitoring_checks", _("Monitoring"), "monitoring/panel_item.html", context=panels.item_panel,
    order=10, column="right"))
registry.add_detail_panel(Series, DetailPanel(
    "series_chart", _("Chart"), "monitoring/panel_charts.html", context=panels.series_chart_panel,
    order=10, column="right"))
registry.add_detail_panel(ConfigurationItem, DetailPanel(
    "monitoring_charts", _("Charts"), "monitoring/panel_charts.html", context=panels.item_charts_panel,
    order=10, column="left"))
registry.add_detail_panel(Customer, DetailPanel(
    "monitoring", _("Monitoring"), "monitoring/panel_customer.html", context=panels.customer_panel,
    order=30, column="right"))
registry.add_detail_panel(Customer, DetailPanel(
    "availability", _("Availability"), "monitoring/panel_customer_availability.html",
    context=availability_panels.customer_panel, order=31, column="right"))
registry.add_detail_panel(Check, DetailPanel(
    "check_history", _("State and history"), "monitoring/panel_check.html", context=panels.check_panel,
    order=10, column="right"))
registry.add_detail_panel(Check, DetailPanel(
    "check_parameters", _("Parameters"), "monitoring/panel_check_parameters.html",
    context=panels.check_parameters_panel, order=10, column="left"))

registry.add_api_urls(push_urls())
# Every agent pushes every interval: a good batch is answered before Django's handler (PUSH_PATH
# is push_urls()' path under /api/, which a test holds).
registry.add_fast_route(PUSH_PATH, push_answer)
registry.add_api_urls(query_urls())
registry.add_api_urls(availability_urls())

from opsdesk.monitoring import registrations_templates  # noqa: E402, F401  (templates and discovery)

registry.add_demo("monitoring", load_monitoring, order=30)

registry.add_audit_labels({"items": _("Items"), "checks_created": _("Checks created"), "token": _("Token")})
