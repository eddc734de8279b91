"""What the chinese-calendar package (PyPI "chinesecalendar", module chinese_calendar) knows:
the statutory holidays and swapped working days of each year the State Council has announced.

Version 1.11 knows 2004 to 2026 and raises NotImplementedError for any other year; the next
year's notice comes out around November. Nothing here raises: a day it does not know is
answered None, and the caller falls back to weekday hours and says so."""

from __future__ import annotations

import datetime as dt
import functools

from django.utils.translation import gettext_lazy as _

# The package's holiday names (English), for the reader's language.
HOLIDAY_NAMES = {
    "New Year's Day": _("New Year's Day"),
    "Spring Festival": _("Spring Festival"),
    "Tomb-sweeping Day": _("Tomb-sweeping Day"),
    "Labour Day": _("Labour Day"),
    "Dragon Boat Festival": _("Dragon Boat Festival"),
    "National Day": _("National Day"),
    "Mid-autumn Festival": _("Mid-autumn Festival"),
    "Anti-Fascist 70th Day": _("Anti-Fascist War Victory 70th Anniversary"),
}


@functools.cache
def known_range() -> tuple[dt.date, dt.date] | None:
    """The first and last day the installed package answers for (whole years), or None when the
    package is missing."""
    try:
        import chinese_calendar
    except ImportError:
        return None
    years = []
    for year in range(2000, dt.date.today().year + 6):
        try:
            chinese_calendar.get_holiday_detail(dt.date(year, 7, 1))
        except NotImplementedError:
            continue
        years.append(year)
    if not years:
        return None
    return dt.date(min(years), 1, 1), dt.date(max(years), 12, 31)


def package_version() -> str:
    try:
        import chinese_calendar
    except ImportError:
        return ""
    return str(getattr(chinese_calendar, "__version__", ""))


def day(date: dt.date) -> tuple[bool, str] | None:
    """(is a day off, holiday name or "") for a day the package knows; None for one it does not.
    A weekend day is (True, ""), a holiday (True, "National Day"), a swapped working day
    (False, "National Day"), an ordinary working day (False, "")."""
    span = known_range()
    if span is None or not span[0] <= date <= span[1]:
        return None
    import chinese_calendar

    try:
        off, name = chinese_calendar.get_holiday_detail(date)
    except NotImplementedError:
        return None
    return bool(off), str(name or "")


def holiday_label(name: str) -> str:
    return str(HOLIDAY_NAMES.get(name, name))
