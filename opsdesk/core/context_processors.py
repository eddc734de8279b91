"""Navigation: the areas of opsdesk, with what this person may open in each."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry
from opsdesk.core.permissions import STAFF, can

# Areas not built yet are listed so people see where things will be; they open a short page.
AREAS = [
    ("customers", _("Customers"), "bi-building"),
    ("cmdb", _("Configuration"), "bi-hdd-network"),
    ("monitoring", _("Monitoring"), "bi-activity"),
    ("alerts", _("Alerts & on-call"), "bi-bell"),
    ("servicedesk", _("Service desk"), "bi-life-preserver"),
    ("operations", _("Inspections & backups"), "bi-clipboard-check"),
    ("changes", _("Changes & patches"), "bi-arrow-repeat"),
    ("reports", _("Reports"), "bi-graph-up"),
    ("admin", _("Administration"), "bi-gear"),
]

def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    role = user.role
    menu = []
    for key, label, icon in AREAS:
        items = []
        for entry in registry.entries():
            if entry.menu == key and can(user, "view", entry.model):
                items.append({"label": entry.model._meta.verbose_name_plural,
                              "url": reverse(entry.url_name("list"))})
        for link in registry.registry["navigation"]:
            if link.area == key and role in link.roles:
                try:
                    items.append({"label": link.label, "url": reverse(link.url_name)})
                except NoReverseMatch:
                    continue
        if not items and key not in ("admin",) and role in STAFF:
            items.append({"label": _("Coming soon"), "url": reverse("coming", args=[key]), "soon": True})
        if items:
            menu.append({"key": key, "label": label, "icon": icon, "items": items})
    return {"nav_menu": menu}
