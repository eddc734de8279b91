"""The fields a category asks for (`Category.form_fields`), as Django form fields for the portal,
and checked by `open_ticket` whichever way a ticket comes (portal, desk, API).

An administrator writes them as JSON, a list of objects:

    {"name": "serial", "label": {"en": "Serial number", "zh-hans": "序列号"}, "type": "text",
     "required": true, "help": "On the sticker under the device", "choices": [...]}

`type` is text, textarea, choice, number or date; `label` and `help` are a text or one text per
language; `choices` (for choice) are texts, [value, label] pairs or {"value", "label"} objects.
A definition that cannot be used (no name, a choice without choices) is left out rather than
breaking the customer's form: the category page is where the administrator sees the JSON.
The values go into `Ticket.form_data` as {name: value}, JSON-friendly (dates as YYYY-MM-DD).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext as _

PREFIX = "cf_"
TYPES = ("text", "textarea", "choice", "number", "date")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TEXT_MAX = 500
TEXTAREA_MAX = 5000


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str
    required: bool
    help: str
    choices: tuple[tuple[str, str], ...]


def localised(text: Any) -> str:
    """A text in the reader's language: a plain string as it is, or the matching entry of a
    {language: text} mapping (then English, then any)."""
    if isinstance(text, dict):
        lang = (get_language() or "en").lower()
        for key in (lang, lang.split("-")[0], "en", "zh-hans"):
            if text.get(key):
                return str(text[key])
        return next((str(v) for v in text.values() if v), "")
    return str(text) if text is not None else ""


def _choices(raw: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for item in raw if isinstance(raw, list) else ():
        if isinstance(item, dict) and item.get("value") not in (None, ""):
            value, label = str(item["value"]), localised(item.get("label")) or str(item["value"])
        elif isinstance(item, list | tuple) and len(item) == 2:
            value, label = str(item[0]), localised(item[1]) or str(item[0])
        elif isinstance(item, str | int | float) and str(item):
            value = label = str(item)
        else:
            continue
        out.append((value, label))
    return tuple(out)


def specs(definitions: Any) -> list[FieldSpec]:
    """The usable field definitions of a category, in their order, names unique."""
    out: list[FieldSpec] = []
    seen: set[str] = set()
    for raw in definitions if isinstance(definitions, list) else ():
        if not isinstance(raw, dict):
            continue
        name = str(raw.get("name") or "")
        kind = str(raw.get("type") or "text")
        if not _NAME.match(name) or name in seen or kind not in TYPES:
            continue
        choices = _choices(raw.get("choices"))
        if kind == "choice" and not choices:
            continue
        seen.add(name)
        out.append(FieldSpec(name=name, label=localised(raw.get("label")) or name, type=kind,
                             required=bool(raw.get("required")), help=localised(raw.get("help")), choices=choices))
    return out


def form_field(spec: FieldSpec) -> forms.Field:
    common = {"label": spec.label, "required": spec.required, "help_text": spec.help}
    if spec.type == "textarea":
        return forms.CharField(max_length=TEXTAREA_MAX, widget=forms.Textarea(attrs={"rows": 3}), **common)
    if spec.type == "choice":
        return forms.ChoiceField(choices=[("", "—"), *spec.choices], **common)
    if spec.type == "number":
        return forms.FloatField(widget=forms.NumberInput(attrs={"step": "any"}), **common)
    if spec.type == "date":
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **common)
    return forms.CharField(max_length=TEXT_MAX, **common)


def form_fields(definitions: Any) -> dict[str, forms.Field]:
    """{"cf_<name>": field} for a form."""
    return {PREFIX + spec.name: form_field(spec) for spec in specs(definitions)}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def values(definitions: Any, cleaned: dict[str, Any]) -> dict[str, Any]:
    """What goes into Ticket.form_data from a valid form's cleaned_data (empty answers left out)."""
    out = {}
    for spec in specs(definitions):
        value = cleaned.get(PREFIX + spec.name)
        if value not in (None, ""):
            out[spec.name] = _plain(value)
    return out


def named(label: str, message: str) -> str:
    """An error message with the field it is about (Chinese puts a full-width colon between)."""
    return _("%(field)s: %(message)s") % {"field": label, "message": message}


def clean_form_data(definitions: Any, data: Any, *, required: bool = True) -> dict[str, Any]:
    """Check raw {name: value} (the API's form_data) against the category's fields: the values
    as the portal would keep them, or a ValidationError on "form_data" naming each field.
    `required=False` (the desk's engineers, opsdesk itself): a required field may stay empty —
    the person on the phone may not know the serial number — but what is given is checked."""
    if data in (None, ""):
        data = {}
    if not isinstance(data, dict):
        raise ValidationError({"form_data": [_("Give the category's fields as an object of name: value.")]})
    if not data and (not definitions or not required):
        return {}  # nothing given and nothing asked for: most tickets (mail, chat, alerts)
    fields = form_fields(definitions)
    if not required:
        for field in fields.values():
            field.required = False
    form = forms.Form({PREFIX + str(k): v for k, v in data.items()})
    form.fields.update(fields)
    # A name the category does not ask for would be kept unseen (the portal and the ticket page
    # show only the category's fields): refused, so a typo in an integration shows at once.
    unknown = [named(str(k), _("The category has no such field.")) for k in data if PREFIX + str(k) not in fields]
    if not form.is_valid() or unknown:
        labels = {name: field.label for name, field in fields.items()}
        raise ValidationError({"form_data": [named(str(labels.get(name, name)), message)
                                             for name, errors in form.errors.items() for message in errors]
                               + unknown})
    return values(definitions, form.cleaned_data)


def display_rows(definitions: Any, data: Any) -> list[tuple[str, str]]:
    """(label, value as read) of a ticket's form_data: the category's fields in order, choice
    values by their label; values for fields the category no longer has, by their name."""
    data = data if isinstance(data, dict) else {}
    rows, known = [], set()
    for spec in specs(definitions):
        known.add(spec.name)
        if spec.name in data and data[spec.name] not in (None, ""):
            value = data[spec.name]
            label = dict(spec.choices).get(str(value), value) if spec.choices else value
            rows.append((spec.label, str(label)))
    rows += [(name, str(value)) for name, value in data.items() if name not in known and value not in (None, "")]
    return rows
