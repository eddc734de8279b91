"""Series rows by their identity: an item, a metric name and its labels. Found, or made where
missing, by the filer for every pass and by a push that forwards its samples to the metric store
(monitoring/forwarding.py), which names each series by its id there."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from opsdesk.monitoring.models import Series

# (item id, name, sorted label pairs)
GroupKey = tuple[int, str, tuple[tuple[str, str], ...]]


def series_key(name: str, labels: Iterable[tuple[str, str]]) -> str:
    """A series' identity within its item: sha1 of the name and the sorted labels."""
    text = name + "".join(f"\x00{k}\x01{v}" for k, v in sorted(labels))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def resolve(missing: Iterable[GroupKey], customer_of: Mapping[int, int],
            check_of: Mapping[GroupKey, int] | None = None) -> dict[GroupKey, int]:
    """The ids of the series, making the rows that are missing. Two makers racing are settled by
    the unique constraint: the one that lost reads the winner's row."""
    keys = {key: series_key(key[1], key[2]) for key in missing}
    if not keys:
        return {}
    check_of = check_of or {}
    items = {key[0] for key in keys}
    known = dict(((item, k), sid) for item, k, sid in Series.objects.filter(
        configuration_item_id__in=items, key__in=set(keys.values())).values_list("configuration_item_id", "key", "id"))
    new = [Series(customer_id=customer_of[key[0]], configuration_item_id=key[0], name=key[1], labels=dict(key[2]),
                  key=digest, monitor_check_id=check_of.get(key))
           for key, digest in keys.items() if (key[0], digest) not in known]
    if new:
        Series.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
        known.update(((item, k), sid) for item, k, sid in Series.objects.filter(
            configuration_item_id__in=items, key__in=[s.key for s in new]).values_list(
            "configuration_item_id", "key", "id"))
    return {key: known[(key[0], digest)] for key, digest in keys.items()}
