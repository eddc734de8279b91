"""Notify in the registry: channels (with the "send a test message" action), people's contact
methods, and the delivery log (notifications and their attempts, read-only, scoped by customer)."""

from __future__ import annotations

import django_filters
from auditlog.registry import auditlog
from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry
from opsdesk.core.audit import register as audit
from opsdesk.core.generic.filters import ScopedFilterSet
from opsdesk.core.models import Customer
from opsdesk.core.permissions import ALL_ROLES, MANAGERS, STAFF
from opsdesk.core.registry import Action, ModelEntry
from opsdesk.notify import channel_services
from opsdesk.notify.demo import load_notify
from opsdesk.notify.forms import ChannelForm, ContactMethodForm, SendTestForm
from opsdesk.notify.models import Channel, ContactKind, ContactMethod, DeliveryAttempt, Notification
from opsdesk.notify.views.channel_api import ChannelSerializer

NOBODY: frozenset[str] = frozenset()


class ContactMethodFilterSet(ScopedFilterSet):
    customer = django_filters.ModelChoiceFilter(field_name="user__customer", queryset=Customer.objects.all(),
                                                label=_("customer"))
    kind = django_filters.ChoiceFilter(choices=ContactKind.choices, label=_("kind"))

    class Meta:
        model = ContactMethod
        fields = ["customer", "kind", "enabled"]


class DeliveryAttemptFilterSet(ScopedFilterSet):
    customer = django_filters.ModelChoiceFilter(field_name="notification__customer",
                                                queryset=Customer.objects.all(), label=_("customer"))

    class Meta:
        model = DeliveryAttempt
        fields = ["customer", "ok"]

registry.register(ModelEntry(
    # Empty customer: a channel of the service provider, seen by staff only.
    Channel, tenant_path="customer", tenant_optional=True, menu="alerts", view_roles=STAFF, edit_roles=MANAGERS,
    form=ChannelForm, serializer=ChannelSerializer,
    create=channel_services.create_channel, update=channel_services.update_channel,
    columns=["name", "customer", "kind", "enabled", "failing_since", "last_error"],
    search_fields=["name"], select_related=("customer",), readonly_fields=("failing_since", "last_error"),
    detail_exclude=("config",),
    actions=[Action("send_test", _("Send a test message"), channel_services.send_test, roles=STAFF,
                    icon="bi-send", form=SendTestForm, available=lambda c: c.enabled)],
))
registry.register(ModelEntry(
    # Everyone manages their own ways to be reached (the services refuse anyone else's), and
    # administrators everyone's; scoped by the person's customer.
    ContactMethod, tenant_path="user__customer", tenant_optional=True, menu="alerts", view_roles=ALL_ROLES,
    edit_roles=ALL_ROLES, form=ContactMethodForm,
    create=channel_services.create_contact_method, update=channel_services.update_contact_method,
    delete=channel_services.delete_contact_method,
    columns=["user", "kind", "address", "channel", "min_severity", "enabled"],
    search_fields=["address", "user__username"], select_related=("user", "channel"), filterset=ContactMethodFilterSet,
))
registry.register(ModelEntry(
    # Written by notify.services.queue and the delivery engine only.
    Notification, tenant_path="customer", tenant_optional=True, menu="alerts", view_roles=ALL_ROLES,
    edit_roles=NOBODY, creatable=False,
    columns=["title", "customer", "channel", "address", "state", "attempts", "created_at", "sent_at", "last_error"],
    sortable=("title", "state", "attempts", "created_at", "sent_at"),
    search_fields=["title", "key", "source"], select_related=("customer", "channel"),
))
registry.register(ModelEntry(
    DeliveryAttempt, tenant_path="notification__customer", tenant_optional=True, view_roles=ALL_ROLES,
    edit_roles=NOBODY, creatable=False, url_slug="deliveryattempts",
    columns=["notification", "at", "ok", "status", "vendor_code", "batch_size", "duration_ms", "detail"],
    sortable=("at", "ok", "status", "batch_size", "duration_ms"), select_related=("notification",),
    filterset=DeliveryAttemptFilterSet,
))

# The audit log: a channel's settings and state, never its secrets or the sender's bookkeeping.
auditlog.register(Channel, include_fields=["customer", "name", "kind", "config", "enabled"])
audit("notify.ContactMethod")
# After the CMDB (10) and before monitoring (30), whose alerts page through this policy.
registry.add_demo("notify", load_notify, order=20)

registry.add_audit_labels({"test_message": _("Test message"), "override": _("Override"),
                           "overrides from iCalendar": _("Overrides from iCalendar")})
