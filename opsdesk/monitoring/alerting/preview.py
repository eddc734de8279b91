"""How often a rule (as it is being edited, not yet saved) would have fired over the last days,
replayed on the stored data: the rule editor shows it live, so a threshold that would page fifty
times a day is seen before anybody is woken by it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from opsdesk.core.scoping import scope_for
from opsdesk.monitoring.alerting.rules import CompiledRule, compile_rule, narrow
from opsdesk.monitoring.models import AlertRule, Check, CheckStateChange, RuleKind, Series
from opsdesk.monitoring.store import get_store

DAYS = 7
MAX_SERIES = 200


@dataclass
class Firing:
    series: str
    start: dt.datetime
    end: dt.datetime | None  # None: still firing at the end of the data


@dataclass
class Preview:
    series: int = 0
    firings: list[Firing] = field(default_factory=list)
    truncated: bool = False

    @property
    def count(self) -> int:
        return len(self.firings)

    @property
    def per_day(self) -> float:
        return self.count / DAYS

    @property
    def longest(self) -> dt.timedelta | None:
        spans = [(f.end or timezone.now()) - f.start for f in self.firings]
        return max(spans) if spans else None


def replay(rule: CompiledRule, ts: list[float], values: list[float]) -> list[tuple[float, float | None]]:
    """The (start, end) of each firing of a threshold or rate rule over these points."""
    if rule.kind == RuleKind.RATE:
        points = [(ts[i], (values[i] - values[i - 1]) / (ts[i] - ts[i - 1]) * 60.0)
                  for i in range(1, len(ts)) if ts[i] > ts[i - 1]]
    else:
        points = list(zip(ts, values, strict=True))
    firings: list[tuple[float, float | None]] = []
    pending: float | None = None
    firing = False
    for t, value in points:
        if value is None:
            continue
        if not firing:
            if rule.breaches(value):
                pending = t if pending is None else pending
                if t - pending >= rule.for_seconds:
                    firing = True
                    firings.append((pending, None))
            else:
                pending = None
        elif rule.recovered(value):
            firings[-1] = (firings[-1][0], t)
            firing, pending = False, None
    return firings


def gaps(rule: CompiledRule, ts: list[float], end: float) -> list[tuple[float, float | None]]:
    """"No data" firings: every silence longer than the rule allows."""
    found = []
    for before, after in zip(ts, [*ts[1:], end], strict=True):
        if after - before >= rule.absence_seconds:
            found.append((before + rule.absence_seconds, after if after < end else None))
    return found


def preview(rule: AlertRule, user) -> Preview:
    compiled = compile_rule(rule)
    end = timezone.now()
    start = end - dt.timedelta(days=DAYS)
    result = Preview()
    if rule.kind == RuleKind.CHECK_STATE:
        changes = scope_for(user, CheckStateChange.objects.filter(at__gte=start, state__in=rule.check_states or []))
        if rule.customer_id:
            changes = changes.filter(monitor_check__customer_id=rule.customer_id)
        if rule.configuration_item_id:
            changes = changes.filter(monitor_check__configuration_item_id=rule.configuration_item_id)
        if rule.ci_kind_id:
            changes = changes.filter(monitor_check__configuration_item__kind_id=rule.ci_kind_id)
        if rule.check_type:
            changes = changes.filter(monitor_check__type=rule.check_type)
        for change in changes.select_related("monitor_check")[:1000]:
            result.firings.append(Firing(str(change.monitor_check), change.at, None))
        result.series = len({f.series for f in result.firings})
        return result
    template_items = set(Check.objects.filter(template_id=rule.template_id).values_list(
        "configuration_item_id", flat=True)) if rule.template_id else set()
    series = narrow(scope_for(user, Series.objects.all()), compiled, template_items)
    chosen = [s for s in series.select_related("configuration_item")[:MAX_SERIES * 5]
              if compiled.labels_match(s.labels or {})]
    result.truncated = len(chosen) > MAX_SERIES
    chosen = chosen[:MAX_SERIES]
    result.series = len(chosen)
    if not chosen:
        return result
    data = get_store().query([(s.pk, s.name, s.labels or {}) for s in chosen], start.timestamp(), end.timestamp())
    for s in chosen:
        points = data.get(s.pk)
        if points is None or not points.ts:
            continue
        spans = gaps(compiled, points.ts, end.timestamp()) if rule.kind == RuleKind.ABSENCE else \
            replay(compiled, points.ts, points.avg)
        name = f"{s.configuration_item.name} · {s}"
        for begin, finish in spans:
            result.firings.append(Firing(name, dt.datetime.fromtimestamp(begin, tz=dt.UTC),
                                         dt.datetime.fromtimestamp(finish, tz=dt.UTC) if finish else None))
    result.firings.sort(key=lambda f: f.start, reverse=True)
    return result
