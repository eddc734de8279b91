"""Monitoring in the registry: agents and enrolment tokens, and the agents' API routes."""

from opsdesk.core import registry
from opsdesk.core.permissions import ALL_ROLES, STAFF
from opsdesk.core.registry import ModelEntry
from opsdesk.monitoring.api.views import push_urls
from opsdesk.monitoring.models import Agent, EnrolmentToken

NOBODY: frozenset[str] = frozenset()

registry.register(ModelEntry(
    # Made by enrolment only (POST /api/monitoring/enrol/), never by the generic add.
    Agent, tenant_path="customer", menu="monitoring", view_roles=ALL_ROLES, edit_roles=STAFF,
    roles={"add": NOBODY}, creatable=False,
    columns=["name", "customer", "configuration_item", "last_seen_at", "last_seq"],
    search_fields=["name"], select_related=("customer", "configuration_item"),
))
registry.register(ModelEntry(
    # Made by monitoring.services.create_enrolment_token, which shows the raw token once.
    EnrolmentToken, tenant_path="customer", menu="monitoring", view_roles=STAFF, edit_roles=STAFF,
    roles={"add": NOBODY}, creatable=False,
    columns=["name", "customer", "expires_at", "used_at", "created_by", "created_at"],
    search_fields=["name"], select_related=("customer", "created_by"),
))

registry.add_api_urls(push_urls())
