"""The relation graph page and the JSON it draws from."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from opsdesk.cmdb import services
from opsdesk.cmdb.models import ConfigurationItem, Relation
from opsdesk.core.models import Customer
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for


@login_required
def graph_page(request):
    customers = scope_for(request.user, Customer.objects.all()).order_by("name", "code")
    raw = str(request.GET.get("customer", ""))
    selected = customers.filter(pk=raw).first() if raw.isdigit() else None
    if selected is None:
        selected = customers.first()
    context = {"customers": customers, "selected": selected}
    if selected is not None:
        # What the page says instead of (or above) an empty canvas, and where to go from there.
        items = scope_for(request.user, ConfigurationItem.objects.filter(customer=selected)).count()
        relations = scope_for(request.user, Relation.objects.filter(customer=selected)).count() if items else 0
        context.update(item_count=items, relation_count=relations,
                       truncated=items > services.GRAPH_NODE_LIMIT, node_limit=services.GRAPH_NODE_LIMIT)
        if can(request.user, "add", ConfigurationItem):
            context["add_item_url"] = f"{reverse('cmdb:configurationitem_add')}?customer={selected.pk}"
            context["import_url"] = reverse("cmdb:import")
        if can(request.user, "add", Relation):
            context["add_relation_url"] = reverse("cmdb:relation_add")
    return render(request, "cmdb/graph.html", context)


@login_required
def graph_json(request):
    item_id, customer_id = request.GET.get("item", ""), request.GET.get("customer", "")
    try:
        depth = int(request.GET.get("depth", 2))
    except ValueError:
        depth = 2
    if item_id.isdigit():
        item = get_object_or_404(scope_for(request.user, ConfigurationItem.objects.all()), pk=item_id)
        return JsonResponse(services.graph(request.user, item=item, depth=depth))
    if customer_id.isdigit():
        customer = get_object_or_404(scope_for(request.user, Customer.objects.all()), pk=customer_id)
        return JsonResponse(services.graph(request.user, customer_id=customer.pk))
    raise Http404
