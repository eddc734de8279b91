"""Availability from fixed state histories on fixed dates: time in each state, maintenance counted
apart (one-off and recurring, per item and per customer), no data before the first result, an
item as the worst of its checks, and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from opsdesk.monitoring.alerting import holds
from opsdesk.monitoring.availability import compute, history
from opsdesk.monitoring.models import CheckStateChange, MaintenanceWindow
from tests.factories import ConfigurationItemFactory, make_check_in_state

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
HOUR = 3600.0
LATER = T0 + dt.timedelta(days=60)  # "now": the periods below are all in the past


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def with_history(item, changes: list[tuple[dt.datetime, str]], *, name: str = "ping", enabled: bool = True):
    """A check of `item` whose results changed state at these times (the first from "pending")."""
    last = changes[-1][1] if changes else "pending"
    check = make_check_in_state(item, last, name=name, enabled=enabled, since=changes[-1][0] if changes else T0)
    previous = "pending"
    for at, state in changes:
        CheckStateChange.objects.create(monitor_check=check, previous=previous, state=state, at=at)
        previous = state
    return check


def of_check(check, start: dt.datetime, end: dt.datetime, now: dt.datetime = LATER) -> compute.Availability:
    return history([check], start, end, now=now).of_check(check)


def window(customer, start: dt.datetime, end: dt.datetime, *, items=(), **kwargs) -> MaintenanceWindow:
    created = MaintenanceWindow.objects.create(customer=customer, name="maintenance", starts_at=start, ends_at=end,
                                               **kwargs)
    created.configuration_items.set(items)
    return created


@pytest.fixture
def item(customer_a):
    return ConfigurationItemFactory(customer=customer_a, name="db-01")


@pytest.fixture
def outage(item):
    """First result at 01:00, critical from 10:00 to 12:00, OK otherwise."""
    return with_history(item, [(h(1), "ok"), (h(10), "critical"), (h(12), "ok")])


# --- states and no data -----------------------------------------------------------------------

def test_time_in_each_state_and_the_share_not_critical(outage):
    result = of_check(outage, T0, h(24))

    assert result.seconds == {"ok": 21 * HOUR, "warning": 0, "critical": 2 * HOUR, "unknown": 0,
                              "no_data": 1 * HOUR, "maintenance": 0}
    assert result.percent == pytest.approx(100 * 21 / 23)
    assert result.down == [(h(10).timestamp(), h(12).timestamp())]
    assert [(s.state, s.seconds / HOUR) for s in result.segments] == [("no_data", 1), ("ok", 9), ("critical", 2),
                                                                      ("ok", 12)]


def test_the_time_before_the_first_result_is_no_data_not_up(item):
    check = with_history(item, [(h(20), "critical")])
    result = of_check(check, T0, h(24))
    assert result.seconds["no_data"] == 20 * HOUR
    assert result.seconds["critical"] == 4 * HOUR
    assert result.percent == 0.0


def test_a_check_without_any_result_has_no_availability(item):
    check = with_history(item, [])
    result = of_check(check, T0, h(24))
    assert result.seconds["no_data"] == 24 * HOUR
    assert result.percent is None


def test_the_state_at_the_start_is_the_last_change_before_it(outage):
    # 11:00–13:00: critical since 10:00, which is before the period.
    result = of_check(outage, h(11), h(13))
    assert result.seconds["critical"] == 1 * HOUR and result.seconds["ok"] == 1 * HOUR
    assert result.seconds["no_data"] == 0


def test_the_future_is_no_data(outage):
    result = of_check(outage, T0, h(24), now=h(18))
    assert result.seconds["no_data"] == (1 + 6) * HOUR
    assert result.seconds["ok"] == 15 * HOUR


def test_a_disabled_check_has_no_data_since_it_was_disabled(item):
    check = with_history(item, [(h(1), "ok")], enabled=False)
    check.state, check.state_since = "pending", h(6)  # what services.disable_check leaves
    check.save()
    result = of_check(check, T0, h(24))
    assert result.seconds["ok"] == 5 * HOUR
    assert result.seconds["no_data"] == 19 * HOUR


def test_the_time_a_check_was_disabled_stays_no_data_after_it_runs_again(item, admin):
    from unittest import mock

    from opsdesk.monitoring import services

    check = with_history(item, [(h(1), "critical")])
    check.last_run_at = h(5)
    check.save()
    with mock.patch("django.utils.timezone.now", return_value=h(6)):
        services.disable_check(check, actor=admin)
    with mock.patch("django.utils.timezone.now", return_value=h(9)):
        services.enable_check(check, actor=admin)
    check.refresh_from_db()
    assert (check.enabled, check.state) == (True, "pending")
    # Its first result after that, at 12:00, as filing records it.
    services.record_check_results([(check.pk, {"state": "ok", "ts": h(12).timestamp()})], {check.pk: check})
    result = of_check(check, T0, h(24))
    assert result.seconds["critical"] == 5 * HOUR  # 01:00 to 06:00, not on through the time it was off
    assert result.seconds["no_data"] == (1 + 6) * HOUR  # before 01:00, and 06:00 to 12:00
    assert result.seconds["ok"] == 12 * HOUR
    disabled = CheckStateChange.objects.get(monitor_check=check, code="disabled")
    assert (disabled.previous, disabled.state, disabled.at) == ("critical", "pending", h(6))


def test_warning_and_unknown_are_up_and_shown_apart(item):
    check = with_history(item, [(T0, "ok"), (h(2), "warning"), (h(5), "unknown"), (h(6), "ok")])
    result = of_check(check, T0, h(10))
    assert (result.seconds["warning"], result.seconds["unknown"]) == (3 * HOUR, 1 * HOUR)
    assert result.percent == 100.0
    assert result.down == []


# --- maintenance --------------------------------------------------------------------------------

def test_a_down_period_inside_a_maintenance_window_does_not_count(customer_a, item, outage):
    window(customer_a, h(9), h(13), items=[item])
    result = of_check(outage, T0, h(24))
    assert result.seconds["critical"] == 0
    assert result.seconds["maintenance"] == 4 * HOUR
    assert result.seconds["ok"] == 19 * HOUR
    assert result.percent == 100.0
    assert result.down == []
    assert result.maintenance == [(h(9).timestamp(), h(13).timestamp())]


def test_a_down_period_half_inside_a_maintenance_window_counts_half(customer_a, item, outage):
    window(customer_a, h(11), h(14))
    result = of_check(outage, T0, h(24))
    assert result.seconds["critical"] == 1 * HOUR
    assert result.seconds["maintenance"] == 3 * HOUR
    assert result.down == [(h(10).timestamp(), h(11).timestamp())]
    assert result.percent == pytest.approx(100 * 19 / 20)


def test_maintenance_over_no_data_is_maintenance(customer_a, item, outage):
    window(customer_a, T0 - dt.timedelta(hours=1), h(2))
    result = of_check(outage, T0, h(24))
    assert result.seconds["maintenance"] == 2 * HOUR
    assert result.seconds["no_data"] == 0
    assert sum(result.seconds.values()) == 24 * HOUR


def test_only_the_windows_of_the_item_and_of_its_whole_customer_count(customer_a, customer_b, item, outage):
    other = ConfigurationItemFactory(customer=customer_a)
    window(customer_a, h(10), h(11), items=[other])      # another item of the customer
    window(customer_b, h(10), h(12))                     # another customer
    result = of_check(outage, T0, h(24))
    assert result.seconds["maintenance"] == 0
    window(customer_a, h(10), h(10.5))                   # the whole customer
    window(customer_a, h(11.5), h(12), items=[item, other])  # this item among others
    result = of_check(outage, T0, h(24))
    assert result.seconds["maintenance"] == 1 * HOUR
    assert result.seconds["critical"] == 1 * HOUR


def test_a_weekly_window_in_shanghai_time_is_left_out_every_week(customer_a, item):
    # Critical for four weeks; every Sunday 02:00–04:00 Beijing time is maintenance.
    check = with_history(item, [(T0, "critical")])
    first = dt.datetime(2026, 3, 8, 2, 0, tzinfo=SHANGHAI)
    window(customer_a, first, first + dt.timedelta(hours=2), recurrence="weekly")
    result = of_check(check, T0, T0 + dt.timedelta(weeks=4))

    assert result.seconds["maintenance"] == 4 * 2 * HOUR
    local = [(compute.to_datetime(a).astimezone(SHANGHAI), compute.to_datetime(b).astimezone(SHANGHAI))
             for a, b in result.maintenance]
    assert [(a.strftime("%a %H:%M"), b.strftime("%H:%M")) for a, b in local] == [("Sun 02:00", "04:00")] * 4
    assert [a.day for a, _ in local] == [8, 15, 22, 29]
    assert result.seconds["critical"] == 4 * 7 * 24 * HOUR - 8 * HOUR


def test_a_weekly_window_across_berlins_summer_time_keeps_its_wall_clock_time(customer_a, item, settings):
    # A recurring window repeats at the same wall-clock time in the site's zone: after Berlin's
    # change to summer time (29 March 2026, 02:00) it starts an hour earlier in UTC. Alerting
    # (occurrence_at) and availability agree on every occurrence: it is one function.
    settings.OPSDESK_TIME_ZONE = "Europe/Berlin"
    check = with_history(item, [(T0, "critical")])
    first = dt.datetime(2026, 3, 15, 1, 0, tzinfo=BERLIN)  # 00:00 UTC
    created = window(customer_a, first, first + dt.timedelta(hours=2), recurrence="weekly")
    start, end = dt.datetime(2026, 3, 14, tzinfo=UTC), dt.datetime(2026, 4, 11, tzinfo=UTC)
    result = of_check(check, start, end)

    assert [compute.to_datetime(a).strftime("%m-%d %H:%M") for a, _ in result.maintenance] == [
        "03-15 00:00", "03-22 00:00", "03-29 00:00", "04-04 23:00"]
    assert [compute.to_datetime(a).astimezone(BERLIN).hour for a, _ in result.maintenance] == [1, 1, 1, 1]
    # The night of the change: 01:00-03:00 on the wall clock is one hour long.
    assert [round((b - a) / HOUR) for a, b in result.maintenance] == [2, 2, 1, 2]
    assert result.seconds["maintenance"] == 7 * HOUR
    stored = MaintenanceWindow.objects.get(pk=created.pk)
    for a, b in result.maintenance:
        assert holds.occurrence_at(stored, compute.to_datetime(a)) is not None
        assert holds.occurrence_at(stored, compute.to_datetime(b)) is None
        assert holds.occurrence_at(stored, compute.to_datetime(a - 1)) is None


def test_a_daily_window_repeats_until_its_last_day(customer_a, item):
    check = with_history(item, [(T0, "ok")])
    window(customer_a, h(3), h(4), recurrence="daily", repeat_until=dt.date(2026, 3, 4))
    result = of_check(check, T0, T0 + dt.timedelta(days=7))
    assert [compute.to_datetime(a).day for a, _ in result.maintenance] == [2, 3, 4]


def test_a_monthly_window_on_the_31st_falls_on_the_last_day_of_shorter_months(customer_a, settings):
    settings.OPSDESK_TIME_ZONE = "UTC"
    created = MaintenanceWindow(customer=customer_a, name="m", recurrence="monthly",
                                starts_at=dt.datetime(2026, 1, 31, 20, tzinfo=UTC),
                                ends_at=dt.datetime(2026, 1, 31, 22, tzinfo=UTC))
    found = holds.occurrences(created, dt.datetime(2026, 2, 1, tzinfo=UTC), dt.datetime(2026, 5, 1, tzinfo=UTC))
    assert [s.date().isoformat() for s, _ in found] == ["2026-02-28", "2026-03-31", "2026-04-30"]


def test_a_window_longer_than_its_period_reaches_the_next_occurrence(customer_a):
    created = MaintenanceWindow(customer=customer_a, name="d", recurrence="daily", starts_at=T0,
                                ends_at=T0 + dt.timedelta(hours=30))
    found = holds.occurrences(created, h(24 * 5 + 3), h(24 * 5 + 4))
    assert [(s - T0).days for s, _ in found] == [4, 5]


# --- an item --------------------------------------------------------------------------------------

def test_an_item_is_the_worst_of_its_checks(customer_a, item):
    ping = with_history(item, [(T0, "ok"), (h(2), "critical"), (h(4), "ok")], name="ping")
    disk = with_history(item, [(h(1), "ok"), (h(3), "warning"), (h(5), "ok")], name="disk")
    late = with_history(item, [(h(8), "ok")], name="late")  # no data before 08:00 does not hide the others
    result = history([ping, disk, late], T0, h(10), now=LATER).of_item(item.pk, customer_a.pk)
    assert result.seconds["critical"] == 2 * HOUR
    assert result.seconds["warning"] == 1 * HOUR
    assert result.seconds["ok"] == 7 * HOUR
    assert result.seconds["no_data"] == 0
    assert result.percent == pytest.approx(80.0)


def test_an_item_has_no_data_only_while_none_of_its_checks_has(customer_a, item):
    a = with_history(item, [(h(2), "ok")], name="a")
    b = with_history(item, [(h(4), "critical")], name="b")
    result = history([a, b], T0, h(6), now=LATER).of_item(item.pk, customer_a.pk)
    assert result.seconds == {"ok": 2 * HOUR, "warning": 0, "critical": 2 * HOUR, "unknown": 0,
                              "no_data": 2 * HOUR, "maintenance": 0}


def test_shorter_periods_come_from_the_same_history(outage):
    loaded = history([outage], T0, h(24), now=LATER)
    assert loaded.of_check(outage, h(11), h(24)).seconds["critical"] == 1 * HOUR
    with pytest.raises(ValueError):
        loaded.of_check(outage, T0 - dt.timedelta(hours=1), h(24))


def test_three_queries_whatever_the_number_of_changes(customer_a, django_assert_num_queries):
    checks = []
    for n in range(5):
        item = ConfigurationItemFactory(customer=customer_a)
        changes = [(h(i * 0.25), "critical" if i % 2 else "ok") for i in range(40 * (n + 1))]
        checks.append(with_history(item, changes, name=f"c{n}"))
    window(customer_a, h(3), h(4), recurrence="daily", items=[checks[0].configuration_item])
    with django_assert_num_queries(3):
        loaded = history(checks, T0, h(48), now=LATER)
    with django_assert_num_queries(0):
        results = [loaded.of_check(c) for c in checks]
    assert results[4].seconds["critical"] == pytest.approx(results[4].seconds["ok"], abs=HOUR)
    assert results[0].seconds["maintenance"] == 2 * HOUR


# --- the arithmetic alone -----------------------------------------------------------------------

def test_split_cuts_a_span_by_a_cover():
    outside, inside = compute.split(0, 10, [(-5, 1), (3, 4), (8, 20)])
    assert outside == [(1, 3), (4, 8)]
    assert inside == [(0, 1), (3, 4), (8, 10)]


def test_every_second_is_in_exactly_one_bucket():
    segments = compute.check_segments([(5, "ok"), (20, "critical"), (30, "warning")], 0, 100, data_until=90)
    result = compute.availability(segments, [(25, 35), (80, 120)], 0, 100)
    assert sum(result.seconds.values()) == 100
    assert result.seconds == {"ok": 15, "warning": 45, "critical": 5, "unknown": 0, "no_data": 5,
                              "maintenance": 30}
