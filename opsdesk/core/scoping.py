"""The one function that decides what a person may see.

Every list, detail, search, export and API query that serves a person passes its queryset
through `scope_for(user, queryset, action)`. Administrators and service managers see every
customer; an engineer sees the customers their teams serve (all of them when
OPSDESK_ENGINEERS_SEE_ALL_CUSTOMERS is on, for a small team); a customer user sees only their
own customer, and nothing of models no customer owns unless the model is shared with customers.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Model, Q, QuerySet

from opsdesk.core import registry
from opsdesk.core.permissions import CUSTOMER, ENGINEER, STAFF, is_active_user

# Cached on the user object for the request: one query, however many lists a page shows.
_CACHE_ATTR = "_opsdesk_customer_ids"


def customer_ids(user) -> frozenset[int] | None:
    """The ids of the customers `user` may reach, or None for all of them."""
    role = getattr(user, "role", None)
    if role == CUSTOMER:
        return frozenset({user.customer_id}) if user.customer_id else frozenset()
    if role in STAFF and (role != ENGINEER or settings.OPSDESK_ENGINEERS_SEE_ALL_CUSTOMERS):
        return None
    if role != ENGINEER:
        return frozenset()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        from opsdesk.core.models import Customer

        cached = frozenset(Customer.objects.filter(teams__members=user).values_list("pk", flat=True))
        setattr(user, _CACHE_ATTR, cached)
    return cached


def scope_for(user, queryset: QuerySet, action: str = "view") -> QuerySet:
    """The rows of `queryset` that `user` may `action` ("view" unless given)."""
    if not is_active_user(user):
        return queryset.none()
    entry = registry.find(queryset.model)
    role = getattr(user, "role", None)
    if entry is None:
        # Not registered (internal rows): staff only, and only customer-neutral data.
        return queryset if role in STAFF else queryset.none()
    if role not in entry.roles_for(action):
        return queryset.none()
    if entry.narrow is not None:
        queryset = entry.narrow(user, queryset)
    if entry.tenant_path is None:
        if role == CUSTOMER and not (entry.shared_with_customers and action == "view"):
            return queryset.none()
        return queryset
    ids = customer_ids(user)
    if ids is None:
        return queryset
    condition = Q(**{f"{entry.tenant_path}__in": ids})
    if entry.tenant_optional and role in STAFF:
        condition |= Q(**{f"{entry.tenant_path}__isnull": True})
    return queryset.filter(condition)


def tenant_id(obj: Model) -> int | None:
    """The id of the customer an object belongs to, read from the object as it is in memory
    (so a change not yet saved is judged by its new customer). None for shared objects."""
    entry = registry.find(type(obj))
    if entry is None or entry.tenant_path is None:
        return None
    if entry.tenant_path == "pk":
        return obj.pk
    *path, last = entry.tenant_path.split("__")
    target = obj
    for part in path:
        target = getattr(target, part, None)
        if target is None:
            return None
    return getattr(target, f"{last}_id", None)


def object_in_scope(user, obj: Model, *, write: bool = False) -> bool:
    """Is one object within the customers `user` may reach? (Roles are checked by `can`.)"""
    entry = registry.find(type(obj))
    role = getattr(user, "role", None)
    if entry is None:
        return role in STAFF
    if entry.narrow is not None and obj.pk is not None \
            and not entry.narrow(user, type(obj)._default_manager.filter(pk=obj.pk)).exists():
        return False
    if entry.tenant_path is None:
        return role in STAFF or (entry.shared_with_customers and not write)
    ids = customer_ids(user)
    if ids is None:
        return True
    owner = tenant_id(obj)
    if owner is None:
        # A new object with no customer yet: the model's own validation names the field.
        return entry.tenant_optional and role in STAFF or obj.pk is None
    return owner in ids


def scope_log(user, entries: QuerySet) -> QuerySet:
    """Audit log entries about objects `user` may see. Administrators and managers read the
    whole log; an engineer only what concerns the customers their teams serve (plus shared
    objects and their own changes); customer users none (the log names people across customers)."""
    from django.contrib.contenttypes.models import ContentType

    role = getattr(user, "role", None)
    if not is_active_user(user) or role not in STAFF:
        return entries.none()
    if customer_ids(user) is None:
        return entries
    visible = Q(actor_id=user.pk)
    for entry in registry.entries():
        content_type = ContentType.objects.get_for_model(entry.model)
        if entry.tenant_path is None:
            visible |= Q(content_type=content_type)
        else:
            ids = scope_for(user, entry.model._default_manager.all()).values("pk")
            visible |= Q(content_type=content_type, object_id__in=ids)
    return entries.filter(visible)
