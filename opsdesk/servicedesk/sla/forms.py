"""The form that adds days to a business calendar: one day, a range, or a notice's lines."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from opsdesk.servicedesk.models import DayKind
from opsdesk.servicedesk.sla.hours import validate_hours
from opsdesk.servicedesk.sla.services import DaySpec, parse_lines


class AddDaysForm(forms.Form):
    first = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label=_("To (for a range)"), required=False,
                           widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=_("Kind"), choices=DayKind.choices, required=False, initial=DayKind.HOLIDAY)
    # Not "name": run_action(obj, name, ...) takes that one.
    label = forms.CharField(label=_("Name"), max_length=100, required=False,
                           widget=forms.TextInput(attrs={"placeholder": _("e.g. 元旦")}))
    hours = forms.CharField(label=_("Hours (working day)"), max_length=100, required=False,
                            validators=[validate_hours],
                            help_text=_("Empty: the calendar's usual working-day hours."))
    lines = forms.CharField(
        label=_("Or several at once, one per line"), required=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "2027-01-01..2027-01-03 holiday 元旦\n"
                                                                "2027-02-07 workday 春节补班"}),
        help_text=_("As the State Council's notice lists them: a day or a range, holiday or workday, a name."))
    entered_until = forms.DateField(
        label=_("These complete the notices up to"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Say so once a year's notice is entered in full (e.g. 2027-12-31): up to that day the clocks "
                    "trust this calendar, and the warning that it runs out moves on."))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        specs: list[DaySpec] = []
        first: dt.date | None = data.get("first")
        if first is not None:
            specs.append(DaySpec(first, data.get("last") or first, data.get("kind") or DayKind.HOLIDAY,
                                 (data.get("label") or "").strip(), (data.get("hours") or "").strip()))
        elif data.get("last"):
            raise ValidationError({"first": _("Give the first day of the range.")})
        specs += parse_lines(data.get("lines") or "", "lines")
        if not specs and data.get("entered_until") is None:
            raise ValidationError({"first": _("Give at least one day.")})
        data["specs"] = specs
        return data


def add_days_params(form_data: dict[str, Any]) -> dict[str, Any]:
    """The service's parameters from the form's cleaned data."""
    return {"specs": form_data.get("specs") or [], "entered_until": form_data.get("entered_until")}
