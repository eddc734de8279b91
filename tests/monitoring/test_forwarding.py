"""The push's memory of series for forwarding (monitoring/forwarding.py), without a store: ids
found or made once, an agent's unchanged layout taken as it was, and a bound on what is kept.
The forwarding itself is tested against a real VictoriaMetrics in test_victoria.py."""

from __future__ import annotations

import pytest

from opsdesk.monitoring import forwarding
from opsdesk.monitoring.models import Series
from tests.factories import make_agent

pytestmark = pytest.mark.django_db

T0 = 1_764_000_000.0


def _columns(*names: str) -> list:
    return [[name, {"device": "sda"}, [T0], [1.0]] for name in names]


def test_series_are_made_once_and_named_in_their_lines(customer_a):
    agent = make_agent(customer_a)
    found = forwarding.series_of(agent, _columns("disk_read", "disk_write"))
    ids = [series_id for series_id, _start in found]
    assert sorted(ids) == sorted(Series.objects.values_list("id", flat=True))
    assert found[0][1] == (b'{"metric":{"__name__":"disk_read","opsdesk_series":"%d","ci":"%d","customer":"%d",'
                           b'"device":"sda"},"values":' % (ids[0], agent.configuration_item_id, agent.customer_id))
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
