"""Per-kind attributes: a JSON Schema per CI kind, validated with `jsonschema`, with messages in
the person's language that name the attribute, form fields built from the schema, and the
conversion of imported text cells into the schema's types."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

SUPPORTED_TYPES = ("string", "integer", "number", "boolean")
FORMAT_CHECKER = FormatChecker()


def property_title(key: str, prop: dict) -> str:
    lang = (get_language() or "en").lower()
    own = prop.get(f"x-title-{lang}")
    if own:
        return own
    return _(prop["title"]) if prop.get("title") else key


def schema_problems(schema: Any) -> list[str]:
    """What is wrong with a kind's schema, in words for the administrator who wrote it."""
    if schema in (None, {}):
        return []
    if not isinstance(schema, dict):
        return [_("The schema must be a JSON object.")]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [_("Not a valid JSON Schema: %(error)s") % {"error": exc.message}]
    if schema.get("type", "object") != "object":
        return [_("The schema must describe an object (\"type\": \"object\").")]
    problems = []
    for key, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if kind not in SUPPORTED_TYPES:
            problems.append(_("Attribute %(key)s: type must be one of %(types)s.")
                            % {"key": key, "types": ", ".join(SUPPORTED_TYPES)})
    return problems


def _message(error) -> tuple[str, str]:
    """(attribute, message) for one jsonschema error, in the active language."""
    key = ".".join(str(p) for p in error.absolute_path)
    v, value = error.validator, error.validator_value
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return missing, _("This attribute is required.")
    if v == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return ", ".join(extra), _("This attribute is not defined for this kind.")
    if v == "type":
        names = {"string": _("text"), "integer": _("a whole number"), "number": _("a number"),
                 "boolean": _("true or false"), "object": _("an object")}
        return key, _("Must be %(type)s.") % {"type": names.get(value, value)}
    if v == "enum":
        return key, _("Must be one of: %(choices)s.") % {"choices": ", ".join(map(str, value))}
    if v == "minimum":
        return key, _("Must be at least %(limit)s.") % {"limit": value}
    if v == "maximum":
        return key, _("Must be at most %(limit)s.") % {"limit": value}
    if v == "maxLength":
        return key, _("Must be at most %(limit)s characters.") % {"limit": value}
    if v == "minLength":
        return key, _("Must be at least %(limit)s characters.") % {"limit": value}
    if v == "pattern":
        return key, _("Does not match the expected pattern %(pattern)s.") % {"pattern": value}
    if v == "format":
        return key, _("Is not a valid %(format)s.") % {"format": value}
    return key, error.message


def validate_attributes(schema: dict, attributes: Any) -> list[tuple[str, str]]:
    if not schema:
        return [] if isinstance(attributes, dict) else [("", _("Attributes must be an object."))]
    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    return [_message(e) for e in sorted(validator.iter_errors(attributes), key=lambda e: list(e.absolute_path))]


def coerce(prop: dict, raw: str) -> Any:
    """Turn an imported cell into the attribute's type; ValueError names what was expected."""
    kind = prop.get("type", "string")
    text = raw.strip() if isinstance(raw, str) else raw
    if kind == "integer":
        if isinstance(text, (int, float)) and float(text).is_integer():
            return int(text)
        try:
            return int(str(text))
        except ValueError:
            raise ValueError(_("Must be a whole number.")) from None
    if kind == "number":
        try:
            return float(text)
        except (TypeError, ValueError):
            raise ValueError(_("Must be a number.")) from None
    if kind == "boolean":
        if isinstance(text, bool):
            return text
        lowered = str(text).lower()
        if lowered in ("1", "true", "yes", "y", "是", "真"):
            return True
        if lowered in ("0", "false", "no", "n", "否", "假"):
            return False
        raise ValueError(_("Must be true or false."))
    return str(text)


def form_fields(schema: dict) -> dict[str, forms.Field]:
    """Form fields for a kind's attributes, named attr_<key>."""
    fields: dict[str, forms.Field] = {}
    required = set(schema.get("required", []))
    for key, prop in (schema.get("properties") or {}).items():
        label = property_title(key, prop)
        common = {"label": label, "required": key in required, "help_text": prop.get("description", "")}
        kind = prop.get("type")
        if "enum" in prop:
            field: forms.Field = forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in prop["enum"]], **common)
        elif kind == "integer":
            field = forms.IntegerField(min_value=prop.get("minimum"), max_value=prop.get("maximum"), **common)
        elif kind == "number":
            field = forms.FloatField(min_value=prop.get("minimum"), max_value=prop.get("maximum"), **common)
        elif kind == "boolean":
            # Three states: an untouched field must stay "not set", not become "no".
            field = forms.NullBooleanField(**{**common, "required": False})
        elif prop.get("format") == "ipv4":
            field = forms.GenericIPAddressField(protocol="IPv4", **common)
        elif prop.get("format") == "ipv6":
            field = forms.GenericIPAddressField(protocol="IPv6", **common)
        else:
            field = forms.CharField(max_length=prop.get("maxLength"), **common)
        fields[f"attr_{key}"] = field
    return fields
