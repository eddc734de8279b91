"""The check form: the type chosen from the check types the collector knows, and each parameter of
that type's schema as a field of its own, re-rendered when the type changes (htmx), where the
parameters were one JSON text to write by hand. A list of words is a line each; a list of objects
(an SNMP check's custom OIDs) stays JSON. The API takes `params` as JSON, as before."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from opsdesk.cmdb.attributes import property_title, schema_field
from opsdesk.core.generic.forms import ScopedModelForm, rerender_on_change, style_widgets
from opsdesk.monitoring.models import Check
from opsdesk.monitoring.template_services import check_types, params_errors

PREFIX = "param_"
# A hidden field naming the type whose parameter fields the page shows: when the type changes, the
# re-rendered fields start from the new type's defaults, not from the old type's values of a
# parameter of the same name (a port).
SHOWN_TYPE = "params_of"


class JSONText(forms.CharField):
    """A parameter that is a list of objects (or an object), written as JSON."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})

    def prepare_value(self, value: Any) -> Any:
        if value in (None, [], {}):
            return ""
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise forms.ValidationError(_("Write this as JSON, e.g. %(example)s."),
                                        params={"example": '[{"name": "…", "oid": "…"}]'}) from None


class Lines(forms.CharField):
    """A list of words (or of whole numbers, `numbers`), one a line."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, *, numbers: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.numbers = numbers

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(map(str, value)) if isinstance(value, list) else value

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value) or ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if self.numbers:
            try:
                lines = [int(line) for line in lines]
            except ValueError:
                raise forms.ValidationError(_("Each line must be a whole number.")) from None
        return lines or None


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    return str(value)


def _example(prop: dict) -> str:
    """A JSON example of a list or object parameter, from its schema."""
    items = prop.get("items") or {}
    if prop.get("type") == "array":
        keys = items.get("required") or list(items.get("properties") or {})[:2]
        if items.get("type") == "object" and keys:
            return "[{" + ", ".join(f'"{key}": "…"' for key in keys) + "}]"
        return '["…"]'
    return '{"name": "value"}'


def param_field(key: str, prop: dict, required: bool) -> forms.Field:
    """The form field of one parameter of a check type's schema: a scalar as a kind's attribute
    is (cmdb.attributes.schema_field), a list of words or numbers a line each, other lists and
    objects as JSON; the default said under it."""
    default = prop.get("default")
    help_text = gettext("Default: %(value)s") % {"value": _shown(default)} if default not in (None, "", []) else ""
    common = {"label": capfirst(property_title(key, prop)), "required": required}
    kind = prop.get("type")
    item_type = (prop.get("items") or {}).get("type")
    if kind == "array" and item_type in ("string", "integer"):
        return Lines(numbers=item_type == "integer", help_text=" ".join(filter(None, [gettext("One a line."),
                                                                                       help_text])), **common)
    if kind in ("array", "object"):
        return JSONText(help_text=gettext("JSON, e.g. %(example)s") % {"example": _example(prop)}, **common)
    field = schema_field(key, prop, required, help_text=help_text)
    field.label = common["label"]
    if isinstance(field, forms.TypedChoiceField) and default is not None:
        field.choices = [choice for choice in field.choices if choice[0] != ""]  # the default stands for none
    return field


def type_field() -> forms.ChoiceField:
    """The check type, chosen from those the collector knows (named in the reader's language)."""
    return forms.ChoiceField(
        label=capfirst(Check._meta.get_field("type").verbose_name),
        choices=[("", "—")] + sorted(((name, f"{gettext(t.label)} ({name})") for name, t in check_types().items()),
                                     key=lambda choice: choice[1]))


class ParameterFields:
    """A form with a `type` field and a field per parameter of the chosen type (PREFIX + key):
    `add_parameter_fields` after the form's own; once cleaned, `params` holds the parameters that
    differ from their defaults. The check form and a template's check
    form share it."""

    fields: dict[str, forms.Field]
    initial: dict[str, Any]
    is_bound: bool

    def add_parameter_fields(self, type_name: str, current: dict[str, Any]) -> None:
        """The fields of `type_name`'s parameters, filled from `current` (the params saved); then
        every field styled, and the type field made to re-render them when it changes."""
        types = check_types()
        self.type_name = type_name if type_name in types else ""
        self.check_type = types.get(self.type_name)
        self.param_names: list[str] = []
        if self.check_type is not None:
            schema = self.check_type.params_schema
            required = set(schema.get("required", ()))
            carried = self.is_bound or self.initial.get(SHOWN_TYPE) == self.type_name
            for key, prop in schema["properties"].items():
                name = PREFIX + key
                field = param_field(key, prop, key in required)
                field.initial = (current or {}).get(key, prop.get("default"))
                if not carried:
                    self.initial.pop(name, None)  # another type's value of a parameter of this name
                self.fields[name] = field
                self.param_names.append(key)
        style_widgets(self)
        rerender_on_change(self.fields["type"], "check-params")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.clean_parameters(cleaned)
        return cleaned

    def extra_field_names(self) -> set[str]:
        return {PREFIX + key for key in self.param_names}

    def param_fields(self) -> list:
        return [self[PREFIX + key] for key in self.param_names]

    def type_label(self) -> str:
        return gettext(self.check_type.label) if self.check_type is not None else ""

    def clean_parameters(self, cleaned: dict[str, Any]) -> None:
        params: dict[str, Any] = {}
        if self.check_type is not None:
            props = self.check_type.params_schema["properties"]
            for key in self.param_names:
                value = cleaned.get(PREFIX + key)
                default = props[key].get("default")
                if props[key].get("type") == "boolean":
                    default = bool(default)
                elif value in (None, "", []):
                    continue  # its default
                if value != default:
                    params[key] = value
            for key, message in params_errors(self.type_name, params):
                name = PREFIX + key
                if name in self.fields and name not in self.errors:
                    self.add_error(name, message)
                elif name not in self.fields:
                    self.add_error(None, message)
        self.params = params


class CheckForm(ParameterFields, ScopedModelForm):
    class Meta:
        model = Check
        fields = ["configuration_item", "name", "type", "target", "credential", "interval", "timeout", "collector"]

    extra_template = "monitoring/_check_params.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["type"] = type_field()
        raw = self.data.get("type") if self.is_bound else (self.initial.get("type") or self.instance.type)
        self.add_parameter_fields(raw, self.instance.params if self.instance.type == raw else {})

    def service_data(self) -> dict[str, Any]:
        data = {name: value for name, value in super().service_data().items() if not name.startswith(PREFIX)}
        return {**data, "params": self.params}


def parameter_rows(check: Check) -> list[dict[str, Any]] | None:
    """The check's parameters as a person reads them, for its page: every parameter of its type, in
    the schema's order, titled in the person's language, its default said as such. None for a
    type the collector does not know."""
    check_type = check_types().get(check.type)
    if check_type is None:
        return None
    params = check.params if isinstance(check.params, dict) else {}
    rows = []
    for key, prop in check_type.params_schema["properties"].items():
        given = key in params and params[key] is not None
        value = params[key] if given else prop.get("default")
        if isinstance(value, dict) and value or isinstance(value, list) and not all(
                isinstance(v, (str, int, float)) for v in value):
            shown = json.dumps(value, ensure_ascii=False)  # request headers, custom OIDs
        elif value in (None, "", [], {}):
            shown = "—"
        else:
            shown = _shown(value)
        rows.append({"key": key, "title": capfirst(property_title(key, prop)), "value": shown, "default": not given})
    return rows
