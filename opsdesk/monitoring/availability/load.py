"""Availability of checks and configuration items over a period, read from the database in a fixed
number of queries whatever the number of checks, state changes or windows:

- one for the state changes of all the checks: those inside the period and, per check, the last
  one before it (which gives the state at the period's start);
- two for the maintenance windows of the items' customers (the windows, and the items each names).

The checks themselves are the caller's (already scoped to the person). The arithmetic is in
compute.py; the recurrence of maintenance windows is alerting's own (alerting.holds.occurrences),
so a period that held notifications is exactly the period availability leaves out.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from opsdesk.monitoring.alerting.holds import occurrences
from opsdesk.monitoring.availability.compute import (
    Availability,
    Segment,
    Span,
    availability,
    check_segments,
    merge,
    worst,
)
from opsdesk.monitoring.models import Check, CheckState, CheckStateChange, MaintenanceWindow


def _ts(moment: dt.datetime) -> float:
    return moment.timestamp()


def state_changes(check_ids: Iterable[int], start: dt.datetime, end: dt.datetime) -> dict[int, list[tuple[float, str]]]:
    """Per check, its changes [(Unix time, new state)] in [start, end), oldest first, led by the
    last one before `start`. One query."""
    ids = sorted(set(check_ids))
    found: dict[int, list[tuple[float, str]]] = {i: [] for i in ids}
    if not ids:
        return found
    last_before = (CheckStateChange.objects.filter(monitor_check=OuterRef("pk"), at__lt=start)
                   .order_by("-at", "-id").values("pk")[:1])
    leading = Check.objects.filter(pk__in=ids).annotate(last=Subquery(last_before)).values("last")
    rows = (CheckStateChange.objects.filter(monitor_check_id__in=ids)
            .filter(Q(at__gte=start, at__lt=end) | Q(pk__in=leading))
            .order_by("monitor_check_id", "at", "id").values_list("monitor_check_id", "at", "state"))
    for check_id, at, state in rows:
        found[check_id].append((_ts(at), state))
    return found


@dataclass(frozen=True)
class Windows:
    """The maintenance occurrences that touch a period, per customer (for all its items) and per
    item, as spans in Unix seconds."""

    by_customer: dict[int, list[Span]]
    by_item: dict[int, list[Span]]

    def of_item(self, customer_id: int, item_id: int) -> list[Span]:
        return merge([*self.by_customer.get(customer_id, []), *self.by_item.get(item_id, [])])


def maintenance(customer_ids: Iterable[int], start: dt.datetime, end: dt.datetime) -> Windows:
    """The maintenance windows of these customers that overlap [start, end): two queries."""
    customers = set(customer_ids)
    by_customer: dict[int, list[Span]] = defaultdict(list)
    by_item: dict[int, list[Span]] = defaultdict(list)
    if not customers:
        return Windows({}, {})
    # A recurring window whose last start is a month before the period cannot reach it (the exact
    # test is occurrences()).
    last_useful = (start.astimezone(dt.UTC) - dt.timedelta(days=31)).date()
    recurring = ~Q(recurrence="") & (Q(repeat_until__isnull=True) | Q(repeat_until__gte=last_useful))
    windows = list(MaintenanceWindow.objects.filter(customer_id__in=customers, starts_at__lt=end)
                   .filter(Q(ends_at__gt=start) | recurring).prefetch_related("configuration_items"))
    for window in windows:
        spans = [(_ts(s), _ts(e)) for s, e in occurrences(window, start, end)]
        if not spans:
            continue
        items = [item.pk for item in window.configuration_items.all()]
        if not items:
            by_customer[window.customer_id].extend(spans)
        for item in items:
            by_item[item].extend(spans)
    return Windows(dict(by_customer), dict(by_item))


@dataclass
class History:
    """What availability needs of a set of checks over [start, end); any period inside it can be
    computed from it without a query (the CI page's 24 h and 7 d from its 30 d)."""

    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    checks: Sequence[Check]
    changes: dict[int, list[tuple[float, str]]]
    windows: Windows

    def __post_init__(self) -> None:
        self.by_item: dict[int, list[Check]] = defaultdict(list)
        for check in self.checks:
            self.by_item[check.configuration_item_id].append(check)

    def segments_of(self, check: Check, start: float, end: float) -> list[Segment]:
        disabled = None
        # A disabled check has no history row for that: its state is "pending" since then.
        if not check.enabled and check.state == CheckState.PENDING and check.state_since is not None:
            disabled = _ts(check.state_since)
        return check_segments(self.changes.get(check.pk, []), start, end, data_until=_ts(self.now),
                              no_data_from=disabled)

    def of_check(self, check: Check, start: dt.datetime | None = None, end: dt.datetime | None = None) -> Availability:
        a, b = self._bounds(start, end)
        windows = self.windows.of_item(check.customer_id, check.configuration_item_id)
        return availability(self.segments_of(check, a, b), windows, a, b)

    def of_item(self, item_id: int, customer_id: int, start: dt.datetime | None = None,
                end: dt.datetime | None = None) -> Availability:
        a, b = self._bounds(start, end)
        timelines = [self.segments_of(c, a, b) for c in self.by_item.get(item_id, [])]
        return availability(worst(timelines, a, b), self.windows.of_item(customer_id, item_id), a, b)

    def _bounds(self, start: dt.datetime | None, end: dt.datetime | None) -> tuple[float, float]:
        a = _ts(start or self.start)
        b = _ts(end or self.end)
        if a < _ts(self.start) or b > _ts(self.end):
            raise ValueError("the period must lie inside the loaded history")
        return a, b


def history(checks: Sequence[Check], start: dt.datetime, end: dt.datetime, *,
            now: dt.datetime | None = None) -> History:
    """Load what the checks' availability over [start, end) needs: three queries."""
    checks = list(checks)
    return History(start=start, end=end, now=now or timezone.now(), checks=checks,
                   changes=state_changes([c.pk for c in checks], start, end),
                   windows=maintenance({c.customer_id for c in checks}, start, end))
