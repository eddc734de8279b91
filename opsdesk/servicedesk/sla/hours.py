"""Working hours written as people write them: "09:00-12:00, 13:00-18:00" (several intervals a
day, in the calendar's time zone; "24:00" ends a day). Parsed into seconds after midnight."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")

Intervals = tuple[tuple[int, int], ...]


def parse_hours(text: str) -> Intervals:
    """"09:00-12:00, 13:00-18:00" -> ((32400, 43200), (46800, 64800)); "" -> (). Raises
    ValidationError on anything else (overlapping, backwards, past 24:00)."""
    text = (text or "").strip()
    if not text:
        return ()
    found: list[tuple[int, int]] = []
    for part in re.split(r"[,，;；]", text):
        if not part.strip():
            continue
        match = _INTERVAL.match(part)
        if match is None:
            raise ValidationError(_("Write the hours as 09:00-12:00, 13:00-18:00."), code="format")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if m1 > 59 or m2 > 59 or start >= 24 * 3600 or end > 24 * 3600:
            raise ValidationError(_("%(part)s is not a time of day."), params={"part": part.strip()}, code="time")
        if end <= start:
            raise ValidationError(_("%(part)s ends before it starts."), params={"part": part.strip()}, code="order")
        found.append((start, end))
    found.sort()
    for (_s1, e1), (s2, _e2) in zip(found, found[1:], strict=False):
        if s2 < e1:
            raise ValidationError(_("The intervals overlap."), code="overlap")
    return tuple(found)


def validate_hours(text: str) -> None:
    parse_hours(text)


def format_hours(intervals: Intervals) -> str:
    def hhmm(seconds: int) -> str:
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
    return ", ".join(f"{hhmm(a)}-{hhmm(b)}" for a, b in intervals)
