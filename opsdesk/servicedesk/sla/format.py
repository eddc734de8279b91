"""Durations as people read them, in their language: "2 h 15 min", "3 d 4 h"."""

from __future__ import annotations

from django.utils.translation import gettext


def duration(seconds: float) -> str:
    minutes = int(max(0, seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return gettext("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return gettext("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return gettext("%(minutes)d min") % {"minutes": minutes}
