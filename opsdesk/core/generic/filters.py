"""FilterSets shared by the HTML list and the API (one FilterSet per model, as NetBox does)."""

from __future__ import annotations

from functools import reduce
from operator import or_

import django_filters
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry
from opsdesk.core.scoping import scope_for


class ScopedFilterSet(django_filters.FilterSet):
    """A FilterSet with a free-text `q` over the registered search fields, whose related-object
    choices are scoped to what the requesting person may see."""

    q = django_filters.CharFilter(method="search", label=_("Search"))
    search_fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None) -> None:
        super().__init__(data=data, queryset=queryset, request=request, prefix=prefix)
        user = getattr(request, "user", None)
        for flt in self.filters.values():
            # django-filter builds the form field from `flt.queryset` (copied into extra), so
            # both must be scoped, or the dropdowns list other customers' names.
            if isinstance(getattr(flt, "queryset", None), models.QuerySet):
                flt.queryset = scope_for(user, flt.queryset)
            qs = flt.extra.get("queryset")
            if isinstance(qs, models.QuerySet):
                flt.extra["queryset"] = scope_for(user, qs)

    def search(self, queryset, name, value: str):
        value = value.strip()
        fields = self.search_fields or registry.get(queryset.model).search_fields
        if not value or not fields:
            return queryset
        return queryset.filter(reduce(or_, (Q(**{f"{f}__icontains": value}) for f in fields)))


FILTERABLE = (models.ForeignKey, models.BooleanField)


def auto_fields(model) -> list[str]:
    names = []
    for f in model._meta.get_fields():
        if not getattr(f, "concrete", False) or f.auto_created and not f.primary_key:
            continue
        if isinstance(f, FILTERABLE) or getattr(f, "choices", None):
            names.append(f.name)
    return names


def filterset_for(entry: registry.ModelEntry) -> type[ScopedFilterSet]:
    if entry.filterset is not None:
        return entry.filterset
    meta = type("Meta", (), {"model": entry.model, "fields": auto_fields(entry.model)})
    return type(f"{entry.model.__name__}FilterSet", (ScopedFilterSet,),
                {"Meta": meta, "search_fields": entry.search_fields})
