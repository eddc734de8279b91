"""Per-kind attributes: a JSON Schema per CI kind, validated with `jsonschema`, with messages in
the person's language that name the attribute, form fields built from the schema, the labels of
enumerated values, and the conversion of imported text cells into the schema's types.

Labels of enumerated values, in the schema (both are plain JSON Schema; the first is an extension
keyword that validators ignore):

- `"enum": ["core", "access"], "x-enum-titles": ["Core", "Access"]` — a list parallel to `enum`;
  `x-enum-titles-zh-hans` gives the Chinese labels (like `x-title-zh-hans` for the title), and
  English labels that are msgids of the catalogue (the built-in kinds') are translated;
- `"oneOf": [{"const": "core", "title": "Core"}, …]` — `x-title-zh-hans` on an option likewise.

The order of the attributes is the schema's `x-order`, a list of property keys: PostgreSQL's jsonb
does not keep the order of an object's keys, so the order of `properties` is not to be relied on.
Keys the list leaves out come after the listed ones, alphabetically (see `property_order`).
"""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext as _

SUPPORTED_TYPES = ("string", "integer", "number", "boolean")
ORDER = "x-order"


def _properties(schema: Any) -> dict[str, Any]:
    props = schema.get("properties") if isinstance(schema, dict) else None
    return props if isinstance(props, dict) else {}


def property_order(schema: Any) -> list[str]:
    """The keys of the schema's properties in the order people see them: those `x-order` lists
    first, in its order, then the others alphabetically (the same on every database)."""
    props = _properties(schema)
    listed = schema.get(ORDER) if isinstance(schema, dict) else None
    keys: list[str] = []
    for key in listed if isinstance(listed, list) else ():
        if isinstance(key, str) and key in props and key not in keys:
            keys.append(key)
    return keys + sorted(k for k in props if k not in keys)


def ordered_properties(schema: Any) -> list[tuple[str, Any]]:
    """(key, property) of the schema's properties, in `property_order`."""
    props = _properties(schema)
    return [(key, props[key]) for key in property_order(schema)]


def with_order(schema: Any, keys: list[str] | None = None) -> Any:
    """The schema with a complete `x-order`: `keys` (default: its own `x-order`) first, then the
    remaining properties in the order given (a schema just parsed from the text a person typed
    still has it)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return schema
    props = schema["properties"]
    listed = keys if keys is not None else schema.get(ORDER)
    order: list[str] = []
    for key in [*(listed if isinstance(listed, list) else ()), *props]:
        if isinstance(key, str) and key in props and key not in order:
            order.append(key)
    return {**schema, ORDER: order}


def _lang() -> str:
    return (get_language() or "en").lower()


def _translated(text: Any) -> str:
    # gettext on a text an administrator typed returns it as typed.
    return _(text) if isinstance(text, str) and text else str(text)


def property_title(key: str, prop: dict) -> str:
    own = prop.get(f"x-title-{_lang()}") if isinstance(prop, dict) else None
    if own:
        return own
    return _(prop["title"]) if isinstance(prop, dict) and prop.get("title") else key


def enum_choices(key: str, prop: dict) -> list[tuple[Any, str]] | None:
    """[(value, label)] of an enumerated attribute in the active language, or None."""
    if not isinstance(prop, dict):
        return None
    if isinstance(prop.get("enum"), list):
        values = prop["enum"]
        own = prop.get(f"x-enum-titles-{_lang()}")
        titles = prop.get("x-enum-titles")
        labels = []
        for i, value in enumerate(values):
            if isinstance(own, list) and i < len(own) and own[i]:
                labels.append(str(own[i]))
            elif isinstance(titles, list) and i < len(titles) and titles[i]:
                labels.append(_translated(titles[i]))
            else:
                labels.append(_builtin_title(key, value))
        return list(zip(values, labels, strict=True))
    options = prop.get("oneOf") or prop.get("anyOf")
    if isinstance(options, list) and options and all(isinstance(o, dict) and "const" in o for o in options):
        return [(o["const"], o.get(f"x-title-{_lang()}") or (_translated(o["title"]) if o.get("title")
                                                              else str(o["const"]))) for o in options]
    return None


def _builtin_title(key: str, value: Any) -> str:
    # Databases made before the built-in kinds had labels keep their old schemas: the built-in
    # labels still apply to the built-in attributes' values.
    from opsdesk.cmdb.builtin_kinds import ENUM_TITLES

    title = ENUM_TITLES.get((key, value))
    return _(title) if title else str(value)


def display_value(key: str, prop: dict, value: Any) -> Any:
    """An attribute value as people read it: the label of an enumerated value; others unchanged."""
    for choice, label in enum_choices(key, prop) or ():
        if choice == value:
            return label
    return value


def display_rows(schema: dict, attributes: dict) -> list[tuple[str, Any]]:
    """(title, value as read) of an item's attributes: in the schema's order (`property_order`),
    then any others alphabetically."""
    props = _properties(schema)
    attributes = attributes or {}
    keys = [k for k in property_order(schema) if k in attributes] + sorted(k for k in attributes if k not in props)
    return [(property_title(k, props.get(k, {})), display_value(k, props.get(k, {}), attributes[k])) for k in keys]


@functools.cache
def format_checker() -> Any:
    """jsonschema's format checker. jsonschema is imported when a schema is first checked, not
    when Django starts: every process (web, worker, collector) loaded it, for about 2 MB of heap
    each, and most never check a schema."""
    from jsonschema import FormatChecker

    return FormatChecker()


def validator_for(schema: dict) -> Any:
    """A JSON Schema 2020-12 validator of the schema, checking formats."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema, format_checker=format_checker())


def schema_problems(schema: Any) -> list[str]:
    """What is wrong with a kind's schema, in words for the administrator who wrote it."""
    if schema in (None, {}):
        return []
    if not isinstance(schema, dict):
        return [_("The schema must be a JSON object.")]
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [_("Not a valid JSON Schema: %(error)s") % {"error": exc.message}]
    if schema.get("type", "object") != "object":
        return [_("The schema must describe an object (\"type\": \"object\").")]
    problems = []
    for key, prop in ordered_properties(schema):
        kind = prop.get("type") if isinstance(prop, dict) else None
        if kind not in SUPPORTED_TYPES:
            problems.append(_("Attribute %(key)s: type must be one of %(types)s.")
                            % {"key": key, "types": ", ".join(SUPPORTED_TYPES)})
    listed = schema.get(ORDER, [])
    if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
        problems.append(_("%(keyword)s must be a list of attribute keys.") % {"keyword": ORDER})
    else:
        unknown = [k for k in listed if k not in _properties(schema)]
        if unknown:
            problems.append(_("%(keyword)s names keys that are not attributes: %(keys)s.")
                            % {"keyword": ORDER, "keys": ", ".join(unknown)})
    return problems


def _format_name(fmt: str) -> str:
    names = {"ipv4": _("IPv4 address"), "ipv6": _("IPv6 address"), "email": _("email address"),
             "hostname": _("host name"), "idn-hostname": _("host name"), "uri": _("URI"),
             "date": _("date (YYYY-MM-DD)"), "date-time": _("date and time"), "time": _("time"),
             "uuid": _("UUID")}
    return str(names.get(fmt, fmt))


def _choices_text(key: str, prop: dict, fallback: list) -> str:
    choices = enum_choices(key, prop) or [(v, str(v)) for v in fallback]
    return ", ".join(label if label == str(value) else f"{label} ({value})" for value, label in choices)


def _message(error, schema: dict) -> tuple[str, str]:
    """(attribute key, message naming the attribute) for one jsonschema error, in the active
    language. The key comes first so that a form puts the message under the attribute's field
    and an import report in its `attr:KEY` column."""
    props = (schema or {}).get("properties") or {}
    key = ".".join(str(p) for p in error.absolute_path)
    v, value = error.validator, error.validator_value
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return missing, _("%(field)s is required.") % {"field": property_title(missing, props.get(missing, {}))}
    if v == "additionalProperties":
        extra = ", ".join(sorted(set(error.instance) - set(error.schema.get("properties", {}))))
        return extra, _("%(field)s is not an attribute of this kind.") % {"field": extra}
    prop = props.get(key) if key in props else (error.schema if isinstance(error.schema, dict) else {})
    field = property_title(key, prop) if key else _("The attributes")
    if v == "type":
        names = {"string": _("text"), "integer": _("a whole number"), "number": _("a number"),
                 "boolean": _("true or false"), "object": _("an object")}
        kind = names.get(value, value) if isinstance(value, str) else ", ".join(map(str, value))
        return key, _("%(field)s must be %(type)s.") % {"field": field, "type": kind}
    if v in ("enum", "const", "oneOf", "anyOf"):
        fallback = value if v == "enum" else [value] if v == "const" else []
        return key, _("%(field)s must be one of: %(choices)s.") % {"field": field,
                                                                    "choices": _choices_text(key, prop, fallback)}
    limits = {
        "minimum": _("%(field)s must be at least %(limit)s."),
        "maximum": _("%(field)s must be at most %(limit)s."),
        "exclusiveMinimum": _("%(field)s must be greater than %(limit)s."),
        "exclusiveMaximum": _("%(field)s must be less than %(limit)s."),
        "maxLength": _("%(field)s must be at most %(limit)s characters."),
        "minLength": _("%(field)s must be at least %(limit)s characters."),
        "multipleOf": _("%(field)s must be a multiple of %(limit)s."),
    }
    if v in limits:
        return key, limits[v] % {"field": field, "limit": value}
    if v == "pattern":
        return key, _("%(field)s does not match the expected pattern %(pattern)s.") % {"field": field,
                                                                                        "pattern": value}
    if v == "format":
        return key, _("%(field)s is not a valid %(format)s.") % {"field": field, "format": _format_name(value)}
    # jsonschema's own words are English: say what is wrong without them.
    return key, _("%(field)s has a value that is not allowed.") % {"field": field}


def validate_attributes(schema: dict, attributes: Any) -> list[tuple[str, str]]:
    if not schema:
        return [] if isinstance(attributes, dict) else [("", _("Attributes must be an object."))]
    errors = sorted(validator_for(schema).iter_errors(attributes), key=lambda e: list(map(str, e.absolute_path)))
    return [_message(e, schema) for e in errors]


def coerce(prop: dict, raw: str, key: str = "") -> Any:
    """Turn an imported cell into the attribute's type; ValueError names what was expected. An
    enumerated value may be given by its label, in either language."""
    kind = prop.get("type", "string")
    text = raw.strip() if isinstance(raw, str) else raw
    choices = enum_choices(key, prop)
    if choices and isinstance(text, str):
        lowered = text.lower()
        for value, label in choices:
            if lowered in (str(value).lower(), label.lower()):
                return value
        for value, _label in choices:  # only for a cell that is neither a value nor a label
            if lowered in _other_labels(key, prop, value):
                return value
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


def _other_labels(key: str, prop: dict, value: Any) -> set[str]:
    """The value's labels in the other languages (a Chinese file imported by an English user)."""
    from django.conf import settings
    from django.utils import translation

    labels = set()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            labels.update(label.lower() for v, label in enum_choices(key, prop) or () if v == value)
    return labels


def form_fields(schema: dict) -> dict[str, forms.Field]:
    """Form fields for a kind's attributes, named attr_<key>, in the schema's order."""
    required = set(schema.get("required", []))
    return {f"attr_{key}": schema_field(key, prop, key in required) for key, prop in ordered_properties(schema)}


def schema_field(key: str, prop: dict, required: bool, help_text: str | None = None) -> forms.Field:
    """The form field of one scalar property of a JSON Schema (a kind's attribute, a check type's
    parameter): a choice, a whole number, a number, a tick box, an address or text."""
    common = {"label": property_title(key, prop), "required": required,
              "help_text": prop.get("description", "") if help_text is None else help_text}
    kind = prop.get("type")
    choices = enum_choices(key, prop)
    if choices is not None:
        convert = {"integer": int, "number": float}.get(kind, str)
        return forms.TypedChoiceField(choices=[("", "—")] + [(c, label) for c, label in choices], coerce=convert,
                                      empty_value=None, **common)
    if kind == "integer":
        return forms.IntegerField(min_value=prop.get("minimum"), max_value=prop.get("maximum"), **common)
    if kind == "number":
        return forms.FloatField(min_value=prop.get("minimum"), max_value=prop.get("maximum"), **common)
    if kind == "boolean":
        # A checkbox: ticked is yes, unticked is no (a required yes/no is satisfied either way).
        return forms.BooleanField(**{**common, "required": False})
    if prop.get("format") == "ipv4":
        return forms.GenericIPAddressField(protocol="IPv4", **common)
    if prop.get("format") == "ipv6":
        return forms.GenericIPAddressField(protocol="IPv6", **common)
    return forms.CharField(max_length=prop.get("maxLength"), **common)
