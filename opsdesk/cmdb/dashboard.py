"""What the CMDB shows on the home dashboard: how many items, which are critical, which have
nobody responsible, and the estate by kind and criticality."""

from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext as _

from opsdesk.cmdb.models import ConfigurationItem, Criticality
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for


def cmdb_widgets(request) -> list[dict]:
    if not can(request.user, "view", ConfigurationItem):
        return []
    items = scope_for(request.user, ConfigurationItem.objects.all())
    by_kind = list(items.values("kind__name", "kind__builtin").annotate(n=Count("id")).order_by("-n")[:12])
    by_criticality = dict(items.values_list("criticality").annotate(n=Count("id")))
    labels = dict(Criticality.choices)
    list_url = reverse("cmdb:configurationitem_list")
    orphans_url = f"{list_url}?owner_team__isnull=true&status=active"
    widgets = [
        {"kind": "number", "title": _("Configuration items"), "value": items.count(), "url": list_url,
         "icon": "bi-hdd-network"},
        {"kind": "number", "title": _("Critical items"), "value": by_criticality.get("critical", 0),
         "url": f"{list_url}?criticality=critical", "icon": "bi-exclamation-octagon"},
    ]
    if request.user.is_staff_role:
        orphans = items.filter(owner_team__isnull=True, status="active").select_related("customer")
        count = orphans.count()
        widgets.append({"kind": "number", "title": _("Items without an owner team"), "value": count,
                        "url": orphans_url, "icon": "bi-person-x"})
        widgets.append({
            "kind": "list", "id": "items-without-owner", "title": _("Active items without an owner team"),
            "rows": [{"label": f"{ci.name}", "note": str(ci.customer),
                      "url": reverse("cmdb:configurationitem_detail", args=[ci.pk])}
                     for ci in orphans.order_by("-criticality", "name")[:8]],
            "empty": _("Every active item has an owner team."),
            "more": {"url": orphans_url, "label": _("All of them (%(count)d)") % {"count": count}}
            if count > 8 else None})
    widgets += [
        {"kind": "chart", "id": "ci-by-kind", "title": _("Items by kind"), "chart": {
            "type": "bar",
            # Built-in kind names are translated; a kind an administrator named is shown as named.
            "labels": [str(_(k["kind__name"]) if k["kind__builtin"] else k["kind__name"]) or "—" for k in by_kind],
            "values": [k["n"] for k in by_kind]}},
        {"kind": "chart", "id": "ci-by-criticality", "title": _("Items by criticality"), "chart": {
            "type": "pie",
            "labels": [str(labels[c]) for c in Criticality.values],
            "values": [by_criticality.get(c, 0) for c in Criticality.values]}},
    ]
    return widgets
