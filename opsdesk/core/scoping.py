"""The one function that decides what a person may see.

Every list, detail, search, export and API query that serves a person passes its queryset
through `scope_for(user, queryset)`. Staff (administrators, service managers, engineers) see every
customer; a customer user sees only rows whose tenant path leads to their own customer, and
nothing of models that are not customer-owned unless the model is registered as shared.
"""

from __future__ import annotations

from django.db.models import Model, QuerySet

from opsdesk.core import registry


def scope_for(user, queryset: QuerySet) -> QuerySet:
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if getattr(user, "is_staff_role", False):
        return queryset
    entry = registry.find(queryset.model)
    customer_id = getattr(user, "customer_id", None)
    if entry is None or customer_id is None:
        return queryset.none()
    if entry.tenant_path is None:
        return queryset if entry.shared_with_customers else queryset.none()
    return queryset.filter(**{entry.tenant_path: customer_id})


def scoped(user, model: type[Model]) -> QuerySet:
    return scope_for(user, model._default_manager.all())


def customer_of(obj: Model):
    """The customer a customer-owned object belongs to (None for shared objects)."""
    entry = registry.find(type(obj))
    if entry is None or entry.tenant_path is None:
        return None
    if entry.tenant_path == "pk":
        return obj
    target = obj
    for part in entry.tenant_path.split("__"):
        target = getattr(target, part)
        if target is None:
            return None
    return target
