"""The relation graph page and the JSON it draws from."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render

from opsdesk.cmdb import services
from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.models import Customer
from opsdesk.core.scoping import scope_for


@login_required
def graph_page(request):
    customers = scope_for(request.user, Customer.objects.all())
    selected = customers.filter(pk=request.GET.get("customer") or 0).first() if \
        str(request.GET.get("customer", "")).isdigit() else None
    if selected is None:
        selected = customers.first()
    return render(request, "cmdb/graph.html", {"customers": customers, "selected": selected})


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
