from __future__ import annotations

import datetime as dt
import json

from django import template
from django.db.models import Model
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from opsdesk.core import registry

register = template.Library()


@register.simple_tag
def entry_url(entry: registry.ModelEntry, action: str, pk=None) -> str:
    return reverse(entry.url_name(action), args=[pk] if pk is not None else [])


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
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
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


def _audit_value(value) -> str:
    if value in (None, "None", ""):
        return "—"
    if value in (True, "True"):
        return _("Yes")
    if value in (False, "False"):
        return _("No")
    return value


@register.filter
def change_rows(entry) -> list[tuple[str, str, str]]:
    """(field, before, after) of an audit LogEntry, with field names and choices as people read
    them and related objects by name."""
    changes = entry.changes_display_dict or {}
    rows = []
    for field, values in changes.items():
        if isinstance(values, dict):  # many-to-many
            rows.append((field, ", ".join(map(str, values.get("objects", []))), values.get("operation", "")))
        else:
            before, after = (list(values) + ["", ""])[:2]
            rows.append((field, _audit_value(before), _audit_value(after)))
    return rows
