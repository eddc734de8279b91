"""A metric's unit, read from its name's suffix (Prometheus' naming convention), and its values
written for a person: 61.2 %, 3.0 MiB/s, 48.0 Mbit/s, 12 ms, 3 d 4 h. The charts write their axes
the same way in the browser (static/monitoring/charts.js: FORMATS)."""

from __future__ import annotations

import math
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _

PERCENT, BYTES, BYTES_PER_SECOND, BITS_PER_SECOND, SECONDS, NUMBER = (
    "percent", "bytes", "bytes_per_second", "bits_per_second", "seconds", "number")

_SUFFIXES = (("_bits_per_second", BITS_PER_SECOND), ("_bytes_per_second", BYTES_PER_SECOND),
             ("_bytes", BYTES), ("_seconds", SECONDS), ("_percent", PERCENT))
# Bytes in binary multiples (as memory and disks are counted), bits in decimal ones (as links are sold).
_SCALED = {BYTES: (1024, ("B", "KiB", "MiB", "GiB", "TiB", "PiB")),
           BYTES_PER_SECOND: (1024, ("B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s")),
           BITS_PER_SECOND: (1000, ("bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s")),
           NUMBER: (1000, ("", "k", "M", "G", "T"))}


def unit_of(name: str) -> str:
    """A metric's unit from its name's suffix; NUMBER where it names none."""
    for suffix, unit in _SUFFIXES:
        if name.endswith(suffix):
            return unit
    return NUMBER


def _number(value: float, places: int) -> str:
    """With the person's decimal separator, at most `places` decimals, trailing zeros left out."""
    rounded = round(value, places)
    while places and round(rounded, places - 1) == rounded:
        places -= 1
    return formats.number_format(rounded, places)


def format_quantity(value: float | None, unit: str) -> str:
    """`value` (in the unit's base: percent, bytes, bytes or bits a second, seconds) for a person."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    if unit == PERCENT:
        return f"{formats.number_format(round(value, 1), 1)} %"
    if unit == SECONDS:
        return _duration(value)
    base, names = _SCALED.get(unit, _SCALED[NUMBER])
    size, index = abs(float(value)), 0
    while size >= base and index < len(names) - 1:
        size /= base
        index += 1
    sign = "-" if value < 0 else ""
    if unit == NUMBER and index == 0:  # a load of 0.42, 17 connections
        return sign + _number(size, 2)
    # Whole bytes and bits; one decimal, kept, for their multiples (3.0 GiB/s lines up with 2.5).
    places = 0 if index == 0 else 1
    return f"{sign}{formats.number_format(round(size, places), places)} {names[index]}".rstrip()


def _duration(seconds: float) -> str:
    """12 ms, 4.2 s, 35 min, 5 h 10 min, 3 d 4 h: a response time or an uptime alike."""
    size = abs(seconds)
    sign = "-" if seconds < 0 else ""
    if size < 1:
        return f"{sign}{_number(size * 1000, 1)} ms"
    if size < 60:
        return f"{sign}{_number(size, 1)} s"
    minutes = int(size // 60)
    if minutes < 60:
        return sign + _("%(n)s min") % {"n": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return sign + _("%(h)s h %(m)s min") % {"h": hours, "m": minutes}
    days, hours = divmod(hours, 24)
    return sign + _("%(d)s d %(h)s h") % {"d": days, "h": hours}


def format_metric(value: float | None, name: str) -> str:
    """A sample of metric `name`, in the unit its name says."""
    return format_quantity(value, unit_of(name))


def format_measured(value: float | None, metric: str) -> str | None:
    """An alert's value or threshold: in the unit of its rule's metric; without a metric (an
    inbound alert's), the number as the sender gave it. None stays None (the messages test it)."""
    if value is None:
        return None
    if metric:
        return format_metric(value, metric)
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def format_labels(labels: dict[str, Any]) -> str:
    """device=sda · mount=/ (the API and exports keep the labels as JSON)."""
    return " · ".join(f"{k}={v}" for k, v in sorted(labels.items()))
