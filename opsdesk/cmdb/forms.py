from __future__ import annotations

import json
from typing import Any

from django import forms
from django.forms.fields import InvalidJSONInput
from django.utils.translation import gettext_lazy as _

from opsdesk.cmdb.attributes import ORDER, form_fields, ordered_properties, with_order
from opsdesk.cmdb.models import CIKind, ConfigurationItem, Relation
from opsdesk.core.generic.forms import ScopedModelForm, rerender_on_change, style_widgets
from opsdesk.core.scoping import scope_for


class ConfigurationItemForm(ScopedModelForm):
    """The attribute fields follow the chosen kind's schema; choosing another kind re-renders
    them (htmx on the kind select)."""

    class Meta:
        model = ConfigurationItem
        fields = ["customer", "name", "kind", "site", "status", "criticality", "owner_team", "description"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Not `self.kind`: in a template `form.kind` is the kind field.
        self.chosen_kind = self._chosen_kind()
        self.attribute_names: list[str] = []
        if self.chosen_kind is not None:
            extra = form_fields(self.chosen_kind.attribute_schema or {})
            current = self.instance.attributes or {}
            for name, field in extra.items():
                key = name.removeprefix("attr_")
                if key in current:
                    field.initial = current[key]
                self.fields[name] = field
                self.attribute_names.append(name)
            style_widgets(self)
        rerender_on_change(self.fields["kind"], "attribute-fields")

    def _chosen_kind(self) -> CIKind | None:
        raw = self.data.get("kind") if self.is_bound else self.initial.get("kind")
        if raw:
            try:
                return CIKind.objects.filter(pk=int(raw)).first()
            except (TypeError, ValueError):
                return None
        return self.instance.kind if self.instance.kind_id else None

    extra_template = "cmdb/_attribute_fieldset.html"

    def extra_field_names(self) -> set[str]:
        return set(self.attribute_names)

    def attribute_fields(self):
        return [self[name] for name in self.attribute_names]

    def clean(self):
        cleaned = super().clean()
        site, customer = cleaned.get("site"), cleaned.get("customer")
        if site and customer and site.customer_id != customer.pk:
            self.add_error("site", _("The site belongs to another customer."))
        attributes = {}
        for name in self.attribute_names:
            value = cleaned.get(name)
            if value not in (None, ""):
                attributes[name.removeprefix("attr_")] = value
        self.instance.attributes = attributes
        return cleaned

    def service_data(self) -> dict:
        return {**super().service_data(), "attributes": self.instance.attributes}

    def _update_errors(self, errors) -> None:
        # Model.clean() reports attribute problems under "attributes" as "key: message"; show each
        # on its own field (the form has no "attributes" field).
        if hasattr(errors, "error_dict") and "attributes" in errors.error_dict:
            for error in errors.error_dict.pop("attributes"):
                for message in error.messages:
                    key, sep, text = message.partition(": ")
                    name = f"attr_{key}"
                    if name in self.errors:
                        continue  # the field already says what is wrong (e.g. required)
                    self.add_error(name if sep and name in self.fields else None, text if sep else message)
            if not errors.error_dict:
                return
        super()._update_errors(errors)


def _order_can_be_written(schema: Any) -> bool:
    """A schema with properties whose `x-order`, if any, lists only keys of them."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return False
    listed = schema.get(ORDER, [])
    return isinstance(listed, list) and all(isinstance(k, str) and k in schema["properties"] for k in listed)


class AttributeSchemaField(forms.JSONField):
    """The schema as the administrator edits it: properties written in the kind's order and no
    `x-order` (the order they are typed in is the order; the form writes `x-order` from it)."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        if _order_can_be_written(value):
            # The stored `x-order`, or (text sent back with an error) the order it was typed in.
            ordered = dict(ordered_properties(with_order(value)))
            value = {k: ordered if k == "properties" else v for k, v in value.items() if k != ORDER}
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class CIKindForm(ScopedModelForm):
    """An administrator's kind. PostgreSQL's jsonb does not keep the order of the properties, so
    the order in which they were typed is written into the schema as `x-order` (attributes.py)."""

    attribute_schema = AttributeSchemaField(
        label=_("attribute schema"), required=False,
        widget=forms.Textarea(attrs={"rows": 14, "class": "form-control font-monospace"}),
        help_text=_('A JSON Schema object, e.g. {"type": "object", "properties": {"ip_address": '
                    '{"type": "string", "format": "ipv4", "title": "IP address"}}, "required": []}'),
    )

    class Meta:
        model = CIKind
        fields = ["slug", "name", "icon", "description", "attribute_schema"]

    def clean_attribute_schema(self) -> Any:
        # Parsed from the typed text, so the properties are still in the typed order: capture it
        # before the database forgets it. An `x-order` typed by hand comes first, unless it is
        # malformed or names unknown keys (left as typed: the model's check then says so).
        schema = self.cleaned_data.get("attribute_schema") or {}
        return with_order(schema) if _order_can_be_written(schema) else schema


class RelationForm(ScopedModelForm):
    class Meta:
        model = Relation
        fields = ["source", "type", "target", "note"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        items = scope_for(self.user, ConfigurationItem.objects.select_related("customer"))
        source = self._source(items)
        for name in ("source", "target"):
            # Once the source is known, only items of its customer can be the other end: the
            # list offers nothing that would fail on saving.
            self.fields[name].queryset = items.filter(customer_id=source.customer_id) if source else items
            self.fields[name].label_from_instance = lambda ci: f"{ci.name} ({ci.customer.code})"

    def _source(self, items) -> ConfigurationItem | None:
        raw = self.data.get("source") if self.is_bound else self.initial.get("source")
        if self.instance.pk and not raw:
            return self.instance.source
        if raw and str(raw).isdigit() and len(str(raw)) <= 18:
            return items.filter(pk=int(raw)).first()
        return None
