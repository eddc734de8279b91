"""Availability from a state history: pure arithmetic on intervals, no database.

Every second of a period [start, end) falls in exactly one bucket:

- ``maintenance``: inside a maintenance window, whatever the state (it does not count either way);
- ``no_data``: outside maintenance, before the first result, while the check is disabled, or in
  the future (a period that ends after now);
- ``ok``, ``warning``, ``unknown``, ``critical``: outside maintenance, the state then.

Down is CRITICAL (as Zabbix counts problem time, and as opsdesk pages for), so

    availability = 1 − critical / (ok + warning + unknown + critical)
                 = up / (period − maintenance − no data)

and it is None (not 100 %) when nothing was measured. WARNING and UNKNOWN count as up, each shown
apart as Nagios' availability report does.

An item's state at each moment is the worst of its checks' (STATE_SEVERITY: critical, unknown,
warning, ok), the same rule as the status everywhere else in opsdesk, so an item shown red on its
page is counted down here; a check without data ("pending") is the mildest, so an item has no data
only while none of its checks has any.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from opsdesk.monitoring.models import STATE_SEVERITY, CheckState

NO_DATA = "no_data"
MAINTENANCE = "maintenance"
# The buckets a period is split into, in the order reports list them.
STATES = (CheckState.OK.value, CheckState.WARNING.value, CheckState.CRITICAL.value, CheckState.UNKNOWN.value)
BUCKETS = (*STATES, NO_DATA, MAINTENANCE)
UP = (CheckState.OK.value, CheckState.WARNING.value, CheckState.UNKNOWN.value)
DOWN = CheckState.CRITICAL.value
_RANK = {str(state): rank for state, rank in STATE_SEVERITY.items()}
_RANK[NO_DATA] = -1

# (start, end) in Unix seconds, start < end.
Span = tuple[float, float]


@dataclass(frozen=True)
class Segment:
    """A stretch of time in one state (one of STATES, or NO_DATA)."""

    start: float
    end: float
    state: str

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Availability:
    start: float
    end: float
    seconds: dict[str, float]
    # The state over the whole period (maintenance not applied), for the timeline.
    segments: list[Segment] = field(default_factory=list)
    # Critical time outside maintenance: what lowered the availability.
    down: list[Span] = field(default_factory=list)
    maintenance: list[Span] = field(default_factory=list)

    @property
    def measured(self) -> float:
        """Seconds that count: the period less maintenance and no data."""
        return sum(self.seconds[state] for state in STATES)

    @property
    def up(self) -> float:
        return sum(self.seconds[state] for state in UP)

    @property
    def ratio(self) -> float | None:
        """0..1, or None when nothing was measured in the period."""
        measured = self.measured
        return self.up / measured if measured > 0 else None

    @property
    def percent(self) -> float | None:
        ratio = self.ratio
        return None if ratio is None else 100.0 * ratio


# --- intervals ----------------------------------------------------------------------------------

def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, overlapping or touching spans joined."""
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def clip(spans: Iterable[Span], start: float, end: float) -> list[Span]:
    return merge((max(a, start), min(b, end)) for a, b in spans)


def split(start: float, end: float, cover: Sequence[Span]) -> tuple[list[Span], list[Span]]:
    """[start, end) cut into the parts outside and inside `cover` (merged, sorted spans)."""
    outside: list[Span] = []
    inside: list[Span] = []
    at = start
    for a, b in cover:
        if b <= at:
            continue
        if a >= end:
            break
        if a > at:
            outside.append((at, a))
        inside.append((max(a, at), min(b, end)))
        at = min(b, end)
        if at >= end:
            break
    if at < end:
        outside.append((at, end))
    return outside, inside


# --- a check's states, and an item's ------------------------------------------------------------

def check_segments(changes: Sequence[tuple[float, str]], start: float, end: float, *,
                   data_until: float | None = None, no_data_from: float | None = None) -> list[Segment]:
    """A check's state over [start, end) from its state changes [(time, new state)], oldest first;
    the changes may begin before `start` (the last one before it gives the state at `start`).
    Before the first change there was no result: no data. `data_until` (now) ends what is known;
    `no_data_from` is when the check was disabled (it has no history row for that)."""
    stop = end if data_until is None else max(start, min(end, data_until))
    if no_data_from is not None:
        stop = max(start, min(stop, no_data_from))
    segments: list[Segment] = []
    state = NO_DATA
    at = start
    for when, new in changes:
        if when > at:
            if when >= stop:
                break
            segments.append(Segment(at, when, state))
            at = when
        state = NO_DATA if new == CheckState.PENDING else new
    if at < stop:
        segments.append(Segment(at, stop, state))
    if stop < end:
        segments.append(Segment(stop, end, NO_DATA))
    return _joined(segments)


def worst(timelines: Sequence[Sequence[Segment]], start: float, end: float) -> list[Segment]:
    """The item's state at each moment: the worst of its checks' (no data only when none has data)."""
    if not timelines:
        return [Segment(start, end, NO_DATA)] if end > start else []
    cuts = sorted({start, end, *(s.start for t in timelines for s in t), *(s.end for t in timelines for s in t)})
    cuts = [c for c in cuts if start <= c <= end]
    positions = [0] * len(timelines)
    segments: list[Segment] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        state, rank = NO_DATA, -1
        for i, timeline in enumerate(timelines):
            while positions[i] < len(timeline) and timeline[positions[i]].end <= a:
                positions[i] += 1
            if positions[i] < len(timeline) and timeline[positions[i]].start <= a:
                found = timeline[positions[i]].state
                if _RANK[found] > rank:
                    state, rank = found, _RANK[found]
        segments.append(Segment(a, b, state))
    return _joined(segments)


def _joined(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for segment in segments:
        if segment.end <= segment.start:
            continue
        if out and out[-1].state == segment.state and out[-1].end == segment.start:
            out[-1] = Segment(out[-1].start, segment.end, segment.state)
        else:
            out.append(segment)
    return out


def availability(segments: Sequence[Segment], maintenance: Iterable[Span], start: float,
                 end: float) -> Availability:
    """Seconds per bucket, the down and maintenance periods of [start, end) from the state
    segments (which may reach beyond it) and the maintenance occurrences."""
    cover = clip(maintenance, start, end)
    seconds = dict.fromkeys(BUCKETS, 0.0)
    inside_period: list[Segment] = []
    down: list[Span] = []
    for segment in segments:
        a, b = max(segment.start, start), min(segment.end, end)
        if b <= a:
            continue
        inside_period.append(Segment(a, b, segment.state))
        outside, inside = split(a, b, cover)
        seconds[MAINTENANCE] += sum(y - x for x, y in inside)
        seconds[segment.state] += sum(y - x for x, y in outside)
        if segment.state == DOWN:
            down.extend(outside)
    covered = sum(s.seconds for s in inside_period)
    # A period the segments do not reach (none given) is no data, outside maintenance too.
    if covered < end - start:
        gaps = _gaps(inside_period, start, end)
        for a, b in gaps:
            outside, inside = split(a, b, cover)
            seconds[MAINTENANCE] += sum(y - x for x, y in inside)
            seconds[NO_DATA] += sum(y - x for x, y in outside)
            inside_period.append(Segment(a, b, NO_DATA))
        inside_period.sort(key=lambda s: s.start)
    return Availability(start=start, end=end, seconds=seconds, segments=_joined(inside_period),
                        down=merge(down), maintenance=cover)


def _gaps(segments: list[Segment], start: float, end: float) -> list[Span]:
    gaps: list[Span] = []
    at = start
    for segment in sorted(segments, key=lambda s: s.start):
        if segment.start > at:
            gaps.append((at, segment.start))
        at = max(at, segment.end)
    if at < end:
        gaps.append((at, end))
    return gaps


def to_datetime(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
