"""Business calendars: when the SLA clocks count. Working hours per weekday in the calendar's
time zone, the Chinese statutory holidays and swapped working days (from the chinese-calendar
package, when `chinese_holidays` is on), and the administrator's own days, which override the
package and extend it past the years it knows. A 7×24 contract is a calendar too (`always_open`).

The engine compiles a calendar into working intervals (opsdesk.servicedesk.sla.calendar); every
change of a calendar or of its days bumps `version`, which is how each process knows its compiled
copy is stale."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models.base import TimestampedModel
from opsdesk.core.models.people import validate_time_zone
from opsdesk.servicedesk.sla.hours import parse_hours, validate_hours

WEEKDAY_FIELDS = ("monday_hours", "tuesday_hours", "wednesday_hours", "thursday_hours", "friday_hours",
                  "saturday_hours", "sunday_hours")


def _hours_field(label, default: str) -> models.CharField:
    return models.CharField(label, max_length=100, blank=True, default=default, validators=[validate_hours],
                            help_text=_("For example 09:00-12:00, 13:00-18:00; empty: not a working day."))


class BusinessCalendar(TimestampedModel):
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai",
                                 validators=[validate_time_zone])
    always_open = models.BooleanField(_("7×24"), default=False,
                                      help_text=_("Every hour of every day counts; hours and holidays are ignored."))
    monday_hours = _hours_field(_("Monday"), "09:00-18:00")
    tuesday_hours = _hours_field(_("Tuesday"), "09:00-18:00")
    wednesday_hours = _hours_field(_("Wednesday"), "09:00-18:00")
    thursday_hours = _hours_field(_("Thursday"), "09:00-18:00")
    friday_hours = _hours_field(_("Friday"), "09:00-18:00")
    saturday_hours = _hours_field(_("Saturday"), "")
    sunday_hours = _hours_field(_("Sunday"), "")
    chinese_holidays = models.BooleanField(
        _("Chinese statutory holidays"), default=False,
        help_text=_("Holidays and swapped working days of the State Council's notices (from the chinese-calendar "
                    "package, and the days entered here for years it does not know)."))
    holidays_entered_until = models.DateField(
        _("holidays entered up to"), null=True, blank=True,
        help_text=_("The last day up to which this calendar's own days complete the State Council's notices. "
                    "Past the years chinese-calendar knows and past this day, the clock counts plain weekday hours "
                    "and says so."))
    is_default = models.BooleanField(_("default"), default=False,
                                     help_text=_("Used by business-hours targets whose SLA policy names no calendar."))
    version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name

    def weekday_hours(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """The seven weekdays' intervals (Monday first), in seconds after local midnight."""
        return tuple(parse_hours(getattr(self, name)) for name in WEEKDAY_FIELDS)

    def clean(self) -> None:
        until = self.holidays_entered_until
        if until is not None and not 2000 <= until.year <= 2200:
            raise ValidationError({"holidays_entered_until": _("Give a day between 2000 and 2200.")})
        if not self.always_open:
            try:
                week = self.weekday_hours()
            except ValidationError:
                return  # the field's own validator names it
            if not any(week):
                raise ValidationError({"monday_hours": _("A calendar needs working hours on at least one weekday "
                                                         "(or tick 7×24).")})


class DayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Holiday")
    WORKDAY = "workday", _("Working day")


class CalendarDay(TimestampedModel):
    """One day an administrator set: a holiday, or a working day (a swapped weekend day, or a
    day with other hours). It wins over the weekday hours and over chinese-calendar."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="days",
                                 verbose_name=_("calendar"))
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=8, choices=DayKind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)
    hours = models.CharField(_("hours"), max_length=100, blank=True, validators=[validate_hours],
                             help_text=_("A working day's hours; empty: the calendar's usual working-day hours."))

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="unique_calendar_day")]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.get_kind_display()} {self.name}".strip()

    def clean(self) -> None:
        if self.date is not None and not 2000 <= self.date.year <= 2200:
            raise ValidationError({"date": _("Give a day between 2000 and 2200.")})
        if self.kind == DayKind.HOLIDAY and (self.hours or "").strip():
            raise ValidationError({"hours": _("A holiday has no working hours.")})
