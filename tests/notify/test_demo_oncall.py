"""The on-call demo's dates, whatever day the demo is loaded: the rotation started on a Monday
at 09:00 early enough for the alerting demo's three days of history, and the manager's cover is
on the coming Tuesday."""

from __future__ import annotations

import datetime as dt

from opsdesk.notify.demo import ZONE, last_monday, next_tuesday


def test_the_rotation_starts_on_a_monday_before_the_replayed_days_and_the_cover_is_the_coming_tuesday():
    first = dt.datetime(2026, 3, 2, 0, 30, tzinfo=ZONE)  # a Monday, just after midnight
    for hours in range(0, 14 * 24, 5):
        now = first + dt.timedelta(hours=hours)
        start = last_monday(now).astimezone(ZONE)
        assert (start.weekday(), start.hour, start.minute) == (0, 9, 0)
        # The alerting demo starts its story three days ago at 10:00; a week ago at most more.
        three_days_ago = dt.datetime.combine(now.date() - dt.timedelta(days=3), dt.time(10, 0), tzinfo=ZONE)
        assert three_days_ago - dt.timedelta(days=7) < start <= three_days_ago
        tuesday = next_tuesday(now).astimezone(ZONE)
        assert (tuesday.weekday(), tuesday.hour) == (1, 9)
        assert now.date() < tuesday.date() <= now.date() + dt.timedelta(days=7)
