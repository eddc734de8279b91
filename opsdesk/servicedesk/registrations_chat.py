"""Chat intake in the registry: the integrations (managers set them up; secrets write-only; a new
callback URL as an action), the groups (staff assign a group to its customer and set its group
robot), the messages received and the messages sent (read-only logs), the vendors' callback URL
under /api/, and the listener that sends the desk's replies back to the groups."""

from __future__ import annotations

import django_filters
from auditlog.registry import auditlog
from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry
from opsdesk.core.generic.filters import ScopedFilterSet
from opsdesk.core.models import Customer
from opsdesk.core.permissions import MANAGERS, STAFF
from opsdesk.core.registry import Action, ModelEntry
from opsdesk.servicedesk import urls_chat
from opsdesk.servicedesk.chat import replies, services, tasks  # noqa: F401  (the listener and the tasks)
from opsdesk.servicedesk.chat.api import ChatIntegrationSerializer, ChatMessageSerializer
from opsdesk.servicedesk.chat.forms import AssignCustomerForm, ChatGroupForm, ChatIntegrationForm
from opsdesk.servicedesk.models.chat import ChatGroup, ChatIntegration, ChatMessage, ChatOutbox

NOBODY: frozenset[str] = frozenset()


class ChatMessageFilterSet(ScopedFilterSet):
    customer = django_filters.ModelChoiceFilter(field_name="group__customer", queryset=Customer.objects.all(),
                                                label=_("customer"))

    class Meta:
        model = ChatMessage
        fields = ["customer", "group", "state"]


class ChatOutboxFilterSet(ScopedFilterSet):
    customer = django_filters.ModelChoiceFilter(field_name="group__customer", queryset=Customer.objects.all(),
                                                label=_("customer"))

    class Meta:
        model = ChatOutbox
        fields = ["customer", "group", "state"]

registry.register(ModelEntry(
    # Empty customer: new groups wait for staff to choose theirs; seen by staff only either way.
    ChatIntegration, tenant_path="customer", tenant_optional=True, menu="servicedesk", view_roles=STAFF,
    edit_roles=MANAGERS, form=ChatIntegrationForm, serializer=ChatIntegrationSerializer,
    create=services.create_integration, update=services.update_integration,
    columns=["name", "kind", "customer", "language", "enabled"], search_fields=["name"],
    select_related=("customer",), url_slug="chatintegrations", detail_exclude=("secrets_encrypted",),
    actions=[Action("new_token", _("New callback URL"), services.new_token, roles=MANAGERS, icon="bi-key",
                    confirm=_("The current callback URL stops working at once: enter the new one in the vendor's "
                              "console."))],
))
registry.register(ModelEntry(
    # Unassigned groups (no customer yet) are shared among staff, who assign them.
    ChatGroup, tenant_path="customer", tenant_optional=True, menu="servicedesk", view_roles=STAFF, edit_roles=STAFF,
    form=ChatGroupForm, creatable=False, roles={"delete": MANAGERS},
    columns=["title", "integration", "customer", "open_ticket", "notify_channel", "updated_at"],
    search_fields=["title", "conversation_id"], select_related=("integration", "customer", "open_ticket"),
    readonly_fields=("integration", "customer", "open_ticket"), url_slug="chatgroups",
    actions=[Action("assign_customer", _("Assign to a customer"),
                    lambda group, *, actor, customer: services.assign_customer(group, actor=actor, customer=customer),
                    roles=STAFF, icon="bi-building", form=AssignCustomerForm)],
))
registry.register(ModelEntry(
    # Written by the intake only.
    ChatMessage, tenant_path="group__customer", tenant_optional=True, view_roles=STAFF, edit_roles=NOBODY,
    creatable=False, serializer=ChatMessageSerializer, url_slug="chatmessages",
    columns=["text", "group", "sender_name", "state", "ticket", "received_at"], search_fields=["text", "sender_name"],
    select_related=("group", "ticket"), detail_exclude=("signature", "reply_url_encrypted"),
    filterset=ChatMessageFilterSet,
))
registry.register(ModelEntry(
    # Written by the intake and the desk's replies, settled by the outbox's sender.
    ChatOutbox, tenant_path="group__customer", tenant_optional=True, view_roles=STAFF, edit_roles=NOBODY,
    creatable=False, url_slug="chatoutbox",
    columns=["text", "group", "ticket", "state", "attempts", "created_at", "sent_at", "last_error"],
    search_fields=["text", "key"], select_related=("group", "ticket"), filterset=ChatOutboxFilterSet,
))
registry.add_api_urls(urls_chat.urlpatterns)

# The audit log: settings and state, never the secrets, the callback URL's token or the bookkeeping.
auditlog.register(ChatIntegration, include_fields=["name", "kind", "customer", "config", "language", "enabled"])
# The customer is audited by the "assign to a customer" action itself (one row per action).
auditlog.register(ChatGroup, include_fields=["title", "notify_channel", "language"])
