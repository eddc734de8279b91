"""Columns of a list: label and value of a dotted field path, shared by the page and export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model


@dataclass
class Column:
    name: str
    label: str
    sort_key: str | None

    def value(self, obj: Model) -> Any:
        target: Any = obj
        parts = self.name.split("__")
        for i, part in enumerate(parts):
            if target is None:
                return None
            if i == len(parts) - 1 and isinstance(target, Model):
                display = getattr(target, f"get_{part}_display", None)
                if callable(display):
                    return display()
            target = getattr(target, part)
            if callable(target) and not isinstance(target, Model):
                target = target()
        if self.name == "icon" and isinstance(target, str) and target:
            return IconName(target)  # the list draws the icon; an export writes the name
        return target


class IconName(str):
    """A Bootstrap Icons class name that a table cell shows as the icon itself."""

    is_icon = True


def _label(model: type[Model], path: str) -> str:
    parts = path.split("__")
    current = model
    field = None
    for part in parts:
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            attr = getattr(current, part, None)
            return str(getattr(attr, "short_description", part.replace("_", " ")))
        if field.is_relation and field.related_model is not None:
            current = field.related_model
    return str(getattr(field, "verbose_name", path))


def _sort_key(model: type[Model], name: str, sortable: tuple[str, ...]) -> str | None:
    # A related column ("kind") sorts by the related name ("kind__name") when that is allowed; a
    # method's column by the field it names as its `admin_order_field` (Django admin's convention).
    order_field = getattr(getattr(model, name, None), "admin_order_field", None)
    for key in (name, f"{name}__name", order_field):
        if key and key in sortable:
            return key
    return None


def columns_for(model: type[Model], names: list[str], sortable: tuple[str, ...]) -> list[Column]:
    return [Column(n, _label(model, n), _sort_key(model, n, sortable)) for n in names]
