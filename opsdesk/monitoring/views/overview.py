"""The status overview: a customer's items by monitoring status, worst first.

Each item's status is the worst state of its enabled checks (models.STATE_SEVERITY); an item with
none is listed last, with a hint to apply a template. The database sorts, counts and pages (one
annotated query), so a customer with thousands of items costs a handful of queries per page; the
page refreshes its body every 30 s with htmx.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, Count, F, IntegerField, Max, Q, QuerySet, Value, When
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from opsdesk.cmdb.models import CIStatus, ConfigurationItem
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for
from opsdesk.monitoring.models import STATE_SEVERITY, Check, CheckState, Series
from opsdesk.monitoring.panels import reason
from opsdesk.monitoring.views import chosen_customer

PER_PAGE = 50
# Reasons shown per item; the item's page has the rest.
REASONS_PER_ITEM = 4
# Data older than this is marked as stale.
STALE_AFTER = dt.timedelta(minutes=15)
FAILING = (CheckState.CRITICAL, CheckState.UNKNOWN, CheckState.WARNING)
NO_CHECKS = "none"


@dataclass(frozen=True)
class Status:
    key: str
    label: object
    style: str          # Bootstrap colour: text-bg-<style>
    icon: str


# Worst first, as the page lists them; "none" is an item without enabled checks.
# (The colours are the CI page's, monitoring.panels.BADGE.)
STATUSES = [
    Status(CheckState.CRITICAL, CheckState.CRITICAL.label, "danger", "bi-x-octagon-fill"),
    Status(CheckState.UNKNOWN, CheckState.UNKNOWN.label, "dark", "bi-question-circle-fill"),
    Status(CheckState.WARNING, CheckState.WARNING.label, "warning", "bi-exclamation-triangle-fill"),
    Status(CheckState.OK, CheckState.OK.label, "success", "bi-check-circle-fill"),
    Status(CheckState.PENDING, CheckState.PENDING.label, "secondary", "bi-hourglass-split"),
    Status(NO_CHECKS, gettext_lazy("No checks"), "light", "bi-dash-circle"),
]
BY_KEY = {s.key: s for s in STATUSES}
SEVERITY = {str(state): rank for state, rank in STATE_SEVERITY.items()}
STATE_OF_SEVERITY = {rank: state for state, rank in SEVERITY.items()}


def annotate_status(items: QuerySet) -> QuerySet:
    """Items with `worst` (the severity of their worst enabled check, None without any), a count
    per state and `disabled`, sorted worst first (within a state, more critical, unknown and warning
    checks first; then by customer and name)."""
    enabled = Q(checks__enabled=True)
    severity = Case(*(When(checks__state=state, then=Value(rank)) for state, rank in SEVERITY.items()),
                    output_field=IntegerField())
    counts = {f"n_{state}": Count("checks", filter=enabled & Q(checks__state=state)) for state in SEVERITY}
    disabled = Count("checks", filter=Q(checks__enabled=False))
    return (items.annotate(worst=Max(severity, filter=enabled), disabled=disabled, **counts)
            .order_by(F("worst").desc(nulls_last=True), "-n_critical", "-n_unknown", "-n_warning",
                      "customer__name", "name"))


def status_totals(annotated: QuerySet) -> dict[str, int]:
    """How many items are in each status (the tiles): one query over the annotated items."""
    sums = {state: Count("pk", filter=Q(worst=rank)) for state, rank in SEVERITY.items()}
    totals = annotated.order_by().aggregate(**sums, **{NO_CHECKS: Count("pk", filter=Q(worst__isnull=True))})
    return {key: totals.get(key) or 0 for key in BY_KEY}


def visible_items(user, customer) -> QuerySet:
    """The items the overview lists: those the person may see (of one customer, if chosen),
    without retired items that nothing checks any more."""
    items = scope_for(user, ConfigurationItem.objects.all())
    if customer is not None:
        items = items.filter(customer=customer)
    return items.exclude(Q(status=CIStatus.RETIRED) & ~Q(pk__in=Check.objects.values("configuration_item_id")))


@dataclass
class Row:
    item: ConfigurationItem
    status: Status
    counts: list[tuple[Status, int]]
    disabled: int
    reasons: list[dict] = field(default_factory=list)
    more_reasons: int = 0
    last_data: dt.datetime | None = None
    stale: bool = False
    url: str = ""


def rows_for(items: list[ConfigurationItem]) -> list[Row]:
    """A page of annotated items with their failing checks' reasons and the time of their newest
    sample (two queries for the whole page)."""
    ids = [item.pk for item in items]
    reasons: dict[int, list[dict]] = {}
    failing = (Check.objects.filter(configuration_item_id__in=ids, enabled=True, state__in=FAILING)
               .only("configuration_item_id", "name", "state", "state_since", "last_code", "last_message",
                     "last_params"))
    for check in failing:
        reasons.setdefault(check.configuration_item_id, []).append(
            {"name": check.name, "state": check.state, "state_since": check.state_since,
             "status": BY_KEY[check.state], "reason": reason(check)})
    newest = dict(Series.objects.filter(configuration_item_id__in=ids).order_by()
                  .values("configuration_item_id").annotate(last=Max("last_ts"))
                  .values_list("configuration_item_id", "last"))
    now = timezone.now()
    rows = []
    for item in items:
        state = STATE_OF_SEVERITY.get(item.worst, NO_CHECKS)
        found = sorted(reasons.get(item.pk, []), key=lambda c: (-SEVERITY[c["state"]], c["name"]))
        last_ts = newest.get(item.pk)
        last_data = dt.datetime.fromtimestamp(last_ts, tz=dt.UTC) if last_ts is not None else None
        rows.append(Row(
            item=item, status=BY_KEY[state],
            counts=[(s, getattr(item, f"n_{s.key}")) for s in STATUSES[:-1] if getattr(item, f"n_{s.key}")],
            disabled=item.disabled, reasons=found[:REASONS_PER_ITEM],
            more_reasons=max(0, len(found) - REASONS_PER_ITEM), last_data=last_data,
            stale=last_data is not None and now - last_data > STALE_AFTER,
            url=reverse("cmdb:configurationitem_detail", args=[item.pk])))
    return rows


@login_required
def overview(request):
    if not can(request.user, "view", ConfigurationItem):
        raise PermissionDenied
    customers, selected = chosen_customer(request)
    annotated = annotate_status(visible_items(request.user, selected).select_related("customer", "kind"))
    totals = status_totals(annotated)
    state = str(request.GET.get("state", ""))
    if state == NO_CHECKS:
        annotated = annotated.filter(worst__isnull=True)
    elif state in SEVERITY:
        annotated = annotated.filter(worst=SEVERITY[state])
    else:
        state = ""
    page = Paginator(annotated, PER_PAGE).get_page(request.GET.get("page"))
    # A customer user's page names no customer: they only ever see their own.
    base = {"customer": selected.pk} if selected is not None and request.user.is_staff_role else {}
    here = {**base, **({"state": state} if state else {})}
    tiles = [{"status": s, "count": totals[s.key], "active": state == s.key,
              "url": "?" + urlencode({**base, "state": s.key} if state != s.key else base)} for s in STATUSES]
    context = {
        "title": _("Status overview"), "customers": customers, "selected": selected,
        "show_customer": selected is None, "tiles": tiles, "total": sum(totals.values()), "state": state,
        "state_label": BY_KEY[state].label if state else "", "page": page, "rows": rows_for(list(page.object_list)),
        "paginator_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "query": urlencode(here), "refresh_url": "?" + urlencode({**here, "page": page.number}),
        "all_url": "?" + urlencode(base), "now": timezone.now(),
    }
    if request.headers.get("HX-Request"):
        return render(request, "monitoring/overview_body.html", context)
    return render(request, "monitoring/overview.html", context)
