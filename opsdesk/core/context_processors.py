"""Navigation: the areas of opsdesk, with what this person may open in each."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry

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

# Extra links that are not generic model lists: (area, url name, label, roles).
EXTRA_LINKS: list[tuple[str, str, object, frozenset[str]]] = []


def add_link(area: str, url_name: str, label, roles=registry.STAFF) -> None:
    EXTRA_LINKS.append((area, url_name, label, frozenset(roles)))


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    role = user.role
    menu = []
    for key, label, icon in AREAS:
        items = []
        for entry in registry.entries():
            if entry.menu == key and role in entry.view_roles:
                items.append({"label": entry.model._meta.verbose_name_plural,
                              "url": reverse(entry.url_name("list"))})
        for area, url_name, link_label, roles in EXTRA_LINKS:
            if area == key and role in roles:
                try:
                    items.append({"label": link_label, "url": reverse(url_name)})
                except NoReverseMatch:
                    continue
        if not items and key not in ("admin",) and role in registry.STAFF:
            items.append({"label": _("Coming soon"), "url": reverse("coming", args=[key]), "soon": True})
        if items:
            menu.append({"key": key, "label": label, "icon": icon, "items": items})
    return {"nav_menu": menu}
