"""Compiled business calendars: `add(start, seconds)` (when is a target of so many business
seconds due) and `between(a, b)` (how many business seconds lie between two instants), fast
enough to recompute every open ticket at once (bench/sla.py: several hundred thousand a second).

A calendar is compiled into its working intervals as UTC epoch seconds, sorted, with the
cumulative working time before each: both answers are two bisections and some arithmetic, never
a walk over minutes or days. The intervals cover a range of days around what was asked and grow
by a year at a time when an answer needs more.

Which hours a day has (`CompiledCalendar.plan`), first match wins:
1. the administrator's CalendarDay (a holiday, or a working day with its hours or the usual ones);
2. with `chinese_holidays`: chinese-calendar's statutory holiday (no hours) or swapped working
   day (the usual working-day hours), for the years the package knows;
3. the weekday's hours. A day of a `chinese_holidays` calendar that neither the package nor the
   administrator covers (past `holidays_entered_until`) is counted this way with `fallback` set,
   so the clock and the pages say so instead of silently trusting it."""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from opsdesk.servicedesk.sla import chinese
from opsdesk.servicedesk.sla.hours import Intervals, parse_hours

UTC = dt.UTC
DAY = dt.timedelta(days=1)
# How far a compiled range grows when an answer falls outside it.
GROW_DAYS = 366
# add() gives up growing after this many years past its start (only a calendar whose every day
# the administrator made a holiday can get here): it answers the end of what it compiled.
MAX_YEARS = 20


@dataclass(frozen=True)
class DayPlan:
    date: dt.date
    intervals: Intervals
    # "workday", "weekend", "holiday" or "swapped" (a weekend day worked, or a day the administrator set)
    kind: str
    name: str
    source: str  # "admin", "chinese" or "weekday"
    fallback: bool


@dataclass(frozen=True)
class _Arrays:
    first: dt.date          # first local day covered
    last: dt.date           # day after the last covered
    lo: float               # epoch of `first` 00:00 local
    hi: float               # epoch of `last` 00:00 local
    starts: list[float]
    ends: list[float]
    cum: list[float]        # working seconds before interval i; len n + 1
    cum_end: list[float]    # cum[i + 1]


class CompiledCalendar:
    def __init__(self, *, name: str = "7×24", zone: str = "UTC", always_open: bool = False,
                 week: tuple[Intervals, ...] = ((),) * 7, days: dict[dt.date, tuple[str, str, Intervals]] | None = None,
                 chinese_holidays: bool = False, entered_until: dt.date | None = None, key: tuple = ()) -> None:
        self.name = name
        self.key = key
        self.zone = zoneinfo.ZoneInfo(zone)
        self.always_open = always_open
        self.week = week
        # A swapped working day without hours of its own works the first weekday that has hours.
        self.workday: Intervals = next((hours for hours in week if hours), ())
        self.days = days or {}
        self.chinese_holidays = chinese_holidays and not always_open
        span = chinese.known_range() if self.chinese_holidays else None
        if self.chinese_holidays:
            start = span[0] if span else None
            end = span[1] if span else None
            if entered_until is not None and (end is None or entered_until > end):
                end = entered_until
            self.known_from, self.known_until = start, end
        else:
            self.known_from = self.known_until = None
        self._arrays: _Arrays | None = None
        self._lock = threading.Lock()

    # --- what a day is -------------------------------------------------------------------------

    def knows(self, date: dt.date) -> bool:
        """Whether the holidays of `date` are known (always, unless the calendar follows the
        State Council's notices and neither the package nor the administrator covers it)."""
        if not self.chinese_holidays or date in self.days:
            return True
        return self.known_until is not None and self.known_from is not None and \
            self.known_from <= date <= self.known_until

    @property
    def runs_out_on(self) -> dt.date | None:
        """The last day whose holidays are known; None when the calendar never runs out."""
        return self.known_until if self.chinese_holidays else None

    def plan(self, date: dt.date) -> DayPlan:
        weekday = self.week[date.weekday()]
        if self.always_open:
            return DayPlan(date, ((0, 86400),), "workday", "", "weekday", False)
        own = self.days.get(date)
        if own is not None:
            kind, name, hours = own
            if kind == "holiday":
                return DayPlan(date, (), "holiday", name, "admin", False)
            return DayPlan(date, hours or self.workday, "swapped" if not weekday or hours else "workday", name,
                           "admin", False)
        if self.chinese_holidays:
            known = chinese.day(date)
            if known is not None and (self.known_until is None or date <= self.known_until):
                off, name = known
                if off and name:
                    return DayPlan(date, (), "holiday", name, "chinese", False)
                if not off and name and not weekday:
                    return DayPlan(date, self.workday, "swapped", name, "chinese", False)
                return DayPlan(date, weekday, "workday" if weekday else "weekend", name, "chinese", False)
            fallback = not self.knows(date)
            return DayPlan(date, weekday, "workday" if weekday else "weekend", "", "weekday", fallback)
        return DayPlan(date, weekday, "workday" if weekday else "weekend", "", "weekday", False)

    # --- compiling -------------------------------------------------------------------------------

    def _midnight(self, date: dt.date) -> float:
        return dt.datetime(date.year, date.month, date.day, tzinfo=self.zone).timestamp()

    def _compile(self, first: dt.date, last: dt.date) -> _Arrays:
        starts: list[float] = []
        ends: list[float] = []
        day = first
        while day < last:
            intervals = self.plan(day).intervals
            if intervals:
                midnight = dt.datetime(day.year, day.month, day.day, tzinfo=self.zone)
                for a, b in intervals:
                    # Wall-clock arithmetic in the zone, then to epoch: right across DST changes too.
                    start = (midnight + dt.timedelta(seconds=a)).timestamp()
                    end = (midnight + dt.timedelta(seconds=b)).timestamp()
                    if starts and start <= ends[-1]:
                        ends[-1] = max(ends[-1], end)  # 24:00 meets the next day's 00:00
                    else:
                        starts.append(start)
                        ends.append(end)
            day += DAY
        cum = [0.0]
        for a, b in zip(starts, ends, strict=True):
            cum.append(cum[-1] + (b - a))
        return _Arrays(first, last, self._midnight(first), self._midnight(last), starts, ends, cum, cum[1:])

    def _covering(self, lo: float, hi: float) -> _Arrays:
        """Arrays covering [lo, hi] (epoch seconds), grown when they do not."""
        arrays = self._arrays
        if arrays is not None and arrays.lo <= lo and hi < arrays.hi:
            return arrays
        with self._lock:
            arrays = self._arrays
            if arrays is not None and arrays.lo <= lo and hi < arrays.hi:
                return arrays
            want_first = dt.datetime.fromtimestamp(lo, self.zone).date() - DAY
            want_last = dt.datetime.fromtimestamp(hi, self.zone).date() + 2 * DAY
            if arrays is None:
                first, last = want_first - dt.timedelta(days=30), want_last + dt.timedelta(days=GROW_DAYS)
            else:
                first = min(arrays.first, want_first - dt.timedelta(days=GROW_DAYS) if want_first < arrays.first
                            else arrays.first)
                last = max(arrays.last, want_last + dt.timedelta(days=GROW_DAYS) if want_last >= arrays.last
                           else arrays.last)
            self._arrays = arrays = self._compile(first, last)
            return arrays

    # --- the two answers -------------------------------------------------------------------------

    def add(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The instant at which `seconds` of working time after `start` have passed."""
        if seconds <= 0:
            return start
        if self.always_open:
            return start + dt.timedelta(seconds=seconds)
        t = start.timestamp()
        # A guess of how far the answer lies (a working week has at least one working hour):
        # usually right the first time, grown otherwise.
        arrays = self._covering(t, t + seconds * 7)
        limit = t + MAX_YEARS * 366 * 86400
        while True:
            starts, cum = arrays.starts, arrays.cum
            i = bisect_right(arrays.ends, t)
            base = cum[i] + (t - starts[i] if i < len(starts) and starts[i] < t else 0.0)
            target = base + seconds
            j = bisect_left(arrays.cum_end, target)
            if j < len(starts):
                return dt.datetime.fromtimestamp(starts[j] + (target - cum[j]), UTC)
            if arrays.hi > limit:
                return dt.datetime.fromtimestamp(arrays.hi, UTC)
            arrays = self._covering(t, arrays.hi + 1)

    def _worked(self, arrays: _Arrays, t: float) -> float:
        i = bisect_right(arrays.ends, t)
        starts = arrays.starts
        return arrays.cum[i] + (t - starts[i] if i < len(starts) and starts[i] < t else 0.0)

    def between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working seconds from `a` to `b` (0 when `b` is not after `a`)."""
        if b <= a:
            return 0.0
        if self.always_open:
            return (b - a).total_seconds()
        ta, tb = a.timestamp(), b.timestamp()
        arrays = self._covering(ta, tb)
        return self._worked(arrays, tb) - self._worked(arrays, ta)

    def unknown_between(self, a: dt.datetime, b: dt.datetime) -> bool:
        """Whether a day from `a` to `b` was counted on plain weekday hours for want of its holidays."""
        if not self.chinese_holidays:
            return False
        first, last = a.astimezone(self.zone).date(), b.astimezone(self.zone).date()
        if self.known_from is not None and self.known_until is not None and \
                self.known_from <= first and last <= self.known_until:
            return False
        day = first
        while day <= last:
            if self.known_from is not None and self.known_until is not None and \
                    self.known_from <= day <= self.known_until:
                day = self.known_until + DAY  # the known window, skipped at once
                continue
            if not self.knows(day):
                return True
            day += DAY
        return False


ALWAYS_OPEN = CompiledCalendar(always_open=True)

_cache: dict[int, CompiledCalendar] = {}


def compile_calendar(calendar) -> CompiledCalendar:
    """The compiled form of a BusinessCalendar row (None: 7×24), from this process's cache while
    the row's version is the one it was compiled from."""
    if calendar is None:
        return ALWAYS_OPEN
    key = (calendar.pk, calendar.version, calendar.updated_at)
    found = _cache.get(calendar.pk)
    if found is not None and found.key == key:
        return found
    days = {day.date: (day.kind, day.name, parse_hours(day.hours)) for day in calendar.days.all()}
    found = CompiledCalendar(name=calendar.name, zone=calendar.time_zone, always_open=calendar.always_open,
                             week=calendar.weekday_hours(), days=days, chinese_holidays=calendar.chinese_holidays,
                             entered_until=calendar.holidays_entered_until, key=key)
    _cache[calendar.pk] = found
    return found


def forget(pk: int) -> None:
    _cache.pop(pk, None)
