"""Email in the registry: the mailboxes (with "test the connection" and "fetch now"), the
customers' mail domains, the log of mail received (triage and quarantine, with their actions)
and of mail sent; the mail listener and tasks are loaded here too."""

from __future__ import annotations

import django_filters
from auditlog.registry import auditlog
from celery.signals import worker_ready
from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry
from opsdesk.core.audit import register as audit
from opsdesk.core.generic.filters import ScopedFilterSet
from opsdesk.core.models import Customer
from opsdesk.core.permissions import MANAGERS, STAFF
from opsdesk.core.registry import Action, ModelEntry
from opsdesk.servicedesk.mail import outgoing, services, tasks  # noqa: F401  (listener, Celery tasks)
from opsdesk.servicedesk.mail.forms import AssignCustomerForm, MailChannelForm, MailChannelSerializer
from opsdesk.servicedesk.models import CustomerMailDomain, InboundMail, MailChannel, OutgoingMail
from opsdesk.servicedesk.models.mail import InboundState, OutgoingKind, OutgoingState

NOBODY: frozenset[str] = frozenset()


class InboundMailFilterSet(ScopedFilterSet):
    state = django_filters.ChoiceFilter(choices=InboundState.choices, label=_("state"))
    customer = django_filters.ModelChoiceFilter(queryset=Customer.objects.all(), label=_("customer"))

    class Meta:
        model = InboundMail
        fields = ["state", "channel", "customer"]


class OutgoingMailFilterSet(ScopedFilterSet):
    state = django_filters.ChoiceFilter(choices=OutgoingState.choices, label=_("state"))
    kind = django_filters.ChoiceFilter(choices=OutgoingKind.choices, label=_("kind"))
    customer = django_filters.ModelChoiceFilter(queryset=Customer.objects.all(), label=_("customer"))

    class Meta:
        model = OutgoingMail
        fields = ["state", "kind", "customer"]


registry.register(ModelEntry(
    MailChannel, tenant_path=None, menu="servicedesk", view_roles=STAFF, edit_roles=MANAGERS,
    form=MailChannelForm, serializer=MailChannelSerializer,
    create=services.create_channel, update=services.update_channel,
    columns=["name", "from_address", "imap_host", "enabled", "last_fetch_at", "last_error"],
    search_fields=["name", "from_address", "imap_host"],
    readonly_fields=("uid_validity", "last_uid", "last_fetch_at", "last_error", "last_test", "last_test_at"),
    detail_exclude=("secrets_encrypted", "fetch_lease_until"), url_slug="mailchannels",
    actions=[
        Action("test_connection", _("Test the connection"), services.test_connection, roles=STAFF,
               icon="bi-plug"),
        Action("fetch_now", _("Fetch now"), services.fetch_now, roles=STAFF, icon="bi-envelope-arrow-down",
               available=lambda c: c.enabled),
    ],
))
registry.register(ModelEntry(
    CustomerMailDomain, tenant_path="customer", menu="servicedesk", view_roles=STAFF, edit_roles=MANAGERS,
    columns=["domain", "customer", "created_at"], search_fields=["domain"], select_related=("customer",),
    url_slug="maildomains",
))
registry.register(ModelEntry(
    # Written by the fetcher only; a triage row has no customer yet (staff see it).
    InboundMail, tenant_path="customer", tenant_optional=True, menu="servicedesk", view_roles=STAFF,
    edit_roles=NOBODY, creatable=False, filterset=InboundMailFilterSet,
    columns=["subject", "from_address", "state", "customer", "ticket", "received_at", "fetched_at", "reason"],
    sortable=("subject", "from_address", "state", "received_at", "fetched_at"),
    search_fields=["subject", "from_address", "message_id"], select_related=("customer", "ticket", "channel"),
    detail_exclude=("raw_path",), url_slug="inboundmail",
    actions=[
        Action("assign_customer", _("Open a ticket for a customer"), services.assign_customer, roles=STAFF,
               icon="bi-person-check", style="primary", form=AssignCustomerForm,
               available=lambda m: m.state == InboundState.TRIAGE),
        Action("retry", _("Retry"), services.retry, roles=STAFF, icon="bi-arrow-repeat",
               available=lambda m: m.state == InboundState.QUARANTINED),
    ],
))
registry.register(ModelEntry(
    # Written by the mail listener and the sender only.
    OutgoingMail, tenant_path="customer", menu="servicedesk", view_roles=STAFF, edit_roles=NOBODY,
    creatable=False, filterset=OutgoingMailFilterSet,
    columns=["subject", "to_address", "kind", "state", "ticket", "attempts", "created_at", "sent_at", "last_error"],
    sortable=("subject", "to_address", "kind", "state", "attempts", "created_at", "sent_at"),
    search_fields=["subject", "to_address", "message_id"], select_related=("ticket", "customer"),
    detail_exclude=("body_html",), url_slug="outgoingmail",
))

# A mailbox's settings are audited, never its passwords or the fetcher's bookkeeping.
auditlog.register(MailChannel, include_fields=["name", "enabled", "imap_host", "imap_port", "imap_security",
                                               "imap_username", "folder", "smtp_host", "smtp_port", "smtp_security",
                                               "smtp_username", "verify_tls", "from_address", "from_name",
                                               "default_customer", "default_team", "category"])
audit("servicedesk.CustomerMailDomain")

def _start_idle(**kwargs) -> None:
    # Imported here: the fetcher (IMAP, the email parser) is the worker's alone, and every other
    # process (web, collector) keeps the memory it would take.
    from opsdesk.servicedesk.mail import idle

    idle.start_in_worker(**kwargs)


worker_ready.connect(_start_idle, weak=False, dispatch_uid="servicedesk.mail.idle")
