"""Monitoring's own pages (the generic list and detail pages come from the registry): the status
overview per customer and the busiest items. What both share: which customer the page shows."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from opsdesk.core import registry
from opsdesk.core.models import Customer
from opsdesk.core.permissions import CUSTOMER
from opsdesk.core.scoping import customer_ids, scope_for


def scoped(user, queryset: QuerySet) -> QuerySet:
    """`scope_for` where the model is registered; otherwise (monitoring rows the registry does
    not know yet) the rows of the customers the person reaches, by their `customer` field."""
    if registry.find(queryset.model) is not None:
        return scope_for(user, queryset)
    ids = customer_ids(user)
    return queryset if ids is None else queryset.filter(customer_id__in=ids)


def chosen_customer(request) -> tuple[QuerySet, Customer | None]:
    """The customers the person may choose from and the one the page shows (None: all of them).

    `?customer=<id>` picks one; an id the person may not see answers 404, as an object of another
    customer does everywhere. A customer user always sees their own customer, with nothing to
    choose."""
    user = request.user
    customers = scope_for(user, Customer.objects.all()).order_by("name", "code")
    raw = str(request.GET.get("customer", "")).strip()
    if getattr(user, "role", None) == CUSTOMER:
        if raw and raw != str(user.customer_id):
            raise Http404
        return customers.none(), customers.filter(pk=user.customer_id).first()
    if not raw:
        return customers, None
    selected = customers.filter(pk=raw).first() if raw.isdigit() else None
    if selected is None:
        raise Http404
    return customers, selected
