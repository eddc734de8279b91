"""What the CMDB shows on the home dashboard."""

from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext as _

from opsdesk.cmdb.models import ConfigurationItem, Criticality
from opsdesk.core.models import Customer
from opsdesk.core.scoping import scope_for


def cmdb_widgets(request) -> list[dict]:
    items = scope_for(request.user, ConfigurationItem.objects.all())
    by_kind = list(items.values("kind__name", "kind__builtin").annotate(n=Count("id")).order_by("-n")[:12])
    by_criticality = dict(items.values_list("criticality").annotate(n=Count("id")))
    labels = dict(Criticality.choices)
    return [
        {"kind": "number", "title": _("Customers"), "value": scope_for(request.user, Customer.objects.all()).count(),
         "url": reverse("core:customer_list"), "icon": "bi-building"},
        {"kind": "number", "title": _("Configuration items"), "value": items.count(),
         "url": reverse("cmdb:configurationitem_list"), "icon": "bi-hdd-network"},
        {"kind": "number", "title": _("Critical items"), "value": by_criticality.get("critical", 0),
         "url": reverse("cmdb:configurationitem_list") + "?criticality=critical", "icon": "bi-exclamation-octagon"},
        {"kind": "chart", "id": "ci-by-kind", "title": _("Items by kind"), "chart": {
            "type": "bar",
            "labels": [_(k["kind__name"]) if k["kind__builtin"] else k["kind__name"] for k in by_kind],
            "values": [k["n"] for k in by_kind]}},
        {"kind": "chart", "id": "ci-by-criticality", "title": _("Items by criticality"), "chart": {
            "type": "pie",
            "labels": [str(labels[c]) for c in Criticality.values],
            "values": [by_criticality.get(c, 0) for c in Criticality.values]}},
    ]
