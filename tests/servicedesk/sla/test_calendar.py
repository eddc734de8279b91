"""The business calendar on fixed dates: China's National Day 2025 as chinese-calendar knows it,
7×24, the administrator's own days for a year the package does not know, and the plain weekday
fallback (flagged) for a year nobody entered."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest

from opsdesk.servicedesk.models import BusinessCalendar, CalendarDay
from opsdesk.servicedesk.sla import chinese, services
from opsdesk.servicedesk.sla.calendar import CompiledCalendar, compile_calendar
from opsdesk.servicedesk.sla.hours import parse_hours
from tests.servicedesk.sla.conftest import SHANGHAI, at

pytestmark = pytest.mark.django_db

HOUR = 3600


def _china(calendars) -> CompiledCalendar:
    return compile_calendar(calendars["china"])


def test_what_the_package_says_about_national_day_2025():
    # The facts the following tests stand on, from the package itself.
    assert chinese_calendar.is_workday(dt.date(2025, 9, 28))  # a Sunday, worked
    assert chinese_calendar.is_workday(dt.date(2025, 10, 11))  # a Saturday, worked
    assert all(chinese_calendar.is_holiday(dt.date(2025, 10, d)) for d in range(1, 9))
    assert chinese_calendar.is_holiday(dt.date(2025, 9, 27))  # the Saturday between is off


def test_the_package_range_is_read_from_the_package_and_nothing_beyond_raises():
    first, last = chinese.known_range()
    assert first <= dt.date(2025, 1, 1) and last >= dt.date(2026, 12, 31)
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(last + dt.timedelta(days=1))
    assert chinese.day(last + dt.timedelta(days=1)) is None


def test_a_ticket_opened_the_friday_before_national_day_counts_the_swapped_sunday(calendars):
    cal = _china(calendars)
    # Friday 16:00 to 18:00 is 2 h; Saturday 27 is off; Sunday 28 is worked from 9:00: 6 h more.
    assert cal.add(at(2025, 9, 26, 16), 8 * HOUR) == at(2025, 9, 28, 15)


def test_no_time_counts_over_the_holiday_and_the_swapped_saturday_counts(calendars):
    cal = _china(calendars)
    # Fri 2 h, Sun 28 9 h, Mon 29 9 h, Tue 30 9 h, Oct 1–8 nothing, Thu 9 9 h, Fri 10 9 h = 47 h,
    # then Saturday 11 (worked) from 9:00: 3 h more.
    assert cal.add(at(2025, 9, 26, 16), 50 * HOUR) == at(2025, 10, 11, 12)
    assert cal.between(at(2025, 9, 30, 18), at(2025, 10, 9, 9)) == 0
    assert cal.between(at(2025, 9, 26, 16), at(2025, 10, 11, 12)) == 50 * HOUR
    assert cal.plan(dt.date(2025, 10, 1)).kind == "holiday"
    assert cal.plan(dt.date(2025, 10, 11)).kind == "swapped"


def test_a_target_ending_at_closing_time_is_due_at_closing_time(calendars):
    assert _china(calendars).add(at(2025, 9, 22, 9), 9 * HOUR) == at(2025, 9, 22, 18)


def test_several_intervals_a_day_and_another_time_zone():
    week = tuple(parse_hours("09:00-12:00, 13:00-17:00") if i < 5 else () for i in range(7))
    cal = CompiledCalendar(name="Berlin", zone="Europe/Berlin", week=week)
    berlin = dt.timezone(dt.timedelta(hours=2))  # summer time
    start = dt.datetime(2025, 7, 4, 11, tzinfo=berlin)  # a Friday
    # Fri 11–12 1 h, 13–17 4 h; Monday 9–12 3 h: due Monday 12:00 after 8 h; the lunch hour is not counted.
    assert cal.add(start, 8 * HOUR) == dt.datetime(2025, 7, 7, 12, tzinfo=berlin)
    assert cal.add(start, 5 * HOUR + 60) == dt.datetime(2025, 7, 7, 9, 1, tzinfo=berlin)


def test_seven_by_twenty_four_counts_every_hour(calendars):
    cal = compile_calendar(calendars["always"])
    assert cal.add(at(2025, 9, 30, 23), 50 * HOUR) == at(2025, 10, 3, 1)
    assert cal.between(at(2025, 10, 1), at(2025, 10, 8)) == 7 * 24 * HOUR
    assert compile_calendar(None).add(at(2025, 10, 1), HOUR) == at(2025, 10, 1, 1)


def test_a_year_nobody_entered_counts_weekday_hours_and_says_so(calendars):
    cal = _china(calendars)
    # 2027-01-01 is a Friday: most likely 元旦, but nobody has said so yet.
    assert cal.plan(dt.date(2027, 1, 1)).fallback
    assert cal.add(at(2026, 12, 31, 17), 3 * HOUR) == at(2027, 1, 1, 11)
    assert cal.unknown_between(at(2026, 12, 31, 17), at(2027, 1, 1, 11))
    assert not cal.unknown_between(at(2026, 12, 30, 9), at(2026, 12, 31, 17))
    assert cal.runs_out_on == chinese.known_range()[1]


def test_the_administrators_2027_days_are_used(calendars, admin):
    china = calendars["china"]
    services.add_days(china, actor=admin, specs=services.parse_lines(
        "2027-01-01..2027-01-03 holiday 元旦\n2027-02-20 workday 春节补班"))
    cal = compile_calendar(BusinessCalendar.objects.get(pk=china.pk))
    # Friday 1 January off: Thursday 17–18 1 h, then Monday 4 January 9–11.
    assert cal.add(at(2026, 12, 31, 17), 3 * HOUR) == at(2027, 1, 4, 11)
    assert cal.plan(dt.date(2027, 1, 1)).name == "元旦" and not cal.plan(dt.date(2027, 1, 1)).fallback
    assert cal.plan(dt.date(2027, 2, 20)).kind == "swapped"  # a Saturday, worked 9–18
    assert cal.between(at(2027, 2, 20), at(2027, 2, 21)) == 9 * HOUR
    # The rest of 2027 is still unknown until the administrator says the notice is complete.
    assert cal.plan(dt.date(2027, 3, 1)).fallback
    services.add_days(china, actor=admin, specs=[], entered_until=dt.date(2027, 12, 31))
    cal = compile_calendar(BusinessCalendar.objects.get(pk=china.pk))
    assert not cal.plan(dt.date(2027, 3, 1)).fallback
    assert cal.runs_out_on == dt.date(2027, 12, 31)


def test_an_administrators_day_wins_over_the_package(calendars, admin):
    china = calendars["china"]
    CalendarDay.objects.create(calendar=china, date=dt.date(2025, 10, 8), kind="workday", name="on duty",
                               hours="10:00-12:00")
    cal = compile_calendar(BusinessCalendar.objects.get(pk=china.pk))
    assert cal.between(at(2025, 10, 8), at(2025, 10, 9)) == 2 * HOUR


def test_a_changed_day_is_seen_at_once(calendars):
    china = calendars["china"]
    before = compile_calendar(BusinessCalendar.objects.get(pk=china.pk))
    CalendarDay.objects.create(calendar=china, date=dt.date(2026, 12, 30), kind="holiday", name="closed")
    after = compile_calendar(BusinessCalendar.objects.get(pk=china.pk))
    assert after is not before
    assert after.between(at(2026, 12, 30), at(2026, 12, 31)) == 0


def test_a_calendar_without_any_working_hours_is_refused():
    calendar = BusinessCalendar(name="never", **{f"{d}_hours": "" for d in (
        "monday", "tuesday", "wednesday", "thursday", "friday")})
    with pytest.raises(Exception) as caught:
        calendar.full_clean()
    assert "monday_hours" in caught.value.message_dict


@pytest.mark.parametrize("text", ["9-18", "18:00-09:00", "09:00-12:00, 11:00-14:00", "25:00-26:00"])
def test_bad_hours_are_refused(text):
    calendar = BusinessCalendar(name="bad", tuesday_hours=text)
    with pytest.raises(Exception) as caught:
        calendar.full_clean()
    assert list(caught.value.message_dict) == ["tuesday_hours"]


def test_shanghai_has_no_summer_time_but_the_zone_is_the_calendars(calendars):
    # 09:00 in Shanghai is 01:00 UTC.
    cal = _china(calendars)
    assert cal.add(dt.datetime(2025, 9, 22, 0, tzinfo=dt.UTC), HOUR) == dt.datetime(2025, 9, 22, 2, tzinfo=dt.UTC)
    assert SHANGHAI.key == "Asia/Shanghai"


def _walk(cal: CompiledCalendar, start: dt.datetime, seconds: float) -> dt.datetime:
    """The slow reference: day by day through the plans."""
    day = start.astimezone(cal.zone).date()
    left = seconds
    while True:
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=cal.zone)
        for a, b in cal.plan(day).intervals:
            begin = max(midnight + dt.timedelta(seconds=a), start)
            end = midnight + dt.timedelta(seconds=b)
            if end <= begin:
                continue
            span = (end - begin).total_seconds()
            if left <= span:
                return begin + dt.timedelta(seconds=left)
            left -= span
        day += dt.timedelta(days=1)


def test_add_agrees_with_a_day_by_day_walk_and_between_undoes_it(calendars):
    import random

    cal = _china(calendars)
    rng = random.Random(7)
    for _ in range(300):
        start = at(2025, 1, 1) + dt.timedelta(seconds=rng.randrange(700 * 86400))
        seconds = rng.randrange(1, 100 * HOUR)
        due = cal.add(start, seconds)
        assert due == _walk(cal, start, seconds), (start, seconds)
        assert cal.between(start, due) == seconds
