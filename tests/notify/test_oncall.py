"""Who is on call: rotations, handoffs at the boundary second, DST, layers, restrictions, overrides."""

from __future__ import annotations

import datetime as dt

import pytest

from opsdesk.notify.oncall import next_change, on_call, shifts
from tests.notify.oncall_helpers import BERLIN, SHANGHAI, UTC, names, override, people, rotation, schedule

pytestmark = pytest.mark.django_db

MONDAY_9 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)  # a Monday


def test_a_daily_rotation_hands_off_at_the_handoff_second():
    ann, ben, cat = people("ann", "ben", "cat")
    sched = schedule()
    rotation(sched, [ann, ben, cat], starts_at=MONDAY_9, kind="daily")
    second = dt.timedelta(seconds=1)
    assert names(on_call(sched, MONDAY_9)) == ["ann"]
    assert names(on_call(sched, MONDAY_9 + dt.timedelta(days=1) - second)) == ["ann"]
    assert names(on_call(sched, MONDAY_9 + dt.timedelta(days=1))) == ["ben"]
    assert names(on_call(sched, MONDAY_9 + dt.timedelta(days=2))) == ["cat"]
    assert names(on_call(sched, MONDAY_9 + dt.timedelta(days=3))) == ["ann"]
    # Before the rotation starts nobody is on call.
    assert on_call(sched, MONDAY_9 - second) == []


def test_a_rotation_starting_before_its_handoff_time_begins_with_the_first_member():
    ann, ben = people("ann", "ben")
    sched = schedule()
    start = dt.datetime(2026, 3, 2, 7, 0, tzinfo=SHANGHAI)
    rotation(sched, [ann, ben], starts_at=start, kind="daily")
    assert names(on_call(sched, start)) == ["ann"]
    assert names(on_call(sched, MONDAY_9)) == ["ben"]  # the 09:00 handoff of the same day


def test_a_weekly_rotation_and_a_custom_one():
    ann, ben, cat, dan = people("ann", "ben", "cat", "dan")
    weekly = schedule("weekly")
    rotation(weekly, [ann, ben], starts_at=MONDAY_9, kind="weekly")
    assert names(on_call(weekly, MONDAY_9 + dt.timedelta(days=6, hours=23))) == ["ann"]
    assert names(on_call(weekly, MONDAY_9 + dt.timedelta(days=7))) == ["ben"]
    assert names(on_call(weekly, MONDAY_9 + dt.timedelta(days=14))) == ["ann"]
    custom = schedule("twelve hours")
    rotation(custom, [cat, dan], starts_at=MONDAY_9, kind="custom", shift_hours=12)
    assert names(on_call(custom, MONDAY_9 + dt.timedelta(hours=11, minutes=59))) == ["cat"]
    assert names(on_call(custom, MONDAY_9 + dt.timedelta(hours=12))) == ["dan"]
    assert names(on_call(custom, MONDAY_9 + dt.timedelta(hours=24))) == ["cat"]


def test_a_rotation_started_long_ago_still_counts_right():
    ann, ben, cat = people("ann", "ben", "cat")
    sched = schedule()
    start = dt.datetime(2016, 1, 4, 9, 0, tzinfo=SHANGHAI)  # Shanghai has no DST: days are 24 h
    rotation(sched, [ann, ben, cat], starts_at=start, kind="daily")
    at = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    days = (at.date() - start.date()).days
    assert names(on_call(sched, at)) == [["ann", "ben", "cat"][days % 3]]


def test_daily_handoffs_stay_at_nine_across_the_berlin_dst_changes():
    ann, ben = people("ann", "ben")
    sched = schedule(time_zone="Europe/Berlin")
    # Spring forward: 2026-03-29 02:00 → 03:00; fall back: 2026-10-25 03:00 → 02:00.
    rotation(sched, [ann, ben], starts_at=dt.datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN), kind="daily")
    spring = shifts(sched, dt.datetime(2026, 3, 28, 9, 0, tzinfo=BERLIN), dt.datetime(2026, 3, 31, 9, 0, tzinfo=BERLIN))
    assert [s.start.astimezone(BERLIN).hour for s in spring] == [9, 9, 9]
    # The shift over the change is 23 hours long, the others 24.
    assert [(s.end - s.start) / dt.timedelta(hours=1) for s in spring] == [23, 24, 24]
    assert names(s.user for s in spring) == ["ben", "ann", "ben"]
    # 09:00 Berlin is 07:00 UTC in summer, 08:00 in winter.
    assert spring[1].start == dt.datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    autumn = shifts(sched, dt.datetime(2026, 10, 24, 9, 0, tzinfo=BERLIN),
                    dt.datetime(2026, 10, 26, 9, 0, tzinfo=BERLIN))
    assert [(s.end - s.start) / dt.timedelta(hours=1) for s in autumn] == [25, 24]
    assert autumn[1].start == dt.datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    second = dt.timedelta(seconds=1)
    assert on_call(sched, autumn[1].start - second) == [autumn[0].user]
    assert on_call(sched, autumn[1].start) == [autumn[1].user]


def test_a_handoff_inside_the_skipped_hour_happens_once_the_clock_jumps():
    ann, ben = people("ann", "ben")
    sched = schedule(time_zone="Europe/Berlin")
    rotation(sched, [ann, ben], starts_at=dt.datetime(2026, 3, 27, 2, 30, tzinfo=BERLIN), kind="daily",
             handoff=dt.time(2, 30))
    # 02:30 does not exist on 2026-03-29: the handoff happens at 03:30 summer time (01:30 UTC).
    assert names(on_call(sched, dt.datetime(2026, 3, 29, 1, 29, 59, tzinfo=UTC))) == ["ben"]
    assert names(on_call(sched, dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC))) == ["ann"]


def test_the_highest_layer_with_someone_wins_and_lower_layers_show_through():
    ann, ben, nina = people("ann", "ben", "nina")
    sched = schedule()
    rotation(sched, [ann, ben], starts_at=MONDAY_9, kind="weekly", layer=1)
    # Layer 2: office hours on weekdays only.
    rotation(sched, [nina], starts_at=MONDAY_9, kind="weekly", layer=2, active_from=dt.time(9, 0),
             active_until=dt.time(18, 0), weekdays=[0, 1, 2, 3, 4])
    tuesday = MONDAY_9 + dt.timedelta(days=1)
    assert names(on_call(sched, tuesday)) == ["nina"]
    assert names(on_call(sched, tuesday.replace(hour=17, minute=59, second=59))) == ["nina"]
    assert names(on_call(sched, tuesday.replace(hour=18))) == ["ann"]
    assert names(on_call(sched, tuesday.replace(hour=8, minute=59))) == ["ann"]
    saturday = MONDAY_9 + dt.timedelta(days=5, hours=2)
    assert names(on_call(sched, saturday)) == ["ann"]


def test_two_rotations_on_one_layer_both_page():
    ann, ben = people("ann", "ben")
    sched = schedule()
    rotation(sched, [ann], starts_at=MONDAY_9, layer=1)
    rotation(sched, [ben], starts_at=MONDAY_9, layer=1)
    assert sorted(names(on_call(sched, MONDAY_9))) == ["ann", "ben"]


def test_a_night_window_that_wraps_midnight_belongs_to_the_day_it_started():
    ann, night = people("ann", "night")
    sched = schedule()
    rotation(sched, [ann], starts_at=MONDAY_9 - dt.timedelta(days=7), layer=1)
    # Weekday nights 18:00–09:00: Friday night until Saturday 09:00, not Sunday night.
    rotation(sched, [night], starts_at=MONDAY_9 - dt.timedelta(days=7), layer=2, active_from=dt.time(18, 0),
             active_until=dt.time(9, 0), weekdays=[0, 1, 2, 3, 4])
    friday = MONDAY_9 + dt.timedelta(days=4)
    assert names(on_call(sched, friday.replace(hour=23))) == ["night"]
    assert names(on_call(sched, friday.replace(hour=8, minute=59) + dt.timedelta(days=1))) == ["night"]
    sunday_night = friday + dt.timedelta(days=2)
    assert names(on_call(sched, sunday_night.replace(hour=23))) == ["ann"]
    # Monday 03:00 is Sunday's night: not covered; Tuesday 03:00 is Monday's: covered.
    assert names(on_call(sched, sunday_night.replace(hour=3) + dt.timedelta(days=1))) == ["ann"]
    assert names(on_call(sched, sunday_night.replace(hour=3) + dt.timedelta(days=2))) == ["night"]


def test_an_override_beats_every_layer_for_its_period_only():
    ann, ben, olga = people("ann", "ben", "olga")
    sched = schedule()
    rotation(sched, [ann, ben], starts_at=MONDAY_9, layer=1)
    rotation(sched, [ben], starts_at=MONDAY_9, layer=5)
    start, end = MONDAY_9 + dt.timedelta(hours=2), MONDAY_9 + dt.timedelta(hours=4)
    override(sched, olga, start, end)
    assert names(on_call(sched, start - dt.timedelta(seconds=1))) == ["ben"]
    assert names(on_call(sched, start)) == ["olga"]
    assert names(on_call(sched, end - dt.timedelta(seconds=1))) == ["olga"]
    assert names(on_call(sched, end)) == ["ben"]


def test_an_ended_rotation_and_an_inactive_member_leave_nobody():
    ann, ben = people("ann", "ben")
    sched = schedule()
    rotation(sched, [ann], starts_at=MONDAY_9, ends_at=MONDAY_9 + dt.timedelta(days=2), kind="daily")
    assert names(on_call(sched, MONDAY_9 + dt.timedelta(days=1))) == ["ann"]
    assert on_call(sched, MONDAY_9 + dt.timedelta(days=2)) == []
    ben.is_active = False
    ben.save()
    empty = schedule("empty")
    rotation(empty, [ben], starts_at=MONDAY_9)
    assert on_call(empty, MONDAY_9) == []


def test_the_timeline_cuts_merges_and_names_its_sources():
    ann, ben, olga = people("ann", "ben", "olga")
    sched = schedule()
    rotation(sched, [ann, ben], starts_at=MONDAY_9, kind="daily")
    override(sched, olga, MONDAY_9 + dt.timedelta(hours=30), MONDAY_9 + dt.timedelta(hours=32))
    timeline = shifts(sched, MONDAY_9 + dt.timedelta(hours=3), MONDAY_9 + dt.timedelta(days=3))
    summary = [(s.user.username, s.source, s.start, s.end) for s in timeline]
    day = dt.timedelta(days=1)
    assert summary == [
        ("ann", "layer 1", MONDAY_9 + dt.timedelta(hours=3), MONDAY_9 + day),
        ("ben", "layer 1", MONDAY_9 + day, MONDAY_9 + dt.timedelta(hours=30)),
        ("olga", "override", MONDAY_9 + dt.timedelta(hours=30), MONDAY_9 + dt.timedelta(hours=32)),
        ("ben", "layer 1", MONDAY_9 + dt.timedelta(hours=32), MONDAY_9 + 2 * day),
        ("ann", "layer 1", MONDAY_9 + 2 * day, MONDAY_9 + 3 * day),
    ]
    # A restricted layer over a plain one, on one person: the stretches are merged into one.
    same = schedule("same")
    rotation(same, [ann], starts_at=MONDAY_9, layer=1)
    rotation(same, [ann], starts_at=MONDAY_9, layer=2, active_from=dt.time(9), active_until=dt.time(18))
    stretches = shifts(same, MONDAY_9, MONDAY_9 + day)
    assert [(s.source, s.start, s.end) for s in stretches] == [
        ("layer 2", MONDAY_9, MONDAY_9 + dt.timedelta(hours=9)),
        ("layer 1", MONDAY_9 + dt.timedelta(hours=9), MONDAY_9 + day)]


def test_next_change_names_who_comes_next():
    ann, ben = people("ann", "ben")
    sched = schedule()
    rotation(sched, [ann, ben], starts_at=MONDAY_9, kind="daily")
    following = next_change(sched, MONDAY_9 + dt.timedelta(hours=1))
    assert following.user.username == "ben"
    assert following.start == MONDAY_9 + dt.timedelta(days=1)


def test_naive_times_are_refused():
    sched = schedule()
    with pytest.raises(ValueError):
        on_call(sched, dt.datetime(2026, 3, 2, 9, 0))
