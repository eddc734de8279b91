"""Serializers: explicit field lists, scoped related fields, generated per registered model
unless one is declared. They only validate the shape of the input; the domain services do the
model's own validation and the write, as they do for forms."""

from __future__ import annotations

from typing import Any

from django import forms
from rest_framework import serializers

from opsdesk.core import registry
from opsdesk.core.scoping import scope_for

# Never in an API answer or writable through one: secrets and fields the role decides.
HIDDEN_FIELDS = {"password", "key_hash", "secret_encrypted", "secrets_encrypted", "limit_key",
                 "is_staff", "is_superuser", "groups",
                 "user_permissions", "content"}


class ScopedModelSerializer(serializers.ModelSerializer):
    """Related fields accept only objects the requesting person may see."""

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        for f in fields.values():
            target = getattr(f, "child_relation", f)
            qs = getattr(target, "queryset", None)
            if qs is not None:
                target.queryset = scope_for(user, qs)
        return fields

    def service_data(self) -> dict[str, Any]:
        return dict(self.validated_data)


def model_field_names(entry: registry.ModelEntry) -> tuple[list[str], list[str]]:
    """(fields, read-only fields) of the generated serializer, listed explicitly."""
    model = entry.model
    names, read_only = ["id"], []
    for f in [*model._meta.concrete_fields, *model._meta.many_to_many]:
        if f.primary_key or f.name in HIDDEN_FIELDS:
            continue
        names.append(f.name)
        if not f.editable or f.name in entry.readonly_fields or f.name in ("created_at", "updated_at"):
            read_only.append(f.name)
    return names, read_only


def serializer_for(entry: registry.ModelEntry) -> type[ScopedModelSerializer]:
    if entry.serializer is not None:
        return entry.serializer
    names, read_only = model_field_names(entry)
    meta = type("Meta", (), {"model": entry.model, "fields": [*names, *entry.shown_once],
                             "read_only_fields": read_only})
    # Absent from the object (every answer but the one that made it): left out of the JSON.
    once = {name: serializers.CharField(read_only=True, required=False,
                                        help_text="Only in the answer that made it; never shown again.")
            for name in entry.shown_once}
    return type(f"{entry.model.__name__}Serializer", (ScopedModelSerializer,), {"Meta": meta, **once})


_FORM_TO_SERIALIZER = [
    (forms.BooleanField, lambda f: serializers.BooleanField(required=False)),
    (forms.IntegerField, lambda f: serializers.IntegerField(required=f.required)),
    (forms.DateTimeField, lambda f: serializers.DateTimeField(required=f.required)),
    (forms.DateField, lambda f: serializers.DateField(required=f.required)),
    # An object by its id (the form checks it exists); before ChoiceField, whose choices would
    # be read from the database when the URLs load.
    (forms.ModelChoiceField, lambda f: serializers.IntegerField(required=f.required, allow_null=not f.required)),
    (forms.ChoiceField, lambda f: serializers.ChoiceField(choices=f.choices, required=f.required)),
    (forms.CharField, lambda f: serializers.CharField(required=f.required, allow_blank=not f.required)),
]


def action_serializer(entry: registry.ModelEntry, action: registry.Action) -> type[serializers.Serializer]:
    """The request body of a named action in the API, from the fields of its form (one
    declaration for both); the form still does the validation."""
    attrs: dict[str, Any] = {}
    if action.form is not None:
        for name, field in action.form.base_fields.items():
            for form_class, make in _FORM_TO_SERIALIZER:
                if isinstance(field, form_class):
                    attrs[name] = make(field)
                    break
    return type(f"{entry.model.__name__}{action.name.title().replace('_', '')}Serializer",
                (serializers.Serializer,), attrs)
