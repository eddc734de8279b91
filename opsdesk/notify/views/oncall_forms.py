"""Forms of on-call: a rotation with its weekdays as boxes to tick, a take-over, an iCalendar upload."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from opsdesk.core.generic.forms import ScopedModelForm, style_widgets
from opsdesk.notify.models import Override, Rotation

WEEKDAYS = [(0, pgettext_lazy("weekday", "Monday")), (1, pgettext_lazy("weekday", "Tuesday")),
            (2, pgettext_lazy("weekday", "Wednesday")), (3, pgettext_lazy("weekday", "Thursday")),
            (4, pgettext_lazy("weekday", "Friday")), (5, pgettext_lazy("weekday", "Saturday")),
            (6, pgettext_lazy("weekday", "Sunday"))]
LOCAL = "%Y-%m-%dT%H:%M"


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs) -> None:
        super().__init__(format=LOCAL, **kwargs)


class RotationForm(ScopedModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        label=_("weekdays"), choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every day."))

    class Meta:
        model = Rotation
        fields = ["schedule", "name", "layer", "kind", "shift_hours", "starts_at", "ends_at", "handoff_time",
                  "active_from", "active_until", "weekdays"]
        widgets = {"starts_at": LocalDateTimeInput(), "ends_at": LocalDateTimeInput(),
                   "handoff_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "active_from": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "active_until": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Boxes, not a select: style_widgets gave the group a control class it does not need.
        self.fields["weekdays"].widget.attrs.pop("class", None)
        self.fields["weekdays"].widget.attrs["class"] = "weekday-boxes"


class OverrideForm(ScopedModelForm):
    class Meta:
        model = Override
        fields = ["schedule", "user", "starts_at", "ends_at", "reason"]
        widgets = {"starts_at": LocalDateTimeInput(), "ends_at": LocalDateTimeInput()}


class TakeOverForm(forms.Form):
    starts_at = forms.DateTimeField(label=pgettext_lazy("shift", "from"), required=False, widget=LocalDateTimeInput(),
                                    help_text=_("Empty: now."))
    ends_at = forms.DateTimeField(label=pgettext_lazy("shift", "until"), required=False, widget=LocalDateTimeInput(),
                                  help_text=_("Empty: the end of the shift running then."))
    reason = forms.CharField(label=_("reason"), max_length=200, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_widgets(self)


class CalendarUploadForm(forms.Form):
    file = forms.FileField(label=_("iCalendar file (.ics)"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_widgets(self)
