"""What monitoring shows on the home dashboard: checks by state (each a link to the filtered check
list) and the items in the worst state."""

from __future__ import annotations

from django.db.models import Count
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.permissions import can
from opsdesk.monitoring.models import STATE_SEVERITY, Check, CheckState
from opsdesk.monitoring.views import scoped
from opsdesk.monitoring.views.overview import BY_KEY, SEVERITY, annotate_status, visible_items

TILES = (
    (CheckState.CRITICAL, gettext_lazy("Critical checks"), "bi-x-octagon"),
    (CheckState.WARNING, gettext_lazy("Warning checks"), "bi-exclamation-triangle"),
    (CheckState.UNKNOWN, gettext_lazy("Unknown checks"), "bi-question-circle"),
    (CheckState.OK, gettext_lazy("OK checks"), "bi-check-circle"),
)
WORST_ITEMS = 8


def state_url(state: str) -> str:
    """The check list filtered by state; until that list exists, the overview filtered alike."""
    try:
        return f"{reverse('monitoring:check_list')}?{urlencode({'state': state})}"
    except NoReverseMatch:
        return f"{reverse('monitoring:overview')}?{urlencode({'state': state})}"


def monitoring_widgets(request) -> list[dict]:
    user = request.user
    if not can(user, "view", ConfigurationItem):
        return []
    items = visible_items(user, None)
    checks = scoped(user, Check.objects.filter(enabled=True, configuration_item__in=items))
    by_state = dict(checks.order_by().values_list("state").annotate(n=Count("id")))
    widgets: list[dict] = [
        {"kind": "number", "title": title, "value": by_state.get(state, 0), "url": state_url(state), "icon": icon}
        for state, title, icon in TILES
    ]
    failing = (annotate_status(items.select_related("customer"))
               .filter(worst__gte=STATE_SEVERITY[CheckState.WARNING])[:WORST_ITEMS])
    rows = []
    for item in failing:
        state = next(s for s, rank in SEVERITY.items() if rank == item.worst)
        counts = ", ".join(f"{BY_KEY[s].label} {getattr(item, f'n_{s}')}"
                           for s in (CheckState.CRITICAL, CheckState.UNKNOWN, CheckState.WARNING)
                           if getattr(item, f"n_{s}"))
        rows.append({"label": item.name, "url": reverse("cmdb:configurationitem_detail", args=[item.pk]),
                     "note": f"{item.customer.name} · {counts}" if user.is_staff_role else counts,
                     "level": BY_KEY[state].style})
    overview_url = reverse("monitoring:overview")
    widgets.append({
        "kind": "list", "id": "monitoring-worst-items", "title": _("Items with failing checks"), "rows": rows,
        "empty": _("No check is failing.") if by_state else _("Nothing is checked yet: apply a monitoring template "
                                                              "to the items."),
        "more": {"url": overview_url, "label": _("Status overview")}})
    return widgets
