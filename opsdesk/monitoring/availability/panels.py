"""Availability on pages: the CI page's monitoring panel (24 h, 7 d and 30 d, with a timeline bar
for each), the customer page's worst items over 30 days, and the availability page of all the
items a person may see.

The bar is drawn on the server as positioned blocks (no script): down in red, warning in amber,
unknown dark, no data pale, maintenance hatched over whatever state it covered.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.monitoring.availability.compute import (
    MAINTENANCE,
    NO_DATA,
    Availability,
    Segment,
    to_datetime,
)
from opsdesk.monitoring.availability.load import history
from opsdesk.monitoring.models import Check, CheckState

# (key, label, days): the periods the CI page shows, the last one loaded once for all three.
PERIODS = [("24h", gettext_lazy("24 h"), 1), ("7d", gettext_lazy("7 d"), 7), ("30d", gettext_lazy("30 d"), 30)]
DEFAULT_PERIOD = "24h"
PERIOD_DAYS = {key: days for key, _label, days in PERIODS}
# A bar with more changes than this is drawn from buckets (the worst state of each) instead of
# one block per change: a check flapping all month must not make a page of 10,000 blocks.
MAX_BLOCKS = 300
BUCKETS = 600
DOWN_LISTED = 5
# Availability at or above GOOD is green, at or above FAIR amber, else red.
GOOD, FAIR = 99.9, 99.0

# CSS class of each state on the bar and in the legend (monitoring/availability_style.html).
BAR_CLASS = {CheckState.OK: "av-ok", CheckState.WARNING: "av-warning", CheckState.CRITICAL: "av-critical",
             CheckState.UNKNOWN: "av-unknown", NO_DATA: "av-nodata", MAINTENANCE: "av-maintenance"}
_WORST = {CheckState.CRITICAL: 5, CheckState.UNKNOWN: 4, CheckState.WARNING: 3, CheckState.OK: 2, NO_DATA: 1}


def bucket_label(bucket: str) -> str:
    labels = {CheckState.OK: CheckState.OK.label, CheckState.WARNING: CheckState.WARNING.label,
              CheckState.CRITICAL: _("Down (critical)"), CheckState.UNKNOWN: CheckState.UNKNOWN.label,
              NO_DATA: _("No data"), MAINTENANCE: _("Maintenance")}
    return str(labels[bucket])


# --- words and numbers --------------------------------------------------------------------------

def percent_text(percent: float | None) -> str:
    """99.95 %: two decimals, never rounded up to 100 when something was down."""
    if percent is None:
        return "—"
    if percent >= 100.0:
        return "100%"
    shown = math.floor(percent * 100) / 100
    return f"{shown:.2f}%"


def percent_class(percent: float | None) -> str:
    if percent is None:
        return "text-muted"
    if percent >= GOOD:
        return "text-success"
    return "text-warning-emphasis" if percent >= FAIR else "text-danger"


def duration(seconds: float) -> str:
    """A length of time as people write it: 45 s, 12 min, 3 h 20 min, 2 d 5 h."""
    seconds = int(round(seconds))
    if seconds < 60:
        return _("%(n)s s") % {"n": seconds}
    minutes = seconds // 60
    if minutes < 60:
        return _("%(n)s min") % {"n": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        if minutes:
            return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
        return _("%(n)s h") % {"n": hours}
    days, hours = divmod(hours, 24)
    if hours:
        return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    return _("%(n)s d") % {"n": days}


def local(seconds: float, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return timezone.localtime(to_datetime(seconds)).strftime(fmt)


def span_text(start: float, end: float) -> str:
    a, b = timezone.localtime(to_datetime(start)), timezone.localtime(to_datetime(end))
    right = b.strftime("%H:%M") if a.date() == b.date() else b.strftime("%Y-%m-%d %H:%M")
    return f"{a.strftime('%Y-%m-%d %H:%M')} – {right}"


# --- the bar ------------------------------------------------------------------------------------

def _fmt(value: float) -> str:
    # A dot whatever the language: these go into CSS.
    return f"{value:.3f}"


def _blocks(segments: Sequence[Segment], start: float, end: float) -> list[Segment]:
    """What to draw: the segments themselves, or buckets holding the worst state in each when
    there are too many to draw one by one."""
    if len(segments) <= MAX_BLOCKS:
        return list(segments)
    width = (end - start) / BUCKETS
    states = [NO_DATA] * BUCKETS
    for segment in segments:
        first = max(0, int((segment.start - start) / width))
        last = min(BUCKETS - 1, int(math.ceil((segment.end - start) / width)) - 1)
        for i in range(first, last + 1):
            if _WORST[segment.state] > _WORST[states[i]]:
                states[i] = segment.state
    blocks: list[Segment] = []
    for i, state in enumerate(states):
        a, b = start + i * width, start + (i + 1) * width
        if blocks and blocks[-1].state == state:
            blocks[-1] = Segment(blocks[-1].start, b, state)
        else:
            blocks.append(Segment(a, b, state))
    return blocks


def bar(result: Availability, *, ticks: int = 4, tick_format: str = "%m-%d %H:%M") -> dict[str, Any]:
    start, end = result.start, result.end
    span = end - start

    def place(a: float, b: float) -> dict[str, str]:
        left = 100 * (a - start) / span
        return {"left": _fmt(left), "width": _fmt(max(100 * (b - a) / span, 0.25))}

    blocks = [{**place(s.start, s.end), "css": BAR_CLASS[s.state],
               "title": f"{bucket_label(s.state)}: {span_text(s.start, s.end)} ({duration(s.seconds)})"}
              for s in _blocks(result.segments, start, end) if s.state != CheckState.OK]
    maintenance = [{**place(a, b), "css": BAR_CLASS[MAINTENANCE],
                    "title": f"{bucket_label(MAINTENANCE)}: {span_text(a, b)} ({duration(b - a)})"}
                   for a, b in result.maintenance]
    marks = [{"left": _fmt(100 * i / ticks), "text": local(start + span * i / ticks, tick_format),
              "align": "start" if i == 0 else ("end" if i == ticks else "center")}
             for i in range(ticks + 1)] if ticks else []
    return {"blocks": blocks, "maintenance": maintenance, "ticks": marks}


def legend() -> list[dict[str, str]]:
    return [{"css": BAR_CLASS[b], "label": bucket_label(b)}
            for b in (CheckState.OK, CheckState.WARNING, CheckState.CRITICAL, CheckState.UNKNOWN, NO_DATA,
                      MAINTENANCE)]


def summary(result: Availability) -> list[dict[str, str]]:
    """Down always, then what else took time (warning, unknown, no data, maintenance)."""
    parts = [{"css": BAR_CLASS[CheckState.CRITICAL], "label": _("Down"),
              "value": duration(result.seconds[CheckState.CRITICAL])}]
    for bucket in (CheckState.WARNING, CheckState.UNKNOWN, NO_DATA, MAINTENANCE):
        if result.seconds[bucket] >= 1:
            parts.append({"css": BAR_CLASS[bucket], "label": bucket_label(bucket),
                          "value": duration(result.seconds[bucket])})
    return parts


def down_list(result: Availability) -> tuple[list[dict[str, str]], int]:
    """The latest down periods, newest first, and how many more there were."""
    newest = list(reversed(result.down))
    return ([{"when": span_text(a, b), "length": duration(b - a)} for a, b in newest[:DOWN_LISTED]],
            max(0, len(newest) - DOWN_LISTED))


# --- the CI page --------------------------------------------------------------------------------

def item_availability(item: ConfigurationItem, checks: Sequence[Check], *,
                      now: dt.datetime | None = None) -> dict[str, Any] | None:
    """The monitoring panel's availability section: 24 h, 7 d and 30 d from one load of 30 days
    (three queries, whatever the number of checks and changes). None for an item without checks."""
    if not checks:
        return None
    now = now or timezone.now()
    loaded = history(checks, now - dt.timedelta(days=PERIOD_DAYS["30d"]), now, now=now)
    periods = []
    for key, label, days in PERIODS:
        result = loaded.of_item(item.pk, item.customer_id, now - dt.timedelta(days=days), now)
        downs, more = down_list(result)
        periods.append({
            "key": key, "label": str(label), "percent": result.percent,
            "text": percent_text(result.percent), "css": percent_class(result.percent),
            "active": key == DEFAULT_PERIOD, "bar": bar(result, tick_format="%H:%M" if days == 1 else "%m-%d"),
            "summary": summary(result), "down": downs, "more_down": more,
            "more_down_text": ngettext("and %(n)s more", "and %(n)s more", more) % {"n": more},
            "measured": result.measured > 0,
        })
    return {"periods": periods, "legend": legend(), "prefix": f"av{item.pk}",
            "api_url": reverse("monitoring-item-availability", args=[item.pk])}


# --- many items: the customer page and the availability page --------------------------------------

@dataclass
class ItemRow:
    item: ConfigurationItem
    result: Availability
    url: str

    @property
    def percent(self) -> float | None:
        return self.result.percent

    @property
    def text(self) -> str:
        return percent_text(self.result.percent)

    @property
    def css(self) -> str:
        return percent_class(self.result.percent)

    @property
    def down(self) -> str:
        if self.result.percent is None:
            return "—"
        return duration(self.result.seconds[CheckState.CRITICAL])

    @property
    def maintenance(self) -> str:
        seconds = self.result.seconds[MAINTENANCE]
        return duration(seconds) if seconds >= 1 else ""

    @property
    def bar(self) -> dict[str, Any]:
        return bar(self.result, ticks=0)


SORTS = ("worst", "best", "name")


def item_rows(user, items: QuerySet, checks: QuerySet, start: dt.datetime, end: dt.datetime, *,
              sort: str = "worst", now: dt.datetime | None = None) -> list[ItemRow]:
    """Each item's availability over [start, end) (items with checks only), sorted: worst first
    (items without data last), best first, or by name. Four queries whatever the number of items,
    checks and changes."""
    items_by_id = {i.pk: i for i in items.select_related("customer")
                   .only("id", "name", "customer_id", "customer__name")}
    scoped_checks = [c for c in checks.filter(configuration_item_id__in=list(items_by_id))
                     .only("id", "name", "customer_id", "configuration_item_id", "enabled", "state", "state_since")]
    loaded = history(scoped_checks, start, end, now=now)
    # One reverse() for all rows: it costs more than the availability itself.
    detail = reverse("cmdb:configurationitem_detail", args=[0]).replace("/0/", "/{}/")
    with_checks = sorted({c.configuration_item_id for c in scoped_checks})
    rows = [ItemRow(item=items_by_id[i], result=loaded.of_item(i, items_by_id[i].customer_id),
                    url=detail.format(i)) for i in with_checks]
    if sort == "name":
        rows.sort(key=lambda r: (r.item.name.lower(), r.item.pk))
    else:
        sign = 1 if sort == "worst" else -1
        rows.sort(key=lambda r: (r.percent is None, sign * (r.percent or 0.0), r.item.name.lower(), r.item.pk))
    return rows


# --- the customer page --------------------------------------------------------------------------

CUSTOMER_ROWS = 10
CUSTOMER_DAYS = 30
# A big customer's card costs time (0.45 s on SQLite, 0.72 s on PostgreSQL for 1,000 items with
# 60,000 changes of state over 30 days) on every load of its page: the card is kept a minute per
# person (their scope decides which items and checks count) and says when it was worked out.
CUSTOMER_CACHE_SECONDS = 60
SORT_PARAM = "availability_sort"


def sort_of(request, param: str = "sort") -> str:
    sort = str(request.GET.get(param, ""))
    return sort if sort in SORTS else "worst"


def page_url(**params: Any) -> str:
    from urllib.parse import urlencode

    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return reverse("monitoring:availability") + (f"?{query}" if query else "")


def customer_panel(request, customer) -> dict[str, Any] | None:
    """The customer page's card: each monitored item's availability over the last 30 days, worst
    first (or best first, or by name); left out when none of its items has checks."""
    from opsdesk.core.permissions import can
    from opsdesk.core.scoping import scope_for

    user = request.user
    if not can(user, "view", Check):
        return None
    sort = sort_of(request, SORT_PARAM)
    key = f"opsdesk:availability:customer:{customer.pk}:{user.pk}:{sort}"
    found = cache.get(key)
    if found is None:
        now = timezone.now()
        rows = item_rows(user, scope_for(user, ConfigurationItem.objects.filter(customer=customer)),
                         scope_for(user, Check.objects.all()), now - dt.timedelta(days=CUSTOMER_DAYS), now, sort=sort)
        found = (rows[:CUSTOMER_ROWS], len(rows), now)
        cache.set(key, found, CUSTOMER_CACHE_SECONDS)
    shown, total, computed_at = found
    if not total:
        return None
    here = request.path
    sorts = [{"key": key, "label": label, "url": f"{here}?{SORT_PARAM}={key}#panel-availability",
              "active": key == sort} for key, label in sort_labels()]
    return {"rows": shown, "total": total, "more": max(0, total - CUSTOMER_ROWS), "computed_at": computed_at,
            "sorts": sorts, "legend": legend(),
            "links": [{"url": page_url(customer=customer.pk, period="30d", sort=sort),
                       "label": _("All items"), "icon": "bi-list"}]}


def sort_labels() -> list[tuple[str, str]]:
    return [("worst", _("Worst first")), ("best", _("Best first")), ("name", _("By name"))]
