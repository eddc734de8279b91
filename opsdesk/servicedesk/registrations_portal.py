"""The portal in the registry: the customer users' navigation links and their home panel."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from opsdesk.core import registry
from opsdesk.core.permissions import CUSTOMER
from opsdesk.core.scoping import scope_for
from opsdesk.servicedesk.models import Ticket, TicketStatus
from opsdesk.servicedesk.models.tickets import OPEN_STATUSES

CUSTOMERS = frozenset({CUSTOMER})

registry.add_nav_link("servicedesk", "servicedesk:portal_list", gettext_lazy("My requests"), roles=CUSTOMERS)
registry.add_nav_link("servicedesk", "servicedesk:portal_new", gettext_lazy("New request"), roles=CUSTOMERS)


def customer_home(request) -> list[dict]:
    """A customer user's home: their open requests, those waiting for them, the latest ones."""
    from opsdesk.servicedesk.portal.timeline import status_words

    if getattr(request.user, "role", None) != CUSTOMER:
        return []
    tickets = scope_for(request.user, Ticket.objects.all())
    portal = reverse("servicedesk:portal_list")
    latest = tickets.order_by("-updated_at", "-id")[:8]
    return [
        {"kind": "number", "title": _("Open requests"), "icon": "bi-life-preserver",
         "value": tickets.filter(status__in=OPEN_STATUSES).count(), "url": f"{portal}?state=open"},
        {"kind": "number", "title": _("Waiting for my answer"), "icon": "bi-hourglass-split",
         "value": tickets.filter(status=TicketStatus.WAITING_CUSTOMER).count(), "url": f"{portal}?state=waiting"},
        {"kind": "list", "id": "portal-latest", "title": _("My requests"),
         "rows": [{"label": f"#{t.pk} {t.title}", "note": status_words(t.status),
                   "url": reverse("servicedesk:portal_detail", args=[t.pk])} for t in latest],
         "empty": _("No requests yet: “New request” is how to ask the service desk for help."),
         "more": {"url": reverse("servicedesk:portal_new"), "label": _("New request")}},
    ]


registry.add_dashboard_panel("servicedesk-portal", customer_home, order=5)
