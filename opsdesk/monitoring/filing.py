"""Filing: pushed batches (stored whole, at once, by the push) go into per-series storage here, off
the request path and many batches at a time.

One pass takes the oldest unfiled batches, groups their samples by series (finding or creating the
series rows), writes one chunk per series to the store, updates each series' last value, records
the check results the batches carry, and marks the batches filed, all in one transaction: a pass
that fails leaves its batches unfiled for the next one, and nothing half-written.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from opsdesk.monitoring.models import Agent, Check, IngestBatch, Series
from opsdesk.monitoring.store import Points, get_store

log = logging.getLogger(__name__)

BATCHES_PER_PASS = 200
_SERIES = Series._meta.db_table
# (item id, name, sorted label pairs) -> series id; a series, once made, keeps its id for good.
_series_ids: dict[tuple, int] = {}
_SERIES_CACHE_LIMIT = 500_000

GroupKey = tuple[int, str, tuple[tuple[str, str], ...]]


def series_key(name: str, labels: Iterable[tuple[str, str]]) -> str:
    """A series' identity within its item: sha1 of the name and the sorted labels."""
    text = name + "".join(f"\x00{k}\x01{v}" for k, v in sorted(labels))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


class _Pass:
    """The samples of one filing pass, grouped by series."""

    def __init__(self) -> None:
        self.groups: dict[GroupKey, tuple[list[float], list[float]]] = {}
        self.customer_of: dict[int, int] = {}
        self.check_of: dict[GroupKey, int] = {}
        self.results: list[tuple[int, dict[str, Any]]] = []
        self.samples = 0

    def add(self, item_id: int, name: str, labels: dict[str, str], ts: float, value: float) -> None:
        key = (item_id, name, tuple(sorted(labels.items())) if labels else ())
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = ([], [])
        group[0].append(ts)
        group[1].append(value)
        self.samples += 1

    def add_batch(self, agent: Agent, body: dict[str, Any], checks: dict[int, Check]) -> None:
        item = agent.configuration_item_id
        if item is not None:
            self.customer_of[item] = agent.customer_id
            add = self.add
            for sample in body.get("samples", ()):
                add(item, sample["name"], sample["labels"], sample["ts"], sample["value"])
            for series in body.get("series", ()):
                for ts, value in series["points"]:
                    add(item, series["name"], series["labels"], ts, value)
        for result in body.get("checks", ()):
            check = checks.get(result["id"])
            if check is None:  # deleted since the push; its results go with it
                continue
            self.customer_of[check.configuration_item_id] = check.customer_id
            self.results.append((check.id, result))
            for sample in result.get("samples", ()):
                self.add(check.configuration_item_id, sample["name"], sample["labels"], result["ts"], sample["value"])
                key = (check.configuration_item_id, sample["name"], tuple(sorted(sample["labels"].items())))
                self.check_of[key] = check.id


def _resolve_series(work: _Pass) -> dict[GroupKey, int]:
    """Series ids for every group, making the rows that are missing (racing passes are settled by
    the unique constraint: a lost race just reads the winner's row)."""
    if len(_series_ids) > _SERIES_CACHE_LIMIT:
        _series_ids.clear()
    missing = [key for key in work.groups if key not in _series_ids]
    if missing:
        keys = {key: series_key(key[1], key[2]) for key in missing}
        items = {key[0] for key in missing}
        known = dict(((item, k), sid) for item, k, sid in Series.objects.filter(
            configuration_item_id__in=items, key__in=set(keys.values())).values_list(
            "configuration_item_id", "key", "id"))
        new = [Series(customer_id=work.customer_of[key[0]], configuration_item_id=key[0], name=key[1],
                      labels=dict(key[2]), key=keys[key], monitor_check_id=work.check_of.get(key))
               for key in missing if (key[0], keys[key]) not in known]
        if new:
            Series.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
            known.update(((item, k), sid) for item, k, sid in Series.objects.filter(
                configuration_item_id__in=items, key__in=[s.key for s in new]).values_list(
                "configuration_item_id", "key", "id"))
        for key in missing:
            _series_ids[key] = known[(key[0], keys[key])]
    return {key: _series_ids[key] for key in work.groups}


def _update_last_values(ids: dict[GroupKey, int], work: _Pass) -> None:
    rows = []
    for key, (ts, values) in work.groups.items():
        newest = max(range(len(ts)), key=ts.__getitem__)
        rows.append((ts[newest], values[newest], ids[key], ts[newest]))
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {_SERIES} SET last_ts = %s, last_value = %s "
                           f"WHERE id = %s AND (last_ts IS NULL OR last_ts <= %s)", rows)


def file_pass(limit: int = BATCHES_PER_PASS) -> tuple[int, int]:
    """File up to `limit` of the oldest unfiled batches; answers how many batches and samples."""
    from opsdesk.monitoring import services

    store = get_store()
    with transaction.atomic():
        pending = IngestBatch.objects.filter(filed_at=None).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True)
        batches = list(pending.values_list("id", "agent_id", "payload")[:limit])
        if not batches:
            return 0, 0
        agents = Agent.objects.in_bulk({agent_id for _id, agent_id, _payload in batches})
        bodies = [(agents[agent_id], orjson.loads(bytes(payload))) for _id, agent_id, payload in batches]
        check_ids = {r["id"] for _agent, body in bodies for r in body.get("checks", ())}
        checks = Check.objects.in_bulk(check_ids) if check_ids else {}
        work = _Pass()
        for agent, body in bodies:
            work.add_batch(agent, body, checks)
        ids = _resolve_series(work)
        store.write([Points(series_id=ids[key], item_id=key[0], customer_id=work.customer_of[key[0]],
                            name=key[1], labels=dict(key[2]), ts=ts, values=values)
                     for key, (ts, values) in work.groups.items()])
        if work.groups:
            _update_last_values(ids, work)
        if work.results:
            services.record_check_results(work.results, checks)
        IngestBatch.objects.filter(id__in=[b[0] for b in batches]).update(filed_at=timezone.now())
    return len(batches), work.samples


def file_pending(budget_seconds: float = 50.0) -> int:
    """File passes until nothing is pending or the time budget is spent; answers samples filed."""
    deadline = time.monotonic() + budget_seconds
    total = 0
    while time.monotonic() < deadline:
        batches, samples = file_pass()
        total += samples
        if not batches:  # nothing pending, or what is pending is being filed by another pass
            break
    return total
