"""The rule editor's form: the generic scoped form of AlertRule, with its two JSON columns as
fields a person fills in — the check states as tick boxes, the label filter as `name=value`
pairs — instead of JSON typed into a text area."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from opsdesk.core.generic.forms import ScopedModelForm
from opsdesk.monitoring.models import AlertRule
from opsdesk.monitoring.models.checks import CheckState

# A Prometheus label name; the value is anything up to the next separator.
_PAIR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\"?(.*?)\"?\s*$")


class LabelsField(forms.CharField):
    """{"mount": "/", "device": "sda"} as `mount=/, device=sda` (commas or new lines)."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return ", ".join(f"{k}={v}" for k, v in value.items())
        return value

    def to_python(self, value: Any) -> dict[str, str]:
        text = super().to_python(value) or ""
        labels: dict[str, str] = {}
        for part in re.split(r"[,\n]", text):
            if not part.strip():
                continue
            found = _PAIR.match(part)
            if found is None:
                raise ValidationError(_("Write each label as name=value: “%(part)s” is not."),
                                      params={"part": part.strip()}, code="invalid")
            labels[found.group(1)] = found.group(2)
        return labels


class AlertRuleForm(ScopedModelForm):
    labels = LabelsField(label=_("labels"), required=False, max_length=1000,
                         help_text=_("Only series with these label values, as name=value separated by commas, "
                                     "e.g. mount=/, fstype=ext4."))
    check_states = forms.TypedMultipleChoiceField(
        label=_("check states"), required=False, widget=forms.CheckboxSelectMultiple,
        # OK and pending never fire.
        choices=[(s.value, s.label) for s in CheckState if s not in (CheckState.OK, CheckState.PENDING)],
        help_text=_("For a check-state rule: the states that fire."))

    class Meta:
        model = AlertRule
        exclude = ["created_at", "updated_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Tick boxes in a row, not Bootstrap's full-width inputs.
        self.fields["check_states"].widget.attrs["class"] = "form-check-input"
