"""What holds an alert's notifications back, each shown on the alert and its timeline:

- an upstream fault: an open alert on an item this one runs on or depends on (transitively), or on
  the only item it is connected to (a server behind its one switch) — "suppressed by";
- a silence whose matchers match it, active now;
- a maintenance window of its customer (or of its item), active now, once or recurring;
- flapping: its fingerprint fired FLAP_LIMIT times within FLAP_WINDOW.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from opsdesk.cmdb.models import Relation, RelationType
from opsdesk.monitoring.models import (
    OPEN_STATES,
    Alert,
    AlertEvent,
    AlertEventKind,
    AlertState,
    MaintenanceWindow,
    Recurrence,
    Silence,
)

FLAP_WINDOW = dt.timedelta(minutes=30)
FLAP_LIMIT = 4  # firings of one fingerprint within the window
UPSTREAM_DEPTH = 6


# --- upstream faults (CMDB relations) -------------------------------------------------------------

def upstream_items(item_ids: Iterable[int]) -> dict[int, set[int]]:
    """For each item, the items whose failure explains its own: what it runs on or depends on
    (followed transitively), and the one item it is connected to when it has only one."""
    start = set(item_ids)
    result: dict[int, set[int]] = {item: set() for item in start}
    frontier = {item: {item} for item in start}
    seen_edges: dict[int, list[tuple[str, int, int]]] = {}
    for _depth in range(UPSTREAM_DEPTH):
        wanted = set().union(*frontier.values()) - seen_edges.keys() if frontier else set()
        if wanted:
            edges = Relation.objects.filter(Q(source_id__in=wanted) | Q(target_id__in=wanted,
                                                                        type=RelationType.CONNECTED_TO))
            for source, kind, target in edges.values_list("source_id", "type", "target_id"):
                seen_edges.setdefault(source, []).append((kind, source, target))
                if kind == RelationType.CONNECTED_TO:
                    seen_edges.setdefault(target, []).append((kind, source, target))
            for item in wanted:
                seen_edges.setdefault(item, [])
        next_frontier: dict[int, set[int]] = {}
        for origin, items in frontier.items():
            found: set[int] = set()
            for item in items:
                edges = seen_edges.get(item, [])
                for kind, source, target in edges:
                    if kind in (RelationType.RUNS_ON, RelationType.DEPENDS_ON) and source == item:
                        found.add(target)
                links = {(s if t == item else t) for kind, s, t in edges if kind == RelationType.CONNECTED_TO}
                if len(links) == 1:
                    found |= links
            found -= result[origin] | {origin}
            if found:
                result[origin] |= found
                next_frontier[origin] = found
        frontier = next_frontier
        if not frontier:
            break
    return result


def _suppress(alerts: list[Alert], now: dt.datetime) -> list[AlertEvent]:
    items = {a.configuration_item_id for a in alerts if a.configuration_item_id}
    if not items:
        return []
    upstream = upstream_items(items)
    all_up = set().union(*upstream.values())
    if not all_up:
        return []
    # The oldest open (fired, not pending) alert of each upstream item explains the others.
    causes: dict[int, Alert] = {}
    for cause in Alert.objects.filter(configuration_item_id__in=all_up, state__in=(
            AlertState.FIRING, AlertState.ACKNOWLEDGED)).order_by("started_at", "id"):
        causes.setdefault(cause.configuration_item_id, cause)
    events = []
    for alert in alerts:
        for item in sorted(upstream.get(alert.configuration_item_id, ())):
            cause = causes.get(item)
            if cause is not None and cause.pk != alert.pk and cause.suppressed_by_id != alert.pk:
                alert.suppressed_by = cause
                events.append(AlertEvent(alert=alert, kind=AlertEventKind.SUPPRESSED, at=now,
                                         text=f"{cause.title} ({cause.configuration_item})"[:500]))
                break
    return events


# --- silences ------------------------------------------------------------------------------------

def alert_attributes(alert: Alert) -> dict[str, str]:
    """What a silence's matchers look at: the alert's labels and its own fields."""
    attributes = {str(k): str(v) for k, v in (alert.labels or {}).items()}
    attributes.update({"severity": alert.severity, "source": alert.source, "alertname": alert.title,
                       "customer": alert.customer.code if alert.customer_id else "",
                       "item": alert.configuration_item.name if alert.configuration_item_id else "",
                       "rule": alert.rule.name if alert.rule_id and alert.rule else ""})
    return attributes


def matches(matchers: list[dict], attributes: dict[str, str]) -> bool:
    for matcher in matchers:
        value = attributes.get(matcher.get("name", ""), "")
        wanted, op = str(matcher.get("value", "")), matcher.get("op", "=")
        if op == "=" and value != wanted:
            return False
        if op == "!=" and value == wanted:
            return False
        if op in ("=~", "!~"):
            found = re.fullmatch(wanted, value) is not None
            if found != (op == "=~"):
                return False
    return True


def active_silences(customer_ids: set[int], now: dt.datetime) -> list[Silence]:
    return list(Silence.objects.filter(Q(customer__isnull=True) | Q(customer_id__in=customer_ids),
                                       starts_at__lte=now, ends_at__gt=now).order_by("ends_at"))


# --- maintenance windows -----------------------------------------------------------------------

def _shift(moment: dt.datetime, recurrence: str, steps: int) -> dt.datetime:
    if recurrence == Recurrence.DAILY:
        return moment + dt.timedelta(days=steps)
    if recurrence == Recurrence.WEEKLY:
        return moment + dt.timedelta(weeks=steps)
    month = moment.month - 1 + steps
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


# The shortest length of each recurrence's period, to know how many occurrences back can still
# reach a moment (a window may last longer than its period: a daily one of 30 hours).
_SHORTEST_PERIOD = {Recurrence.DAILY: dt.timedelta(days=1), Recurrence.WEEKLY: dt.timedelta(weeks=1),
                    Recurrence.MONTHLY: dt.timedelta(days=28)}


def _steps_before(first: dt.datetime, moment: dt.datetime, recurrence: str) -> int:
    """About how many periods lie between the first occurrence and `moment` (never too many)."""
    if recurrence == Recurrence.DAILY:
        return (moment - first).days
    if recurrence == Recurrence.WEEKLY:
        return (moment - first).days // 7
    return (moment.year - first.year) * 12 + moment.month - first.month - 1


def _wall(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The moment's wall-clock time in `zone`, without a zone."""
    return moment.astimezone(zone).replace(tzinfo=None)


def _utc(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A wall-clock time of `zone` in UTC. One that a change to summer time skips is read with the
    offset before the change (02:30 becomes 03:30 summer time); one that a change back repeats is
    its first."""
    return wall.replace(tzinfo=zone).astimezone(dt.UTC)


def occurrences(window: MaintenanceWindow, start: dt.datetime,
                end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The occurrences of the window that overlap [start, end), oldest first, in UTC. Recurring
    ones repeat at the same wall-clock time in the site's time zone (OPSDESK_TIME_ZONE), as a
    person means "every Sunday at 02:00" (and as Zabbix repeats its maintenance periods): across a
    change to summer time their UTC time moves. The one place that decides it, for alerting
    (occurrence_at) and availability alike."""
    first_start, first_end = window.starts_at.astimezone(dt.UTC), window.ends_at.astimezone(dt.UTC)
    if first_end <= first_start or end <= start:
        return []
    if not window.recurrence:
        return [(first_start, first_end)] if first_start < end and first_end > start else []
    zone = ZoneInfo(settings.OPSDESK_TIME_ZONE)
    wall_start, wall_end = _wall(first_start, zone), _wall(first_end, zone)
    length = first_end - first_start
    back = 1 + int(length / _SHORTEST_PERIOD[window.recurrence])
    found = []
    k = max(0, _steps_before(wall_start, _wall(start, zone), window.recurrence) - back)
    while True:
        wall = _shift(wall_start, window.recurrence, k)
        if window.repeat_until and wall.date() > window.repeat_until:
            break
        s = _utc(wall, zone)
        if s >= end:
            break
        e = _utc(_shift(wall_end, window.recurrence, k), zone)
        if e > start and e > s:
            found.append((s, e))
        k += 1
    return found


def occurrence_at(window: MaintenanceWindow, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The occurrence of the window that contains `now`, if any."""
    found = occurrences(window, now, now + dt.timedelta(microseconds=1))
    return found[-1] if found else None


def in_maintenance(alerts: list[Alert], now: dt.datetime) -> set[int]:
    """The ids of the alerts whose customer or item is in a maintenance window now."""
    customers = {a.customer_id for a in alerts}
    windows = list(MaintenanceWindow.objects.filter(customer_id__in=customers, starts_at__lte=now)
                   .filter(Q(ends_at__gt=now) | ~Q(recurrence="")).prefetch_related("configuration_items"))
    held: set[int] = set()
    for window in windows:
        if occurrence_at(window, now) is None:
            continue
        items = {item.pk for item in window.configuration_items.all()}
        for alert in alerts:
            if alert.customer_id == window.customer_id and (not items or alert.configuration_item_id in items):
                held.add(alert.pk)
    return held


# --- all of them ---------------------------------------------------------------------------------

def apply_holds(alerts: list[Alert], now: dt.datetime | None = None) -> None:
    """Decide for alerts that fired now whether anybody is paged; writes the reasons."""
    now = now or timezone.now()
    events = _suppress(alerts, now)
    silences = active_silences({a.customer_id for a in alerts}, now)
    maintenance = in_maintenance(alerts, now)
    flapping = _flapping({a.fingerprint for a in alerts}, now)
    for alert in alerts:
        if alert.silenced_by_id is None:
            for silence in silences:
                if silence.customer_id in (None, alert.customer_id) and matches(silence.matchers,
                                                                                 alert_attributes(alert)):
                    alert.silenced_by = silence
                    events.append(AlertEvent(alert=alert, kind=AlertEventKind.SILENCED, at=now,
                                             text=silence.reason[:500]))
                    break
        if alert.pk in maintenance and not alert.in_maintenance:
            alert.in_maintenance = True
            events.append(AlertEvent(alert=alert, kind=AlertEventKind.MAINTENANCE, at=now))
        if alert.fingerprint in flapping and not alert.flapping:
            alert.flapping = True
            events.append(AlertEvent(alert=alert, kind=AlertEventKind.FLAPPING, at=now))
        alert.save(update_fields=["suppressed_by", "silenced_by", "in_maintenance", "flapping"])
    AlertEvent.objects.bulk_create(events)


def _flapping(fingerprints: set[str], now: dt.datetime) -> set[str]:
    from django.db.models import Count

    rows = (Alert.objects.filter(fingerprint__in=fingerprints, started_at__gte=now - FLAP_WINDOW)
            .exclude(fired_at=None).values("fingerprint").annotate(n=Count("id")).filter(n__gte=FLAP_LIMIT))
    return {row["fingerprint"] for row in rows}


def release_held(now: dt.datetime | None = None) -> int:
    """The periodic pass: alerts held by a silence or maintenance window that has ended, or
    flapping that has calmed down, and still firing, are notified now. Answers how many."""
    from opsdesk.monitoring.alerting.lifecycle import notify_fired

    now = now or timezone.now()
    held = list(Alert.objects.filter(state=AlertState.FIRING, notified=False, suppressed_by=None)
                .filter(Q(silenced_by__isnull=False) | Q(in_maintenance=True) | Q(flapping=True))
                .select_related("silenced_by", "customer", "configuration_item", "rule"))
    if not held:
        return 0
    maintenance = in_maintenance(held, now)
    calm = _flapping({a.fingerprint for a in held if a.flapping}, now)
    released = 0
    for alert in held:
        changed = []
        if alert.silenced_by_id and alert.silenced_by.ends_at <= now:
            alert.silenced_by = None
            changed.append("silenced_by")
        if alert.in_maintenance and alert.pk not in maintenance:
            alert.in_maintenance = False
            changed.append("in_maintenance")
        if alert.flapping and alert.fingerprint not in calm and now - alert.started_at >= FLAP_WINDOW:
            alert.flapping = False
            changed.append("flapping")
        if changed:
            alert.save(update_fields=changed)
        if not alert.held:
            notify_fired(alert)
            released += 1
    return released


__all__ = ["OPEN_STATES", "apply_holds", "in_maintenance", "matches", "occurrence_at", "occurrences", "release_held",
           "upstream_items"]
