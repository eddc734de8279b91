"""The service desk in the registry: tickets with their actions (the same from the desk, the
portal and the API), categories, the priority matrix, macros and the work log."""

from __future__ import annotations

from typing import Any

import django_filters
from auditlog.registry import auditlog
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from opsdesk.core import registry
from opsdesk.core.audit import register as audit
from opsdesk.core.generic.filters import ScopedFilterSet
from opsdesk.core.models import Customer, Team, User
from opsdesk.core.permissions import ADMINS, ALL_ROLES, CUSTOMER, MANAGERS, STAFF
from opsdesk.core.registry import Action, DetailPanel, ModelEntry
from opsdesk.core.scoping import scope_for
from opsdesk.monitoring.models import Alert
from opsdesk.servicedesk import api, demo, services
from opsdesk.servicedesk.desk.queues import QUEUE_ORDER
from opsdesk.servicedesk.desk.views import TicketPageView, TicketQueueView
from opsdesk.servicedesk.forms import (
    AssignForm,
    LinkForm,
    MergeForm,
    NoteForm,
    PriorityForm,
    ReopenForm,
    ReplyForm,
    ResolveForm,
    StatusForm,
    WorkLogForm,
    ticket_form,
)
from opsdesk.servicedesk.models import (
    AlertTicketPolicy,
    Category,
    Macro,
    Priority,
    PriorityRule,
    Ticket,
    TicketAlert,
    TicketStatus,
    TicketType,
    TicketWebhook,
    WorkLog,
)
from opsdesk.servicedesk.models.tickets import OPEN_STATUSES

NOBODY: frozenset[str] = frozenset()
S = TicketStatus


class TicketFilterSet(ScopedFilterSet):
    customer = django_filters.ModelChoiceFilter(queryset=Customer.objects.all(), label=_("customer"))
    status = django_filters.MultipleChoiceFilter(choices=TicketStatus.choices, label=_("status"), distinct=False)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices, label=_("priority"), distinct=False)
    ticket_type = django_filters.ChoiceFilter(choices=TicketType.choices, label=_("type"))
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), label=_("team"))
    assignee = django_filters.ModelChoiceFilter(queryset=User.objects.filter(role__in=sorted(STAFF)),
                                                label=_("assignee"))
    open = django_filters.BooleanFilter(method="only_open", label=_("open"))

    class Meta:
        model = Ticket
        fields = ["customer", "status", "priority", "ticket_type", "team", "assignee", "open", "category"]

    def only_open(self, queryset, name, value):
        return queryset.filter(status__in=OPEN_STATUSES) if value else queryset.exclude(status__in=OPEN_STATUSES)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        people, teams = colleagues(getattr(self.request, "user", None))
        for name, narrowed in (("assignee", people), ("team", teams)):
            flt = self.filters[name]
            flt.queryset = flt.extra["queryset"] = narrowed


def colleagues(user) -> tuple:
    """The people and teams an engineer's tickets can be assigned to: those serving the same
    customers (their lists stay short, however large the service provider); everyone for the
    administrators and managers who see every customer."""
    from opsdesk.core.scoping import customer_ids

    staff = User.objects.filter(role__in=sorted(STAFF), is_active=True)
    ids = customer_ids(user) if user is not None else frozenset()
    if ids is None:
        return staff, Team.objects.all()
    return staff.filter(teams__customers__in=ids).distinct(), Team.objects.filter(customers__in=ids).distinct()


class WorkLogFilterSet(ScopedFilterSet):
    customer = django_filters.ModelChoiceFilter(field_name="ticket__customer", queryset=Customer.objects.all(),
                                                label=_("customer"))

    class Meta:
        model = WorkLog
        fields = ["customer", "user", "billable"]


def _ticket_by_number(actor: User, number: int, field: str) -> Ticket:
    found = scope_for(actor, Ticket.objects.all()).filter(pk=number).first()
    if found is None:
        raise ValidationError({field: _("There is no ticket #%(number)s you can see.") % {"number": number}})
    return found


def _create_ticket(data: dict[str, Any], *, actor: User | None) -> Ticket:
    """The generic "add" (desk and API): the same open_ticket every channel uses."""
    customer = data.get("customer")
    if customer is None and getattr(actor, "role", None) == CUSTOMER:
        customer = actor.customer
    if customer is None:
        raise ValidationError({"customer": _("This field is required.")})
    return services.open_ticket(
        actor=actor, customer=customer, title=data.get("title", ""), description=data.get("description", ""),
        ticket_type=data.get("ticket_type", ""), category=data.get("category"),
        impact=data.get("impact") or "medium", urgency=data.get("urgency") or "medium",
        requester=data.get("requester"), requester_email=data.get("requester_email", ""),
        configuration_items=data.get("configuration_items") or (), form_data=data.get("form_data") or {},
        language=data.get("language", ""), files=data.get("files") or (),
        channel={"api": "api", "phone": "phone"}.get(data.get("_via", ""), "web"))


def _is_open(ticket: Ticket) -> bool:
    return ticket.status in OPEN_STATUSES and not ticket.merged_into_id


def _not_taken_by(ticket: Ticket, user: User) -> bool:
    """"Take it" is offered unless the ticket is already this person's and being worked on."""
    return ticket.assignee_id != user.pk or ticket.status in (S.NEW, S.ASSIGNED)


registry.register(ModelEntry(
    Ticket, tenant_path="customer", menu="servicedesk", view_roles=ALL_ROLES, edit_roles=STAFF,
    roles={"add": ALL_ROLES, "delete": ADMINS},
    columns=["title", "id", "customer", "priority", "status", "sla_state", "sla_due_at", "assignee", "team",
             "created_at"],
    sortable=("id", "title", "priority", "status", "sla_due_at", "created_at", "customer__name"),
    search_fields=["title", "requester_email"], filterset=TicketFilterSet,
    select_related=("customer", "assignee", "team"), ordering=QUEUE_ORDER,
    views={"list": TicketQueueView, "detail": TicketPageView},
    create=_create_ticket, form=ticket_form(),
    readonly_fields=("priority", "status", "team", "assignee", "merged_into", "first_response_at", "resolved_at",
                     "closed_at", "sla_due_at", "sla_state", "channel"),
    bulk_edit_fields=("category",),
    actions=[
        Action("take", _("Take it"), lambda t, *, actor: services.take(t, actor=actor), roles=STAFF,
               icon="bi-person-check", style="primary", available=_is_open, available_to=_not_taken_by),
        Action("assign", _("Assign"), lambda t, *, actor, assignee=None, team=None:
               services.assign(t, actor=actor, assignee=assignee, team=team), roles=STAFF, icon="bi-person-plus",
               form=AssignForm, available=_is_open),
        Action("reply", _("Reply"), lambda t, *, actor, body: services.reply(t, actor=actor, body=body),
               roles=ALL_ROLES, icon="bi-reply", form=ReplyForm,
               available=lambda t: t.status != S.CLOSED and not t.merged_into_id),
        Action("note", _("Internal note"), lambda t, *, actor, body: services.note(t, actor=actor, body=body),
               roles=STAFF, icon="bi-sticky", form=NoteForm),
        Action("change_status", _("Change status"), lambda t, *, actor, status, note="":
               services.change_status(t, actor=actor, status=status, note=note), roles=STAFF,
               icon="bi-arrow-right-circle", form=StatusForm, available=_is_open),
        Action("change_priority", _("Change priority"), lambda t, *, actor, impact, urgency, priority="":
               services.change_priority(t, actor=actor, impact=impact, urgency=urgency, priority=priority),
               roles=STAFF, icon="bi-flag", form=PriorityForm, available=_is_open),
        Action("resolve", pgettext_lazy("ticket action", "Resolve"),
               lambda t, *, actor, solution="": services.resolve(t, actor=actor, solution=solution), roles=STAFF,
               icon="bi-check2-circle", style="success", form=ResolveForm, available=_is_open),
        # The customer confirms a resolution by closing; the desk may close what is resolved.
        Action("close", _("Close"), lambda t, *, actor: services.close(t, actor=actor), roles=ALL_ROLES,
               icon="bi-archive", available=lambda t: t.status == S.RESOLVED),
        Action("reopen", _("Reopen"), lambda t, *, actor, reason="": services.reopen(t, actor=actor, reason=reason),
               roles=ALL_ROLES, icon="bi-arrow-counterclockwise", form=ReopenForm,
               available=lambda t: t.status in (S.RESOLVED, S.CLOSED) and not t.merged_into_id),
        Action("merge", _("Merge into…"), lambda t, *, actor, into: services.merge(
               t, actor=actor, into=_ticket_by_number(actor, into, "into")), roles=STAFF, icon="bi-union",
               form=MergeForm, available=_is_open, confirm=_("The conversation moves to the other ticket.")),
        Action("link", _("Link"), lambda t, *, actor, target, kind: services.link(
               t, actor=actor, target=_ticket_by_number(actor, target, "target"), kind=kind), roles=STAFF,
               icon="bi-link-45deg", form=LinkForm),
        Action("log_work", _("Log work"), lambda t, *, actor, minutes, date=None, note="", billable=True:
               services.log_work(t, actor=actor, minutes=minutes, date=date, note=note, billable=billable),
               roles=STAFF, icon="bi-stopwatch", form=WorkLogForm),
        Action("watch", _("Watch"), lambda t, *, actor: services.watch(t, actor=actor), roles=STAFF, icon="bi-eye"),
    ],
))
registry.register(ModelEntry(
    Category, tenant_path=None, shared_with_customers=True, menu="servicedesk", view_roles=ALL_ROLES,
    edit_roles=MANAGERS, columns=["name", "parent", "ticket_type", "default_team", "is_active"],
    search_fields=["name"], select_related=("parent", "default_team"), url_slug="categories",
))
registry.register(ModelEntry(
    # Empty customer: the policy for everyone without one of their own.
    AlertTicketPolicy, tenant_path="customer", tenant_optional=True, menu="servicedesk", view_roles=STAFF,
    edit_roles=MANAGERS, columns=["customer", "min_severity", "category", "team", "enabled"],
    select_related=("customer", "category", "team"), url_slug="incidentpolicies",
))
registry.register(ModelEntry(
    TicketWebhook, tenant_path="customer", tenant_optional=True, menu="servicedesk", view_roles=STAFF,
    edit_roles=MANAGERS, columns=["name", "customer", "channel", "events", "enabled"],
    select_related=("customer", "channel"),
))
registry.register(ModelEntry(
    PriorityRule, tenant_path=None, menu="servicedesk", view_roles=STAFF, edit_roles=MANAGERS,
    columns=["impact", "urgency", "priority"], url_slug="priorityrules",
))
registry.register(ModelEntry(
    Macro, tenant_path=None, menu="servicedesk", view_roles=STAFF, edit_roles=STAFF,
    columns=["name", "public", "set_status", "team"], search_fields=["name", "body"],
))
registry.register(ModelEntry(
    # Written by the "log work" action; read for the contract's reports.
    WorkLog, tenant_path="ticket__customer", menu="servicedesk", view_roles=STAFF, edit_roles=NOBODY,
    creatable=False, columns=["ticket", "user", "date", "minutes", "billable", "note"], filterset=WorkLogFilterSet,
    select_related=("ticket", "user"),
))

# A ticket's own columns are audited as people edit them; the columns only actions write are
# left out, because each action writes one row of its own naming what it changed (services._audit).
auditlog.register(Ticket, include_fields=[
    f.name for f in Ticket._meta.concrete_fields
    if f.attname not in services.ACTION_FIELDS and f.name not in ("id", "created_at", "updated_at", "sla_due_at")])
audit("servicedesk.Category")
audit("servicedesk.AlertTicketPolicy")
audit("servicedesk.TicketWebhook")
audit("servicedesk.PriorityRule")
audit("servicedesk.Macro")


def _seed_incident_policy() -> str | None:
    """Critical alerts open incidents, until an administrator says otherwise."""
    _, created = AlertTicketPolicy.objects.get_or_create(customer=None, defaults={"min_severity": "critical"})
    return "service desk: critical alerts open incidents (Service desk → Incident policies)" if created else None


def _alert_tickets_panel(request, alert) -> dict | None:
    """The alert page's incident: the tickets this alert opened or joined, that the person sees."""
    links = list(TicketAlert.objects.filter(alert=alert, ticket__in=scope_for(request.user, Ticket.objects.all()))
                 .select_related("ticket").order_by("-ticket_id"))
    return {"links_to_tickets": links} if links else None


registry.add_detail_panel(Alert, DetailPanel("servicedesk_tickets", _("Incident"),
                                             "servicedesk/panels/alert_tickets.html", context=_alert_tickets_panel,
                                             order=5, column="right"))
registry.add_setup_step("servicedesk-incident-policy", _seed_incident_policy, order=300)
registry.add_api_urls(api.api_urls())
registry.add_demo("servicedesk", demo.load_servicedesk, order=50)

registry.add_audit_labels({"last_test": _("Last test"), "fetch": _("Fetch"), "url_token": _("URL token"),
                           "rating": _("Rating")})
