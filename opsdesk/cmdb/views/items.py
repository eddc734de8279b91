"""What the CI detail page shows beyond the generic one."""

from __future__ import annotations

from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext as _

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.panels import add_link
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for


def ci_detail_context(request, obj: ConfigurationItem) -> dict:
    relations = scope_for(request.user, obj.relations_out.select_related("target", "target__kind"))
    incoming = scope_for(request.user, obj.relations_in.select_related("source", "source__kind"))
    from opsdesk.cmdb.models import Relation

    return {"relations_out": relations, "relations_in": incoming,
            "can_add_relation": can(request.user, "add", Relation) and can(request.user, "change", obj)}


def customer_items_panel(request, customer) -> dict | None:
    """The customer page's card of CIs: how many of each kind, with links to the list, the
    graph and the form to add one."""
    if not can(request.user, "view", ConfigurationItem):
        return None
    items = scope_for(request.user, ConfigurationItem.objects.filter(customer=customer))
    list_url = reverse("cmdb:configurationitem_list")
    kinds = [{"kind": row["kind__name"], "builtin": row["kind__builtin"], "count": row["n"],
              "url": f"{list_url}?customer={customer.pk}&kind={row['kind']}"}
             for row in items.values("kind", "kind__name", "kind__builtin").annotate(n=Count("id")).order_by("-n")]
    for row in kinds:
        row["kind"] = _(row["kind"]) if row["builtin"] else row["kind"]
    links = [{"url": f"{list_url}?customer={customer.pk}", "label": _("All items"), "icon": "bi-list"},
             {"url": f"{reverse('cmdb:graph')}?customer={customer.pk}", "label": _("Relation graph"),
              "icon": "bi-diagram-3"}]
    add = add_link(request, ConfigurationItem, _("Add item"), customer=customer)
    if add:
        links.append(add)
    return {"kinds": kinds, "total": sum(k["count"] for k in kinds), "links": links}
