"""Rules evaluated where the data arrives: `on_filed` runs inside a filing pass's transaction
with the pass's samples (grouped by series) and check results, so an alert and its first
notifications commit together with the samples that caused them. `periodic_pass` handles what a
pass cannot see: data that does NOT arrive ("no data" rules), held alerts whose hold ended."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils import timezone, translation

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.monitoring.alerting import lifecycle, rules
from opsdesk.monitoring.alerting.lifecycle import Candidate, Recovery
from opsdesk.monitoring.models import OPEN_STATES, Alert, AlertSource, AlertState, Check, CheckState, Series

GroupKey = tuple[int, str, tuple[tuple[str, str], ...]]
_item_kinds: dict[int, int] = {}  # item id -> kind id (an item's kind rarely changes; a miss re-reads)


def _kinds(item_ids: set[int]) -> dict[int, int]:
    missing = item_ids - _item_kinds.keys()
    if missing:
        if len(_item_kinds) > 200_000:
            _item_kinds.clear()
        _item_kinds.update(ConfigurationItem.objects.filter(id__in=missing).values_list("id", "kind_id"))
    return _item_kinds


def rule_fingerprint(rule_id: int, item_id: int, labels: Mapping[str, str]) -> str:
    return lifecycle.fingerprint("rule", rule_id, item_id, labels=dict(labels))


def _title(rule: rules.CompiledRule, labels: Mapping[str, str]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if (k, v) not in rule.labels)
    return f"{rule.name} ({shown})" if shown else rule.name


def _both_languages(label: Any) -> str:
    """A title is stored once and read by everyone: its words in Chinese and English, as people
    name what they store here ("严重 Critical")."""
    with translation.override("zh-hans"):
        chinese = str(label)
    with translation.override("en"):
        english = str(label)
    return english if chinese == english else f"{chinese} {english}"


def _open_states(rule_ids: set[int]) -> dict[str, str]:
    if not rule_ids:
        return {}
    return dict(Alert.objects.filter(rule_id__in=rule_ids, state__in=OPEN_STATES).values_list("fingerprint", "state"))


def _moment(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


RatePair = tuple[rules.CompiledRule, GroupKey, int, float]


def _rate_bases(pairs: list[RatePair]) -> dict[tuple[int, int], tuple[float, float]]:
    """For rate rules: each series' earliest stored sample within the rule's window before the
    newest one (already in the store: older than this pass)."""
    from opsdesk.monitoring.store import get_store

    found: dict[tuple[int, int], tuple[float, float]] = {}
    store = get_store()
    for rule, key, series_id, newest in pairs:
        data = store.query([(series_id, key[1], dict(key[2]))], newest - rule.rate_window, newest,
                           step=0).get(series_id)
        if data is not None and data.ts and data.ts[0] < newest:
            found[(rule.id, series_id)] = (data.ts[0], data.avg[0])
    return found


def on_filed(groups: Mapping[GroupKey, tuple[list[float], list[float]]], ids: Mapping[GroupKey, int],
             customer_of: Mapping[int, int], results: list[tuple[int, dict[str, Any]]],
             checks: Mapping[int, Check]) -> list[Alert]:
    """Evaluate the rules against one filing pass. Answers the alerts that fired."""
    index = rules.current()
    if not index.by_metric and not index.check_rules:
        return []
    candidates: list[Candidate] = []
    recoveries: list[Recovery] = []
    relevant = [key for key in groups if key[1] in index.by_metric]
    items = {key[0] for key in relevant}
    items |= {checks[c].configuration_item_id for c, _r in results if c in checks} if index.check_rules else set()
    kinds = _kinds(items)
    matched: list[tuple[rules.CompiledRule, GroupKey]] = []
    for key in relevant:
        item_id, _name, labels = key
        customer_id = customer_of[item_id]
        for rule in index.by_metric[key[1]]:
            if rule.labels_match(labels) and rule.in_scope(item_id, customer_id, kinds.get(item_id),
                                                           index.items_of_template(rule.template_id)):
                matched.append((rule, key))
    open_states = _open_states({rule.id for rule, _key in matched} | {rule.id for rule in index.check_rules})
    rate_pairs = [(rule, key, ids[key], max(groups[key][0])) for rule, key in matched if rule.kind == "rate"]
    bases = _rate_bases(rate_pairs) if rate_pairs else {}
    for rule, key in matched:
        item_id, _name, label_pairs = key
        labels = dict(label_pairs)
        fp = rule_fingerprint(rule.id, item_id, labels)
        timestamps, values = groups[key]
        if rule.kind == "rate":
            base = bases.get((rule.id, ids[key]))
            newest = timestamps.index(max(timestamps))
            if base is None or timestamps[newest] <= base[0]:
                continue
            points = [(timestamps[newest], (values[newest] - base[1]) / (timestamps[newest] - base[0]) * 60.0)]
        else:
            points = sorted(zip(timestamps, values, strict=True))
        state = open_states.get(fp)
        for ts, value in points:
            at = _moment(ts)
            if rule.breaches(value):
                candidates.append(Candidate(
                    fingerprint=fp, customer_id=customer_of[item_id], source=AlertSource.RULE,
                    title=_title(rule, labels),
                    severity=rule.severity, at=at, value=value, threshold=rule.threshold, labels=labels,
                    rule_id=rule.id, item_id=item_id, series_id=ids[key], for_seconds=rule.for_seconds))
                state = state or AlertState.PENDING
            elif state is not None and (rule.recovered(value) or state == AlertState.PENDING):
                recoveries.append(Recovery(fingerprint=fp, at=at, value=value))
                state = None
    if index.check_rules and results:
        _check_rules(index, results, checks, customer_of, kinds, open_states, candidates, recoveries)
    return lifecycle.apply(candidates, recoveries)


def _check_rules(index: rules.RuleIndex, results, checks, customer_of, kinds, open_states,
                 candidates: list[Candidate], recoveries: list[Recovery]) -> None:
    for check_id, result in sorted(results, key=lambda pair: pair[1]["ts"]):
        check = checks.get(check_id)
        if check is None:
            continue
        item_id = check.configuration_item_id
        for rule in index.check_rules:
            if rule.check_type and rule.check_type != check.type:
                continue
            template_items = index.items_of_template(rule.template_id)
            if not rule.in_scope(item_id, check.customer_id, kinds.get(item_id), template_items):
                continue
            labels = {"check": check.name}
            fp = rule_fingerprint(rule.id, item_id, labels)
            at = _moment(result["ts"])
            if result["state"] in rule.check_states:
                state_label = _both_languages(CheckState(result["state"]).label)
                candidates.append(Candidate(
                    fingerprint=fp, customer_id=check.customer_id, source=AlertSource.RULE,
                    title=f"{rule.name}: {check.name} {state_label}", severity=rule.severity, at=at,
                    labels=labels, description=result.get("message", "")[:500], rule_id=rule.id, item_id=item_id,
                    check_id=check.id, for_seconds=rule.for_seconds))
                open_states.setdefault(fp, AlertState.PENDING)
            elif fp in open_states:
                recoveries.append(Recovery(fingerprint=fp, at=at, text=result.get("message", "")[:500]))
                open_states.pop(fp)


def absence(now: dt.datetime | None = None) -> list[Alert]:
    """"No data for N minutes": every series a rule of that kind covers whose newest sample is
    older than its limit (and never-reporting series of a covered item are not guessed at)."""
    now = now or timezone.now()
    index = rules.current()
    if not index.absence_rules:
        return []
    candidates: list[Candidate] = []
    recoveries: list[Recovery] = []
    open_states = _open_states({rule.id for rule in index.absence_rules})
    for rule in index.absence_rules:
        series = rules.narrow(Series.objects.all(), rule, index.items_of_template(rule.template_id))
        for row in series.values("id", "customer_id", "configuration_item_id", "labels", "last_ts").iterator():
            labels = row["labels"] or {}
            if not rule.labels_match(labels) or row["last_ts"] is None:
                continue
            fp = rule_fingerprint(rule.id, row["configuration_item_id"], labels)
            silent_for = now.timestamp() - row["last_ts"]
            if silent_for >= rule.absence_seconds:
                candidates.append(Candidate(
                    fingerprint=fp, customer_id=row["customer_id"], source=AlertSource.RULE,
                    title=_title(rule, labels), severity=rule.severity, at=now, labels=labels, rule_id=rule.id,
                    item_id=row["configuration_item_id"], series_id=row["id"],
                    started_at=_moment(row["last_ts"] + rule.absence_seconds)))
            elif fp in open_states:
                recoveries.append(Recovery(fingerprint=fp, at=now))
    return lifecycle.apply(candidates, recoveries)
