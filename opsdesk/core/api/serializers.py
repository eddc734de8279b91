"""Serializers: scoped related fields, generated per registered model unless one is declared."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from opsdesk.core import registry
from opsdesk.core.scoping import scope_for


class ScopedModelSerializer(serializers.ModelSerializer):
    """Related fields accept only objects the requesting person may see; model validation
    (clean()) runs too, so the API refuses what the form refuses."""

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

    def validate(self, attrs):
        attrs = super().validate(attrs)
        instance = self.instance or self.Meta.model()
        m2m = {}
        for name, value in attrs.items():
            field = self.Meta.model._meta.get_field(name) if name in self._model_field_names() else None
            if field is not None and field.many_to_many:
                m2m[name] = value
                continue
            setattr(instance, name, value)
        try:
            instance.full_clean(exclude=self._clean_exclude(), validate_unique=True)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        return attrs

    def _model_field_names(self) -> set[str]:
        return {f.name for f in self.Meta.model._meta.get_fields()}

    def _clean_exclude(self) -> list[str]:
        # Fields the serializer does not write (read-only, secrets set by services) are not
        # validated here.
        # Declared fields (passwords, secrets) are applied by the serializer itself, not by assignment.
        writable = {n for n, f in self.fields.items() if not f.read_only and n not in self._declared_fields}
        return [f.name for f in self.Meta.model._meta.concrete_fields if f.name not in writable]


def serializer_for(entry: registry.ModelEntry) -> type[ScopedModelSerializer]:
    if entry.serializer is not None:
        return entry.serializer
    model = entry.model
    meta = type("Meta", (), {"model": model, "fields": "__all__",
                              "read_only_fields": ["created_at", "updated_at"]})
    return type(f"{model.__name__}Serializer", (ScopedModelSerializer,), {"Meta": meta})
