"""One check of a template, with fields as the check form has (the type chosen from the check
types, a field per parameter of it, re-rendered when the type changes), where a template's checks
were one JSON list to write by hand. The template keeps its checks as that list (the API takes
it as ever); this form reads one entry of it and writes it back."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from opsdesk.monitoring.check_form import ParameterFields, type_field
from opsdesk.monitoring.template_services import MAX_TIMEOUT, MIN_INTERVAL


class TemplateCheckForm(ParameterFields, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    target = forms.CharField(
        label=_("Target"), max_length=500, required=False,
        help_text=_("Filled in from the item when the template is applied: {ip_address}, {ip_address|hostname} "
                    "(the first one filled in), or a URL such as https://{hostname}/."))
    interval = forms.IntegerField(label=_("Interval (seconds)"), min_value=MIN_INTERVAL, max_value=86400,
                                  required=False, help_text=_("Empty: the check type's default."))
    timeout = forms.IntegerField(label=_("Timeout (seconds)"), min_value=1, max_value=MAX_TIMEOUT, required=False,
                                 help_text=_("Empty: the check type's default."))

    def __init__(self, *args: Any, spec: dict[str, Any] | None = None, **kwargs: Any) -> None:
        spec = spec or {}
        initial = {key: spec.get(key) for key in ("name", "type", "target", "interval", "timeout")}
        super().__init__(*args, initial={**initial, **kwargs.pop("initial", {})}, **kwargs)
        self.fields["type"] = type_field()
        self.order_fields(["name", "type", "target", "interval", "timeout"])
        raw = self.data.get("type") if self.is_bound else self.initial.get("type")
        self.add_parameter_fields(raw or "", (spec.get("params") or {}) if spec.get("type") == raw else {})

    def spec(self) -> dict[str, Any]:
        """The template's entry for this check, as template_problems reads it."""
        data = self.cleaned_data
        spec: dict[str, Any] = {"name": data["name"].strip(), "type": data["type"], "target": data.get("target") or "",
                                "params": self.params}
        for key in ("interval", "timeout"):
            if data.get(key) is not None:
                spec[key] = data[key]
        return spec
