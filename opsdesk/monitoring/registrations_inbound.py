"""Inbound integrations in the registry (staff only, per customer; made with their token shown
once, a new token as an action) and the endpoints their senders call."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry
from opsdesk.core.permissions import STAFF
from opsdesk.core.registry import Action, ModelEntry
from opsdesk.monitoring.inbound import pages, services
from opsdesk.monitoring.inbound.views import inbound_urls
from opsdesk.monitoring.models import InboundIntegration

registry.register(ModelEntry(
    InboundIntegration, tenant_path="customer", menu="monitoring", view_roles=STAFF, edit_roles=STAFF,
    columns=["name", "customer", "kind", "configuration_item", "severity", "last_ping_at", "enabled"],
    search_fields=["name"], select_related=("customer", "configuration_item"),
    create=services.create_integration, update=services.update_integration, shown_once=("raw_token",),
    views={"add": pages.InboundEditView, "action": pages.InboundActionView, "detail": pages.InboundDetailView},
    detail_template="monitoring/inbound_detail.html", detail_context=pages.detail_context,
    actions=[Action("new_token", _("New token"), services.new_token, roles=STAFF, icon="bi-key",
                    confirm=_("The current token stops working at once: the sender needs the new one."))],
))
registry.add_api_urls(inbound_urls())
