"""Monitoring on pages it does not own: the CI page's checks and charts, the customer page's
summary of its items by state, and a check's own charts and history (registered in
registrations.py; cmdb and core know nothing of this module).

The charts are drawn in the browser (monitoring/static/monitoring/charts.js) from the query API
(api/query.py); the page only says which series go on which chart, with what unit.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Case, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core import registry
from opsdesk.core.panels import add_link
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for
from opsdesk.monitoring.availability.panels import item_availability
from opsdesk.monitoring.models import STATE_SEVERITY, Agent, AgentKind, Check, CheckState, CheckStateChange, Series
from opsdesk.monitoring.reasons import reason_text
from opsdesk.monitoring.units import BITS_PER_SECOND, BYTES_PER_SECOND, NUMBER, PERCENT, SECONDS, unit_of

# --- states ------------------------------------------------------------------------------------

# Worst first, as STATE_SEVERITY orders them; "none" is an item without checks.
STATES_WORST_FIRST = sorted(CheckState.values, key=lambda s: -STATE_SEVERITY[s])
NOT_MONITORED = "none"
BADGE = {CheckState.CRITICAL: "danger", CheckState.UNKNOWN: "dark", CheckState.WARNING: "warning",
         CheckState.OK: "success", CheckState.PENDING: "secondary", NOT_MONITORED: "light"}
_SEVERITY_STATE = {severity: state for state, severity in STATE_SEVERITY.items()}


def state_label(state: str) -> str:
    if state == NOT_MONITORED:
        return _("Not monitored")
    return str(CheckState(state).label)


def with_status(items: QuerySet, *, last_data: bool = True) -> QuerySet:
    """Configuration items annotated with their enabled checks per state (`n_ok`, `n_critical`…),
    `n_checks`, their worst state's severity (`severity`, -1 without enabled checks, as the
    overview page counts them) and the time of their newest sample (`last_data_ts`, Unix
    seconds; left out with last_data=False). One query, whatever the number of items."""
    enabled = Q(checks__enabled=True)
    counts = {f"n_{state}": Count("checks", filter=enabled & Q(checks__state=state)) for state in CheckState.values}
    severity = Case(*[When(**{f"n_{state}__gt": 0}, then=Value(STATE_SEVERITY[state]))
                      for state in STATES_WORST_FIRST], default=Value(-1), output_field=IntegerField())
    newest = (Series.objects.filter(configuration_item=OuterRef("pk"), last_ts__isnull=False)
              .order_by("-last_ts").values("last_ts")[:1])
    annotated = items.annotate(n_checks=Count("checks", filter=enabled), **counts).annotate(severity=severity)
    return annotated.annotate(last_data_ts=Subquery(newest)) if last_data else annotated


def worst_state(severity: int | None) -> str | None:
    """The state of an item's `severity` (from with_status); None for an item without checks."""
    return None if severity is None or severity < 0 else str(_SEVERITY_STATE[severity])


# --- reasons ------------------------------------------------------------------------------------

def reason(check: Check) -> str:
    """The check's last reason as a person reads it (opsdesk.monitoring.reasons)."""
    return reason_text(check.last_code, check.last_params, check.last_message)


# --- charts -------------------------------------------------------------------------------------

# At most this many lines on one chart (the busiest mounts, disks and interfaces are few).
MAX_LINES = 8
MAX_INTERFACES = 4
MAX_CHECK_CHARTS = 12


@dataclass
class Chart:
    key: str
    title: str
    unit: str
    series: list[dict[str, Any]] = field(default_factory=list)
    # When the oldest of its series was first seen (None: not loaded): where a new item's charts open.
    since: datetime | None = None

    def add(self, series: Series, label: str, scale: float = 1.0) -> None:
        if len(self.series) < MAX_LINES:
            self.series.append({"id": series.pk, "label": label, "scale": scale})
            created = series.__dict__.get("created_at")  # not loaded where a caller left it out
            if created is not None and (self.since is None or created < self.since):
                self.since = created

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "unit": self.unit, "series": self.series}


def _labelled(series: Series, key: str) -> str:
    return str(series.labels.get(key, "")) or "—"


def host_charts(series: list[Series]) -> list[Chart]:
    """The host agent's charts (see opsdesk/agent/metrics.py for the metric names): CPU, memory,
    load, disk usage per mount, disk I/O, and network per interface."""
    by_name: dict[str, list[Series]] = defaultdict(list)
    for s in series:
        by_name[s.name].append(s)

    def one(name: str) -> Series | None:
        found = by_name.get(name)
        return found[0] if found else None

    charts: list[Chart] = []
    simple = [
        ("cpu", _("CPU"), PERCENT, [("cpu_usage_percent", pgettext("chart line", "used")),
                                    ("cpu_iowait_percent", _("I/O wait"))]),
        ("memory", _("Memory"), PERCENT, [("memory_used_percent", _("memory used")),
                                          ("swap_used_percent", _("swap used"))]),
        ("load", _("Load average"), NUMBER, [("load1", _("1 min")), ("load5", _("5 min")),
                                             ("load15", _("15 min"))]),
    ]
    for key, title, unit, lines in simple:
        chart = Chart(key, title, unit)
        for name, label in lines:
            found = one(name)
            if found is not None:
                chart.add(found, label)
        if chart.series:
            charts.append(chart)

    disk = Chart("disk", _("Disk usage"), PERCENT)
    for s in sorted(by_name.get("filesystem_used_percent", []), key=lambda s: _labelled(s, "mount")):
        disk.add(s, _labelled(s, "mount"))
    if disk.series:
        charts.append(disk)

    io = Chart("diskio", _("Disk I/O"), BYTES_PER_SECOND)
    devices = sorted({_labelled(s, "device") for s in by_name.get("disk_read_bytes_per_second", [])}
                     | {_labelled(s, "device") for s in by_name.get("disk_written_bytes_per_second", [])})
    for device in devices:
        for name, label in (("disk_read_bytes_per_second", _("%(device)s read")),
                            ("disk_written_bytes_per_second", _("%(device)s written"))):
            for s in by_name.get(name, []):
                if _labelled(s, "device") == device:
                    io.add(s, label % {"device": device})
    if io.series:
        charts.append(io)

    traffic: dict[str, float] = defaultdict(float)
    for name in ("network_received_bytes_per_second", "network_sent_bytes_per_second"):
        for s in by_name.get(name, []):
            traffic[_labelled(s, "interface")] += s.last_value or 0.0
    # Busiest first; interfaces idle now (a host's many virtual ones: ifb0, docker0…) only when
    # no interface carries traffic, so the page charts what matters.
    interfaces = sorted(traffic, key=lambda i: (-traffic[i], i))
    if any(traffic.values()):
        interfaces = [i for i in interfaces if traffic[i]]
    for number, interface in enumerate(interfaces[:MAX_INTERFACES]):
        chart = Chart(f"net{number}", _("Network %(interface)s") % {"interface": interface}, BITS_PER_SECOND)
        for name, label in (("network_received_bytes_per_second", pgettext("chart line", "received")),
                            ("network_sent_bytes_per_second", pgettext("chart line", "sent"))):
            for s in by_name.get(name, []):
                if _labelled(s, "interface") == interface:
                    chart.add(s, label, scale=8.0)  # bytes to bits
        charts.append(chart)
    return charts


# A check's main value: its latency (a response, round trip, connect or scrape time, a
# replication lag), else a percentage it measures, else whatever it has (uptimes last).
LATENCY = re.compile(r"(response|rtt|connect|duration|latency|lag)[a-z_]*_seconds$")


def _main_rank(name: str) -> tuple[int, str]:
    if LATENCY.search(name):
        return 0, SECONDS
    unit = unit_of(name)
    if unit == PERCENT:
        return 1, unit
    return (3 if unit == SECONDS else 2), unit


def check_chart(check: Check, series: list[Series]) -> Chart | None:
    """One chart of a check's main value (the lines of its best-ranked kind, of one unit)."""
    if not series:
        return None
    ranked = sorted(series, key=lambda s: (_main_rank(s.name), str(s)))
    rank = _main_rank(ranked[0].name)
    chart = Chart(f"check{check.pk}", check.name, rank[1])
    for s in ranked:
        if _main_rank(s.name) == rank:
            chart.add(s, str(s))
    return chart


def item_charts(user, item: ConfigurationItem) -> list[Chart]:
    """The item's host charts, then one per check that has series (by the check's name)."""
    series = list(scope_for(user, Series.objects.filter(configuration_item=item))
                  .only("id", "name", "labels", "monitor_check_id", "created_at").order_by("name", "key"))
    of_check: dict[int, list[Series]] = defaultdict(list)
    host = []
    for s in series:
        if s.monitor_check_id is not None:
            of_check[s.monitor_check_id].append(s)
        else:
            host.append(s)
    charts = host_charts(host)
    if of_check:
        checks = scope_for(user, Check.objects.filter(pk__in=of_check)).only("id", "name").order_by("name")
        for check in checks[:MAX_CHECK_CHARTS]:
            chart = check_chart(check, of_check[check.pk])
            if chart is not None:
                charts.append(chart)
    return charts


RANGES = [("1h", gettext_lazy("1 h")), ("6h", gettext_lazy("6 h")), ("24h", gettext_lazy("24 h")),
          ("7d", gettext_lazy("7 d")), ("30d", gettext_lazy("30 d"))]
DEFAULT_RANGE = "24h"
# The shorter ranges a board opens on while all its data is younger than them.
YOUNG_RANGES = (("1h", timedelta(hours=1)), ("6h", timedelta(hours=6)))


def opening_range(charts: list[Chart], now: datetime | None = None) -> str:
    """The range a board opens on: 24 h, or the shortest that holds all its series' lives, so a
    machine enrolled a few minutes ago shows its first samples across the chart rather than as a
    sliver at its right edge."""
    known = [c.since for c in charts if c.since is not None]
    if not known or len(known) < len(charts):
        return DEFAULT_RANGE
    age = (now or timezone.now()) - min(known)
    return next((key for key, span in YOUNG_RANGES if age <= span), DEFAULT_RANGE)


def chart_context(charts: list[Chart], prefix: str) -> dict[str, Any]:
    """What monitoring/charts.html needs: the charts, the API's address, the person's time zone,
    the range to open on and the words the script writes."""
    strings = {
        "empty": _("No data in this range."),
        "error": _("The data could not be loaded."),
        "loading": _("Loading…"),
        "raw": _("Raw samples"),
        "rollup": _("Averages per %(step)s, with the minimum–maximum band"),
        "min": _("min"), "max": _("max"),
        "badRange": _("The end must be after the start."),
        "minutes": _("%(n)s min"), "hours": _("%(n)s h"),
    }
    return {"charts": [c.as_dict() for c in charts],
            "charts_json": json.dumps([c.as_dict() for c in charts], ensure_ascii=False),
            "strings_json": json.dumps(strings, ensure_ascii=False),
            "query_url": reverse("monitoring-query"), "time_zone": timezone.get_current_timezone_name(),
            "language": get_language() or "en", "ranges": [(k, str(v)) for k, v in RANGES],
            "default_range": opening_range(charts), "prefix": prefix}


# --- the CI page --------------------------------------------------------------------------------

def _list_url(model, **params: Any) -> str:
    return f"{reverse(registry.get(model).url_name('list'))}?{urlencode(params)}"


def _check_rows(checks: list[Check]) -> list[dict[str, Any]]:
    detail = registry.get(Check).url_name("detail")
    return [{"check": c, "url": reverse(detail, args=[c.pk]),
             "state_label": state_label(c.state) if c.enabled else _("Disabled"),
             "badge": BADGE[c.state] if c.enabled else "light",
             "reason": reason(c) if c.enabled and c.state != CheckState.OK else "", "message": c.last_message}
            for c in checks]


def item_panel(request, item: ConfigurationItem) -> dict | None:
    """The CI page's card of checks, worst first, with the state's reason and last run."""
    user = request.user
    if not can(user, "view", Check):
        return None
    checks = list(scope_for(user, Check.objects.filter(configuration_item=item)))
    checks.sort(key=lambda c: (not c.enabled, -STATE_SEVERITY.get(c.state, 0), c.name))
    links = []
    if checks:
        links.append({"url": _list_url(Check, item=item.pk), "label": _("All checks"), "icon": "bi-list"})
    if can(user, "view", Series) and Series.objects.filter(configuration_item=item).exists():
        links.append({"url": _list_url(Series, item=item.pk), "label": _("Latest data"), "icon": "bi-table"})
    add = add_link(request, Check, _("Add check"), configuration_item=item)
    if add:
        links.append(add)
    if can(user, "add", Check):
        empty = _("No checks yet: apply a monitoring template to this item, add a check, or install the "
                  "agent on the host.")
    else:
        empty = _("This item is not monitored yet: ask your service team to set up its monitoring.")
    return {"checks": _check_rows(checks), "links": links, "empty": empty, "agents": _agent_rows(user, item),
            "counts": [(state_label(s), BADGE[s], n) for s, n in _counts(checks)],
            "availability": item_availability(item, checks)}


def _agent_rows(user, item: ConfigurationItem) -> list[dict[str, Any]]:
    """The item's host agents with whether they are connected (its charts go stale when one is
    silent, with no check turning red)."""
    if not can(user, "view", Agent):
        return []
    detail = registry.get(Agent).url_name("detail")
    return [{"agent": a, "url": reverse(detail, args=[a.pk]), "status": a.status_text(), "connected": a.connected}
            for a in scope_for(user, Agent.objects.filter(configuration_item=item, kind=AgentKind.HOST))]


def _counts(checks: list[Check]) -> list[tuple[str, int]]:
    found = Counter(c.state for c in checks if c.enabled)
    return [(s, found[s]) for s in STATES_WORST_FIRST if found[s]]


def item_charts_panel(request, item: ConfigurationItem) -> dict | None:
    """The CI page's charts of its host metrics and checks; left out when it has none."""
    user = request.user
    if not can(user, "view", Series):
        return None
    charts = item_charts(user, item)
    if not charts:
        return None
    return chart_context(charts, f"item{item.pk}")


def series_chart_panel(request, series: Series) -> dict | None:
    """A series' own page ("Latest data" → a row): its chart, as a Zabbix item's graph."""
    if not can(request.user, "view", Series):
        return None
    chart = Chart(f"series{series.pk}", series.name, unit_of(series.name))
    chart.add(series, series.get_labels_display() or series.name)
    return chart_context([chart], f"series{series.pk}")


# --- a check's own page -------------------------------------------------------------------------

def check_parameters_panel(request, check: Check) -> dict | None:
    """A check's type and parameters, titled in the person's language (the page's own rows would
    show the type's code and the parameters as JSON)."""
    from opsdesk.monitoring.check_form import parameter_rows
    from opsdesk.monitoring.template_services import FROM_TEMPLATE

    rows = parameter_rows(check)
    if rows is None:
        return None
    edited = set(check.edited or ()) if check.template_id else set()
    for row in rows:
        row["edited"] = f"params.{row['key']}" in edited
    # Fields edited here, by title: the rows mark their parameters; the others are said in a line.
    what = [str(capfirst(Check._meta.get_field(name).verbose_name)) for name in FROM_TEMPLATE if name in edited]
    if any(row["edited"] for row in rows):
        what.append(_("the parameters marked below"))
    line = _("Edited here, and kept when the template %(template)s is applied again: %(what)s.") % {
        "template": check.template, "what": pgettext("between the items of a list", ", ").join(what)} if what else ""
    return {"type_label": check.get_type_display(), "rows": rows, "edited_line": line}


def check_panel(request, check: Check) -> dict | None:
    """A check's chart and its latest state changes."""
    user = request.user
    chart = None
    if can(user, "view", Series):
        chart = check_chart(check, list(scope_for(user, Series.objects.filter(monitor_check=check))
                                        .only("id", "name", "labels", "created_at")))
    changes = list(scope_for(user, CheckStateChange.objects.filter(monitor_check=check))[:10])
    context = chart_context([chart] if chart else [], f"check{check.pk}")
    context.update({
        "changes": [{"change": c, "previous": state_label(c.previous), "state": state_label(c.state),
                     "badge": BADGE[c.state]} for c in changes],
        "reason": reason(check) if check.state != CheckState.OK else "",
        "links": [{"url": _list_url(CheckStateChange, check=check.pk), "label": _("All state changes"),
                   "icon": "bi-clock-history"}] if changes and can(user, "view", CheckStateChange) else [],
    })
    return context


# --- the customer page --------------------------------------------------------------------------

PROBLEMS_SHOWN = 8


def overview_url(customer_id: int) -> str | None:
    """The monitoring overview of one customer, when the overview page exists."""
    try:
        return f"{reverse('monitoring:overview')}?{urlencode({'customer': customer_id})}"
    except NoReverseMatch:
        return None


def customer_panel(request, customer) -> dict | None:
    """The customer page's card: their items by monitoring state, worst first, and the items
    with problems."""
    user = request.user
    if not can(user, "view", Check):
        return None
    items = with_status(scope_for(user, ConfigurationItem.objects.filter(customer=customer)), last_data=False)
    severities = Counter(items.order_by().values_list("severity", flat=True))
    rows = []
    for state in STATES_WORST_FIRST:
        n = severities.get(STATE_SEVERITY[state], 0)
        if n:
            rows.append({"state": state, "label": state_label(state), "badge": BADGE[state], "count": n,
                         "url": _list_url(Check, customer=customer.pk, state=state)})
    monitored = sum(r["count"] for r in rows)
    unmonitored = severities.get(-1, 0)
    problems = [{"item": i, "url": reverse(registry.get(ConfigurationItem).url_name("detail"), args=[i.pk]),
                 "state": worst_state(i.severity), "label": state_label(worst_state(i.severity)),
                 "badge": BADGE[worst_state(i.severity)]}
                for i in items.filter(severity__gte=STATE_SEVERITY[CheckState.WARNING])
                .order_by("-severity", "name")[:PROBLEMS_SHOWN]]
    links = []
    overview = overview_url(customer.pk)
    if overview:
        links.append({"url": overview, "label": _("Monitoring overview"), "icon": "bi-activity"})
    if monitored:
        links.append({"url": _list_url(Check, customer=customer.pk), "label": _("All checks"), "icon": "bi-list"})
    if can(user, "add", Check):
        empty = _("No item of this customer is monitored yet: install the agent on its hosts or apply a "
                  "monitoring template to its items.")
    else:
        empty = _("None of your items is monitored yet: ask your service team to set up monitoring.")
    return {"rows": rows, "monitored": monitored, "unmonitored": unmonitored,
            "unmonitored_label": state_label(NOT_MONITORED), "problems": problems, "links": links,
            "empty": empty, "all_ok": monitored and not problems}
