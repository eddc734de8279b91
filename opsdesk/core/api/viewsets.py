"""One viewset serves every registered model: scoped queryset, its FilterSet, its serializer,
and writes through the model's save/delete services."""

from __future__ import annotations

from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import viewsets
from rest_framework.filters import OrderingFilter

from opsdesk.core import registry
from opsdesk.core.api.serializers import serializer_for
from opsdesk.core.generic.filters import filterset_for
from opsdesk.core.scoping import scope_for


class ObjectViewSet(viewsets.ModelViewSet):
    entry: registry.ModelEntry

    def get_queryset(self):
        qs = self.entry.model._default_manager.all()
        if self.entry.select_related:
            qs = qs.select_related(*self.entry.select_related)
        if self.entry.prefetch_related:
            qs = qs.prefetch_related(*self.entry.prefetch_related)
        return scope_for(self.request.user, qs).order_by(*self.entry.ordering)

    def perform_create(self, serializer):
        with transaction.atomic():
            serializer.save()

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.save()

    def perform_destroy(self, instance):
        from opsdesk.core import services

        (self.entry.delete or services.delete_object)(instance, self.request.user)


def viewset_for(entry: registry.ModelEntry) -> type[ObjectViewSet]:
    ordering_fields = list(entry.sortable)
    return type(
        f"{entry.model.__name__}ViewSet",
        (ObjectViewSet,),
        {
            "entry": entry,
            "serializer_class": serializer_for(entry),
            "filterset_class": filterset_for(entry),
            "ordering_fields": ordering_fields,
            "filter_backends": [
                DjangoFilterBackend,
                OrderingFilter,
            ],
            "queryset": entry.model._default_manager.none(),
        },
    )
