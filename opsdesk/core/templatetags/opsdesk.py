from __future__ import annotations

import ast
import datetime as dt
import json
import re

from django import template
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Model
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from opsdesk.core import registry

register = template.Library()

ICON_CLASS = re.compile(r"bi-[a-z0-9]+(?:-[a-z0-9]+)*")


@register.simple_tag
def entry_url(entry: registry.ModelEntry, action: str, pk=None) -> str:
    return reverse(entry.url_name(action), args=[pk] if pk is not None else [])


@register.filter
def entry_url_name(entry: registry.ModelEntry, action: str) -> str:
    return entry.url_name(action)


@register.simple_tag
def object_url(obj: Model, action: str = "detail") -> str:
    entry = registry.find(type(obj))
    if entry is None:
        return ""
    try:
        return reverse(entry.url_name(action), args=[obj.pk])
    except NoReverseMatch:
        return ""


@register.filter
def cell(value):
    """How a value looks in a table cell."""
    if value is None or value == "":
        return "—"
    if getattr(value, "is_icon", False) and ICON_CLASS.fullmatch(str(value)):
        # A Bootstrap Icons class name (a CI kind's icon): the icon, and its name for who types one.
        return format_html('<i class="bi {}" aria-hidden="true"></i> <code class="small text-muted">{}</code>',
                           value, value)
    if value is True:
        return format_html('<i class="bi bi-check-lg text-success" title="{}"></i>', _("Yes"))
    if value is False:
        return format_html('<i class="bi bi-x-lg text-muted" title="{}"></i>', _("No"))
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, dt.date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    if isinstance(value, Model):
        entry = registry.find(type(value))
        if entry is not None:
            try:
                return format_html('<a href="{}">{}</a>', reverse(entry.url_name("detail"), args=[value.pk]), value)
            except NoReverseMatch:
                pass
        return str(value)
    if isinstance(value, float):
        # A measured value (a series' last value): 2.096186970694176 as 2.1, as on detail pages.
        from opsdesk.core.views.generic import readable_number

        return readable_number(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False) if value else "—"
    return value


@register.simple_tag(takes_context=True)
def sort_url(context, key: str) -> str:
    request = context["request"]
    params = request.GET.copy()
    current = params.get("sort", "")
    params["sort"] = f"-{key}" if current == key else key
    params.pop("page", None)
    return "?" + params.urlencode()


@register.simple_tag(takes_context=True)
def page_url(context, number) -> str:
    params = context["request"].GET.copy()
    params["page"] = number
    return "?" + params.urlencode()


@register.filter
def json_script_data(value) -> str:
    return json.dumps(value, ensure_ascii=False)


@register.filter
def action_label(entry) -> str:
    """The audit action in the person's language (django-auditlog has no zh-Hans catalogue)."""
    from opsdesk.core.views.audit import ACTIONS

    return str(dict(ACTIONS).get(entry.action, entry.action))


_NOTHING = "—"


def _audit_value(value) -> str:
    """One value of an audit change as text: booleans as yes/no, nothing as a dash, JSON as JSON."""
    if value is None or value in ("None", ""):
        return _NOTHING
    # By identity, not equality: 1 == True in Python, and a count of 1 is no "Yes".
    if value is True or value == "True":
        return _("Yes")
    if value is False or value == "False":
        return _("No")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _as_mapping(value):
    """A JSON field's stored value as a dict: audit rows keep it as JSON, older ones as the text of
    a Python dict. None when it is not an object."""
    if isinstance(value, dict):
        return value
    if value in (None, "None", ""):
        return {}
    if isinstance(value, str) and value.startswith("{"):
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(value)
            except (ValueError, SyntaxError, TypeError):
                continue
            if isinstance(parsed, dict):
                return parsed
    return None


class ChangeRows:
    """Turns audit LogEntries into (field, before, after) rows as people read them: field names
    and choices in the person's language, related objects by name, times in the person's time zone,
    and a JSON field (a CI's attributes) as one row per changed key, `attributes.ip_address`.
    Related objects are read once per instance of this class (one page of entries)."""

    def __init__(self) -> None:
        self._objects: dict[tuple[type[Model], str], str] = {}

    def rows(self, entry) -> list[tuple[str, str, str]]:
        model = entry.content_type.model_class() if entry.content_type_id else None
        rows = []
        for name, values in (entry.changes_dict or {}).items():
            field = self._field(model, name)
            extra_labels = registry.registry["audit_labels"]
            label = str(field.verbose_name) if field is not None else str(extra_labels.get(name, name))
            if isinstance(values, dict):  # many-to-many: {"type": "m2m", "operation": …, "objects": […]}
                objects = ", ".join(map(str, values.get("objects", []))) or _NOTHING
                operation = values.get("operation")
                before, after = (_NOTHING, objects) if operation == "add" else \
                    (objects, _NOTHING) if operation in ("delete", "remove", "clear") else (objects, str(operation))
                rows.append((label, before, after))
                continue
            before, after = (list(values) + [None, None])[:2]
            if field is not None and field.get_internal_type() == "JSONField":
                old, new = _as_mapping(before), _as_mapping(after)
                if old is not None and new is not None:
                    for key in [*old, *(k for k in new if k not in old)]:
                        if old.get(key) != new.get(key):
                            rows.append((f"{label}.{key}", _audit_value(old.get(key)), _audit_value(new.get(key))))
                    continue
            before, after = self._value(field, before), self._value(field, after)
            if before == after == _NOTHING:
                continue  # an empty field of a new object
            rows.append((label, before, after))
        return rows

    @staticmethod
    def _field(model, name):
        if model is None:
            return None
        try:
            return model._meta.get_field(name)
        except FieldDoesNotExist:
            return None

    def _value(self, field, value) -> str:
        if field is None or value in (None, "None", ""):
            return _audit_value(value)
        if field.choices:
            choices = {str(k): v for k, v in field.flatchoices}
            return str(choices.get(str(value), value))
        kind = field.get_internal_type()
        if kind in ("DateTimeField", "DateField"):
            try:
                moment = dt.datetime.fromisoformat(str(value))
            except ValueError:
                return _audit_value(value)
            if kind == "DateField":
                return cell(moment.date())
            # django-auditlog writes times as naive UTC.
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment, dt.UTC)
            return cell(moment)
        if field.is_relation and (field.many_to_one or field.one_to_one):
            return self._related(field.related_model, value)
        return _audit_value(value)

    def _related(self, model, pk) -> str:
        key = (model, str(pk))
        if key not in self._objects:
            try:
                obj = model._default_manager.filter(pk=pk).first()
            except (ValueError, TypeError, ValidationError):
                obj = None
            # A deleted object is named by its id.
            self._objects[key] = str(obj) if obj is not None else f"#{pk}"
        return self._objects[key]


@register.filter
def change_rows(entry) -> list[tuple[str, str, str]]:
    """(field, before, after) of an audit LogEntry (see ChangeRows). A page that shows many
    entries sets `entry.opsdesk_change_rows` with one ChangeRows for all of them."""
    precomputed = getattr(entry, "opsdesk_change_rows", None)
    if precomputed is not None:
        return precomputed
    return ChangeRows().rows(entry)


@register.filter
def quick_select(bound):
    """A select (or multiple select) of a form rendered in Python, not through Django's widget
    templates, which cost about half a millisecond an option: a list page with a few filter
    dropdowns of fifty people spends more there than in its queries. Other widgets, and selects
    with option groups, render as usual."""
    from django import forms
    from django.forms.utils import flatatt
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    widget = bound.field.widget
    if not isinstance(widget, forms.Select) or isinstance(widget, forms.RadioSelect):
        return str(bound)
    choices = list(bound.field.choices)
    if any(isinstance(label, (list, tuple)) for _value, label in choices):
        return str(bound)
    multiple = isinstance(widget, forms.SelectMultiple)
    attrs = widget.build_attrs(widget.attrs, {"name": bound.html_name})
    if bound.auto_id:
        attrs["id"] = bound.auto_id
    if multiple:
        attrs["multiple"] = True
    if bound.field.required and not multiple and widget.use_required_attribute(bound.initial):
        attrs["required"] = True
    value = bound.value()
    values = value if isinstance(value, (list, tuple)) else [value]
    chosen = {str(v) for v in values if v not in (None, "")}
    options = []
    for option, label in choices:
        key = str(getattr(option, "value", option))
        mark = " selected" if key in chosen else ""
        options.append(f'<option value="{escape(key)}"{mark}>{escape(label)}</option>')
    return mark_safe(f"<select{flatatt(attrs)}>{''.join(options)}</select>")
