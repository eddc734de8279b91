"""One viewset serves every registered model: scoped queryset, its FilterSet, its serializer,
writes through the domain services, and each named action of the registry entry as
`POST /api/<app>/<slug>/<id>/<action>/`."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action as drf_action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from opsdesk.core import registry, services
from opsdesk.core.api.serializers import action_serializer, serializer_for
from opsdesk.core.generic.filters import filterset_for
from opsdesk.core.scoping import scope_for


class ObjectViewSet(viewsets.ModelViewSet):
    entry: registry.ModelEntry
    # Ids are 64-bit: a longer number is no id, and would overflow the database driver.
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        qs = self.entry.model._default_manager.all()
        if self.entry.select_related:
            qs = qs.select_related(*self.entry.select_related)
        if self.entry.prefetch_related:
            qs = qs.prefetch_related(*self.entry.prefetch_related)
        # Every object the person may see can be looked up; whether they may change it is the
        # permission's answer (403), so another customer's object stays 404.
        return scope_for(self.request.user, qs).order_by(*self.entry.ordering)

    def perform_create(self, serializer):
        serializer.instance = services.create(self.entry.model, serializer.service_data(), actor=self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.update(serializer.instance, serializer.service_data(),
                                              actor=self.request.user)

    def perform_destroy(self, instance):
        services.delete(instance, actor=self.request.user)


def _action_handler(entry: registry.ModelEntry, act: registry.Action):
    body = action_serializer(entry, act)

    @extend_schema(request=body, responses={200: serializer_for(entry)}, summary=str(act.label))
    def handler(self, request, pk=None):
        obj = self.get_object()  # scoped lookup, then can(user, action, obj)
        if not isinstance(request.data, Mapping):  # a JSON list or number: a form reads fields by name
            raise ValidationError({"non_field_errors": [_("A JSON object is required.")]})
        form = act.form(request.data) if act.form is not None else forms.Form({})
        if not form.is_valid():
            raise ValidationError(form.errors.as_data())
        result = services.run_action(obj, act.name, actor=request.user, **form.cleaned_data)
        fresh = self.get_queryset().filter(pk=obj.pk).first() or obj
        if isinstance(result, type(obj)) and result.pk == obj.pk:
            for name in entry.shown_once:  # a new token: in this answer only
                if hasattr(result, name):
                    setattr(fresh, name, getattr(result, name))
        return Response(self.get_serializer(fresh).data)

    handler.__name__ = act.name
    return drf_action(detail=True, methods=["post"], url_path=act.name.replace("_", "-"), url_name=act.name)(handler)


def viewset_for(entry: registry.ModelEntry) -> type[ObjectViewSet]:
    attrs = {
        "entry": entry,
        "serializer_class": serializer_for(entry),
        "filterset_class": filterset_for(entry),
        "ordering_fields": list(entry.sortable),
        "filter_backends": [DjangoFilterBackend, OrderingFilter],
        "queryset": entry.model._default_manager.none(),
    }
    for act in entry.actions:
        attrs[act.name] = _action_handler(entry, act)
    return type(f"{entry.model.__name__}ViewSet", (ObjectViewSet,), attrs)
