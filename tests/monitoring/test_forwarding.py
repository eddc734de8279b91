"""The push's memory of series for forwarding (monitoring/forwarding.py), without a store: ids
found or made once, an agent's unchanged layout taken as it was, and a bound on what is kept;
the request and digest written alike whether or not the series share their times. The forwarding
itself is tested against a real VictoriaMetrics in test_victoria.py."""

from __future__ import annotations

import pytest

from opsdesk.monitoring import forwarding
from opsdesk.monitoring.models import Series
from tests import remote_write
from tests.factories import make_agent

pytestmark = pytest.mark.django_db

T0 = 1_764_000_000.0


def _columns(*names: str) -> list:
    return [[name, {"device": "sda"}, [T0], [1.0]] for name in names]


def test_series_are_made_once_and_named_in_their_request(customer_a):
    agent = make_agent(customer_a)
    columns = _columns("disk_read", "disk_write")
    found = forwarding.series_of(agent, columns)
    ids = [series_id for series_id, _head in found]
    assert sorted(ids) == sorted(Series.objects.values_list("id", flat=True))
    assert remote_write.decode(forwarding.write_request(found, columns))[0] == (
        {"__name__": "disk_read", "ci": str(agent.configuration_item_id), "customer": str(agent.customer_id),
         "device": "sda", "opsdesk_series": str(ids[0])}, [(int(T0 * 1000), 1.0)])
    # The same layout again: the very same answer; another order: the same ids, looked up.
    assert forwarding.series_of(agent, _columns("disk_read", "disk_write")) is found
    assert [i for i, _s in forwarding.series_of(agent, _columns("disk_write", "disk_read"))] == ids[::-1]
    assert Series.objects.count() == 2


def test_what_is_kept_is_bounded(customer_a, monkeypatch):
    monkeypatch.setattr(forwarding, "KNOWN_SERIES_LIMIT", 3)
    first, second = make_agent(customer_a), make_agent(customer_a)
    forwarding.series_of(first, _columns("a", "b"))
    assert forwarding._known_count == 2
    forwarding.series_of(second, _columns("a", "b"))  # 4 > 3: what was kept goes first
    assert forwarding._known_count == 2
    assert set(forwarding._known) == {second.configuration_item_id}
    assert set(forwarding._layouts) == {second.configuration_item_id}
    # The first agent's series are found again, not made twice.
    forwarding.series_of(first, _columns("a", "b"))
    assert Series.objects.count() == 4


@pytest.mark.parametrize("shared", [True, False])
def test_request_and_digest_are_alike_with_and_without_common_times(customer_a, shared):
    agent = make_agent(customer_a)
    times = [T0, T0 + 15.5, T0 + 30.25]
    columns = [["load1", {}, times, [1, 2.5, -3e-7]], ["cpu", {"cpu": "0"}, list(times), [4.0, 1e300, 6]],
               ["mem", {}, times if shared else [T0 + 60, T0 + 45, T0 + 50], [7.0, 8.0, 9.0]]]
    found = forwarding.series_of(agent, columns)
    common = forwarding.common_times(columns)
    assert (common is not None) is shared
    sent = remote_write.decode(forwarding.write_request(found, columns))
    assert [samples for _labels, samples in sent] == [
        [(int(t * 1000 + 0.5), float(v)) for t, v in zip(times, values, strict=True)]
        for _name, _labels, times, values in columns]
    ids = [series_id for series_id, _head in found]
    newest_mem = (T0 + 30.25, 9.0) if shared else (T0 + 60, 7.0)
    expected = ([], ([*ids], [T0 + 30.25, T0 + 30.25, newest_mem[0]], [-3e-7, 6, newest_mem[1]]))
    assert forwarding.digest(found, columns, frozenset(), common) == expected
    assert forwarding.digest(found, columns, frozenset()) == expected
    # A watched metric keeps all its samples, whatever the times.
    kept, (latest_ids, _t, _v) = forwarding.digest(found, columns, frozenset({"cpu"}), common)
    assert kept == [columns[1]] and latest_ids == [ids[0], ids[2]]
