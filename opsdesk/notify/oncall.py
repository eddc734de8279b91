"""Who is on call: the layers (rotations) of a schedule and its overrides, read at an instant
(`on_call`) or over a period (`shifts`, the timeline the calendar and the iCalendar export show).

Shifts are counted in the schedule's wall-clock time (zoneinfo), so a daily rotation hands off at
09:00 every day across a DST change (that day's shift is 23 or 25 hours long) instead of drifting
by an hour. Shift k of a rotation starts at `anchor + k × length` in wall time, where the anchor is
the handoff time on the day the rotation starts (the day before when the handoff time comes later
in that day, so that member 0 is on call from `starts_at`).

A layer restricted to part of the day or to some weekdays has no one outside them, and the lower
layers show through; the highest layer with someone wins; an override beats every layer.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field

from opsdesk.core.models import User
from opsdesk.notify.models import Override, Rotation, RotationKind, Schedule

UTC = dt.UTC
# A rotation older than this many shifts before a window is still computed by arithmetic, never
# by walking every shift, so a rotation started years ago costs nothing more.
OVERRIDE = "override"


@dataclass(frozen=True)
class Shift:
    """One stretch of the final timeline: `user` is on call from `start` to `end` (UTC) because of
    `rotation` (its `layer`) or of `override`."""

    start: dt.datetime
    end: dt.datetime
    user: User
    rotation: Rotation | None = None
    override: Override | None = None

    @property
    def source(self) -> str:
        return OVERRIDE if self.override is not None else f"layer {self.rotation.layer}"

    @property
    def layer(self) -> int | None:
        return None if self.rotation is None else self.rotation.layer


def zone_of(schedule: Schedule) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(schedule.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        return zoneinfo.ZoneInfo("Asia/Shanghai")


def shift_length(rotation: Rotation) -> dt.timedelta:
    if rotation.kind == RotationKind.DAILY:
        return dt.timedelta(days=1)
    if rotation.kind == RotationKind.CUSTOM and rotation.shift_hours:
        return dt.timedelta(hours=rotation.shift_hours)
    return dt.timedelta(days=7)


def _wall(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The schedule's wall-clock time of an instant, without a zone (for shift arithmetic)."""
    return moment.astimezone(zone).replace(tzinfo=None)


def _instant(wall: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The instant of a wall-clock time. A time skipped by a DST change (02:30 on the spring-forward
    night) is read with the offset before the change, i.e. an hour later in real time; in the
    repeated hour of the autumn the first occurrence (fold 0) is taken."""
    return wall.replace(tzinfo=zone).astimezone(UTC)


@dataclass
class _Layer:
    rotation: Rotation
    users: list[User]
    zone: dt.tzinfo
    anchor: dt.datetime = field(init=False)  # wall time of shift 0's start
    length: dt.timedelta = field(init=False)

    def __post_init__(self) -> None:
        rotation = self.rotation
        self.length = shift_length(rotation)
        start_wall = _wall(rotation.starts_at, self.zone)
        anchor = dt.datetime.combine(start_wall.date(), rotation.handoff_time)
        if anchor > start_wall:
            anchor -= dt.timedelta(days=1)
        self.anchor = anchor

    def index(self, wall: dt.datetime) -> int:
        return math.floor((wall - self.anchor) / self.length)

    def shift_start(self, k: int) -> dt.datetime:
        return _instant(self.anchor + k * self.length, self.zone)

    def active(self, at: dt.datetime) -> bool:
        rotation = self.rotation
        if at < rotation.starts_at or (rotation.ends_at is not None and at >= rotation.ends_at):
            return False
        return _in_restriction(rotation, _wall(at, self.zone))

    def who(self, at: dt.datetime) -> User | None:
        if not self.users or not self.active(at):
            return None
        k = self.index(_wall(at, self.zone))
        # The shift that started at the boundary second is the new one: index() floors, and a
        # wall time exactly at a handoff gives the new shift's number.
        if self.shift_start(k) > at:
            k -= 1
        elif self.shift_start(k + 1) <= at:
            k += 1
        return self.users[k % len(self.users)]

    def boundaries(self, start: dt.datetime, end: dt.datetime) -> Iterable[dt.datetime]:
        """Every instant in [start, end) where this layer may change who it shows."""
        rotation = self.rotation
        yield rotation.starts_at
        if rotation.ends_at is not None:
            yield rotation.ends_at
        first = self.index(_wall(start, self.zone)) - 1
        last = self.index(_wall(end, self.zone)) + 1
        for k in range(first, last + 1):
            yield self.shift_start(k)
        if rotation.active_from is None and rotation.active_until is None and not rotation.weekdays:
            return
        day = _wall(start, self.zone).date() - dt.timedelta(days=1)
        last_day = _wall(end, self.zone).date() + dt.timedelta(days=1)
        while day <= last_day:
            for time in (dt.time(0), rotation.active_from, rotation.active_until):
                if time is not None:
                    yield _instant(dt.datetime.combine(day, time), self.zone)
            day += dt.timedelta(days=1)


def _in_restriction(rotation: Rotation, wall: dt.datetime) -> bool:
    """Is this wall-clock time inside the layer's hours and weekdays? A window that wraps midnight
    (18:00–09:00) counts its early-morning part as the previous day's, so "weekdays 18:00–09:00"
    covers Friday night until Saturday 09:00 and not Sunday night."""
    start, until, days = rotation.active_from, rotation.active_until, rotation.weekdays or []
    time, weekday = wall.time(), wall.weekday()
    if start is None and until is None:
        return not days or weekday in days
    start = start or dt.time(0)
    if until is None or until == dt.time(0) and start != dt.time(0):
        # Until midnight.
        return time >= start and (not days or weekday in days)
    if start < until:
        return start <= time < until and (not days or weekday in days)
    if start == until:
        return not days or weekday in days
    if time >= start:
        return not days or weekday in days
    if time < until:
        return not days or (weekday - 1) % 7 in days
    return False


class Timeline:
    """A schedule's layers and overrides loaded once (for a window), answering who is on call at
    any instant of it without further queries."""

    def __init__(self, schedule: Schedule, start: dt.datetime, end: dt.datetime) -> None:
        self.schedule = schedule
        zone = zone_of(schedule)
        self.layers: list[_Layer] = []
        rotations = schedule.rotations.prefetch_related("members__user").order_by("-layer", "id")
        for rotation in rotations:
            users = [m.user for m in rotation.members.all() if m.user.is_active]
            self.layers.append(_Layer(rotation, users, zone))
        self.overrides = list(schedule.overrides.filter(starts_at__lt=end, ends_at__gt=start)
                              .select_related("user").order_by("starts_at", "id"))

    def at(self, moment: dt.datetime) -> list[tuple[User, Rotation | None, Override | None]]:
        """Who is on call at `moment`: the users of the overrides covering it, else the users of
        the highest layer that has someone (several rotations may share a layer)."""
        overrides = [o for o in self.overrides if o.starts_at <= moment < o.ends_at and o.user.is_active]
        if overrides:
            return _unique([(o.user, None, o) for o in overrides])
        found: list[tuple[User, Rotation | None, Override | None]] = []
        top: int | None = None
        for layer in self.layers:  # highest layer first
            if top is not None and layer.rotation.layer < top:
                break
            user = layer.who(moment)
            if user is not None:
                top = layer.rotation.layer
                found.append((user, layer.rotation, None))
        return _unique(found)

    def shifts(self, start: dt.datetime, end: dt.datetime) -> list[Shift]:
        points = {start, end}
        for layer in self.layers:
            points.update(p for p in layer.boundaries(start, end) if start < p < end)
        for override in self.overrides:
            points.update(p for p in (override.starts_at, override.ends_at) if start < p < end)
        ordered = sorted(points)
        result: list[Shift] = []
        open_shifts: dict[tuple[int, int | None, int | None], Shift] = {}
        for begin, finish in zip(ordered, ordered[1:], strict=False):
            current: dict[tuple[int, int | None, int | None], Shift] = {}
            for user, rotation, override in self.at(begin):
                key = (user.pk, rotation.pk if rotation else None, override.pk if override else None)
                previous = open_shifts.get(key)
                if previous is not None and previous.end == begin:
                    current[key] = Shift(previous.start, finish, user, rotation, override)
                else:
                    current[key] = Shift(begin, finish, user, rotation, override)
            for key, shift in open_shifts.items():
                if key not in current:
                    result.append(shift)
            open_shifts = current
        result.extend(open_shifts.values())
        return sorted(result, key=lambda s: (s.start, s.layer is None, -(s.layer or 0), s.user.pk))


def _unique(found: list[tuple[User, Rotation | None, Override | None]]):
    seen: set[int] = set()
    unique = []
    for user, rotation, override in found:
        if user.pk not in seen:
            seen.add(user.pk)
            unique.append((user, rotation, override))
    return unique


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("on-call times must be aware datetimes")
    return moment.astimezone(UTC)


def on_call(schedule: Schedule, at: dt.datetime) -> list[User]:
    """The people on call in `schedule` at the instant `at` (aware)."""
    moment = _aware(at)
    timeline = Timeline(schedule, moment, moment + dt.timedelta(seconds=1))
    return [user for user, _rotation, _override in timeline.at(moment)]


def shifts(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> list[Shift]:
    """The final timeline between `start` and `end` (aware): who is on call when, after layering
    and overrides, cut at the window's edges, adjacent stretches of the same person and source
    merged."""
    begin, finish = _aware(start), _aware(end)
    if finish <= begin:
        return []
    return Timeline(schedule, begin, finish).shifts(begin, finish)


def next_change(schedule: Schedule, at: dt.datetime, *, horizon_days: int = 35) -> Shift | None:
    """The first shift starting after `at` that differs from who is on call at `at` (for "next
    on call"), looked for within `horizon_days`."""
    moment = _aware(at)
    now_ids = {u.pk for u in on_call(schedule, moment)}
    for shift in shifts(schedule, moment, moment + dt.timedelta(days=horizon_days)):
        if shift.start > moment and shift.user.pk not in now_ids:
            return shift
    return None


def shift_end(schedule: Schedule, at: dt.datetime) -> dt.datetime | None:
    """When the shift running at `at` ends: the next handoff of the layer showing (even when the
    same person comes on again), the end of an override, or a change of who is on call,
    whichever comes first. None when nobody is on call."""
    moment = _aware(at)
    timeline = Timeline(schedule, moment, moment + dt.timedelta(days=35))
    running = [s for s in timeline.shifts(moment, moment + dt.timedelta(days=35)) if s.start <= moment]
    ends = []
    for shift in running:
        end = shift.end
        if shift.rotation is not None:
            layer = next(x for x in timeline.layers if x.rotation.pk == shift.rotation.pk)
            k = layer.index(_wall(moment, layer.zone))
            following = layer.shift_start(k + 1)
            end = min(end, following if following > moment else layer.shift_start(k + 2))
        ends.append(end)
    return min(ends, default=None)
