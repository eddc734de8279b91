"""The ticket actions: the one way a ticket is opened, answered, assigned, moved through its
workflow, merged and linked — the same function from the desk, the portal, the API, email,
chat and alerts. Each checks `can(actor, action, ticket)`, validates, writes in one transaction
with its timeline entry and audit row, drives the SLA clocks, and sends `ticket_event` inside
the transaction (so what a listener writes, an outgoing mail, a webhook row, commits with it).

`actor=None` is opsdesk itself (email intake, alerts): not checked, recorded as the system.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from opsdesk.core.actions import domain_action, permission_denied
from opsdesk.core.memo import remember
from opsdesk.core.models import Contact, Customer, Team, User
from opsdesk.core.permissions import CUSTOMER, STAFF, can
from opsdesk.core.scoping import object_in_scope
from opsdesk.servicedesk import attachments as attachment_store
from opsdesk.servicedesk import category_fields
from opsdesk.servicedesk.models import (
    Attachment,
    Category,
    PriorityRule,
    Ticket,
    TicketChannel,
    TicketEntry,
    TicketLink,
    TicketStatus,
    WorkLog,
)
from opsdesk.servicedesk.models.tickets import EntryKind, LinkKind
from opsdesk.servicedesk.richtext import html_to_text, text_to_html
from opsdesk.servicedesk.signals import ticket_event
from opsdesk.servicedesk.sla import clocks

S = TicketStatus

# ITIL's matrix, used where the administrator has not set a cell.
DEFAULT_MATRIX = {
    ("high", "high"): "p1", ("high", "medium"): "p2", ("medium", "high"): "p2",
    ("high", "low"): "p3", ("medium", "medium"): "p3", ("low", "high"): "p3",
    ("medium", "low"): "p4", ("low", "medium"): "p4", ("low", "low"): "p4",
}

# Where each status may go by `change_status` (reopen, resolve and close have their own actions).
TRANSITIONS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.WAITING_CUSTOMER, S.WAITING_THIRD_PARTY}),
    S.ASSIGNED: frozenset({S.IN_PROGRESS, S.WAITING_CUSTOMER, S.WAITING_THIRD_PARTY}),
    S.IN_PROGRESS: frozenset({S.WAITING_CUSTOMER, S.WAITING_THIRD_PARTY}),
    S.WAITING_CUSTOMER: frozenset({S.IN_PROGRESS, S.WAITING_THIRD_PARTY}),
    S.WAITING_THIRD_PARTY: frozenset({S.IN_PROGRESS, S.WAITING_CUSTOMER}),
    S.RESOLVED: frozenset(),
    S.CLOSED: frozenset(),
}


def priority_for(impact: str, urgency: str) -> str:
    def lookup() -> str:
        rule = PriorityRule.objects.filter(impact=impact, urgency=urgency).values_list("priority", flat=True).first()
        return rule or DEFAULT_MATRIX.get((impact, urgency), "p3")

    return remember(("servicedesk.priority", impact, urgency), lookup)


def default_team(customer: Customer, category: Category | None) -> Team | None:
    if category is not None and category.default_team_id:
        return category.default_team
    return remember(("servicedesk.default_team", customer.pk),
                    lambda: Team.objects.filter(customers=customer).order_by("pk").first())


def _entry(ticket: Ticket, kind: str, *, actor: User | None, at: dt.datetime, public: bool = False,
           body: str = "", event: str = "", data: dict | None = None, via: str = TicketChannel.WEB,
           author_name: str = "", author_email: str = "", message_id: str = "") -> TicketEntry:
    return TicketEntry.objects.create(
        ticket=ticket, kind=kind, public=public, author=actor if actor is not None and actor.pk else None,
        author_name=author_name[:200], author_email=author_email[:254], body=body, event=event, data=data or {},
        via=via, message_id=message_id[:300], created_at=at)


def _event(ticket: Ticket, event: str, *, actor: User | None, at: dt.datetime, public: bool = False,
           **data: Any) -> TicketEntry:
    return _entry(ticket, EntryKind.EVENT, actor=actor, at=at, public=public, event=event, data=data)


def _send(ticket: Ticket, event: str, entry: TicketEntry | None = None, **extra: Any) -> None:
    ticket_event.send(sender=Ticket, ticket=ticket, event=event, entry=entry, **extra)


def _locked(ticket: Ticket) -> Ticket:
    """The ticket re-read under a row lock, so two actions on one ticket take turns."""
    fresh = Ticket.objects.select_for_update().get(pk=ticket.pk)
    for field in ("status", "priority", "impact", "urgency", "assignee_id", "team_id", "first_response_at",
                  "resolved_at", "closed_at", "merged_into_id", "sla_due_at", "sla_state"):
        setattr(ticket, field, getattr(fresh, field))
    return ticket


# The columns only actions write: left out of the automatic audit (opsdesk.servicedesk.audit),
# each action writes one audit row of its own with their before and after.
ACTION_FIELDS = ("status", "priority", "impact", "urgency", "assignee_id", "team_id", "first_response_at",
                 "resolved_at", "closed_at", "merged_into_id", "sla_state")


def _state(ticket: Ticket) -> dict[str, Any]:
    return {f: getattr(ticket, f) for f in ACTION_FIELDS}


def _audit(context, ticket: Ticket, before: dict[str, Any], **more: list[Any]) -> None:
    """The action's one audit row: what it changed of the action-owned columns, and `more`."""
    after = _state(ticket)
    changes = {f.removesuffix("_id"): [_plain(before[f]), _plain(after[f])] for f in ACTION_FIELDS
               if before[f] != after[f]}
    changes.update({k: [_plain(v[0]), _plain(v[1])] for k, v in more.items()})
    context.audit(ticket, changes)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def _require(actor: User | None, action: str, ticket: Ticket) -> None:
    if actor is not None and not can(actor, action, ticket):
        raise permission_denied()


# --- opening -----------------------------------------------------------------------------------

def open_ticket(*, actor: User | None, customer: Customer, title: str, description: str = "",
                channel: str = TicketChannel.WEB, ticket_type: str = "", category: Category | None = None,
                impact: str = "medium", urgency: str = "medium", requester: Contact | None = None,
                requester_user: User | None = None, requester_email: str = "",
                configuration_items: Iterable = (), form_data: dict | None = None,
                files: Sequence = (), language: str = "", team: Team | None = None,
                assignee: User | None = None, at: dt.datetime | None = None, message_id: str = "",
                author_name: str = "", html: str | None = None) -> Ticket:
    """Open a ticket. The description is also the ticket's first public entry (the requester's
    words, with `message_id` when it came by mail, so replies to it thread here)."""
    at = at or timezone.now()
    items = list(configuration_items)
    if actor is not None and getattr(actor, "role", None) == CUSTOMER:
        # A customer user opens for their own customer, as themselves.
        customer, requester_user = actor.customer, actor
        team = assignee = None
    ticket = Ticket(
        customer=customer, title=(title or "").strip()[:300], description=description or "",
        ticket_type=ticket_type or (category.ticket_type if category else "incident"), category=category,
        form_data=form_data or {}, requester=requester, requester_user=requester_user,
        requester_email=requester_email or (requester.email if requester else "") or
        (requester_user.email if requester_user else ""),
        impact=impact, urgency=urgency, channel=channel, created_at=at,
        language=language or (requester_user.language if requester_user and requester_user.language else "zh-hans"))
    ticket.priority = priority_for(impact, urgency)
    errors: dict[str, list[str]] = {}
    if not ticket.title:
        errors["title"] = [_("This field is required.")]
    if category is not None and not category.is_active:
        errors["category"] = [_("This category is no longer in use.")]
    for name, value in (("requester", requester), ("category", None)):
        if value is not None and getattr(value, "customer_id", customer.pk) != customer.pk:
            errors[name] = [_("Select a valid choice. That choice is not one of the available choices.")]
    if any(item.customer_id != customer.pk for item in items):
        errors["configuration_items"] = [_("These items belong to another customer.")]
    if actor is not None:
        if not can(actor, "add", ticket):
            raise permission_denied()
        if any(not object_in_scope(actor, item) for item in items):
            errors["configuration_items"] = [_("Select a valid choice. That choice is not one of the available "
                                               "choices.")]
    try:
        # The category's required fields bind its customers (the portal asks for them); an
        # engineer taking a call, or opsdesk itself, may leave them for later.
        ticket.form_data = category_fields.clean_form_data(
            category.form_fields if category else [], form_data,
            required=actor is not None and getattr(actor, "role", None) == CUSTOMER)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    errors.update(attachment_store.check_files(files))
    if errors:
        raise ValidationError(errors)
    try:
        # The related objects arrive as rows already read (and checked against the customer
        # above): validating them again would read each one back, a query apiece.
        ticket.full_clean(exclude=["description", "customer", "category", "requester", "requester_user"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None
    with domain_action(actor, "add", ticket, check=False):
        ticket.team = team or default_team(customer, category)
        if assignee is not None:
            ticket.assignee, ticket.status = assignee, S.ASSIGNED
        # The clocks are worked out first, so the ticket is written once with its SLA columns.
        opening_clocks = clocks.opening_clocks(ticket, at)
        ticket.save()
        clocks.save_new(opening_clocks)
        if items:
            ticket.configuration_items.set(items)
        if requester_user is not None and requester_user.role in STAFF:
            ticket.watchers.add(requester_user)
        body = html if html is not None else text_to_html(description or "")
        entry = _entry(ticket, EntryKind.REPLY, actor=actor if actor is not None else None, at=at, public=True,
                       body=body, via=channel, author_name=author_name or _requester_name(ticket),
                       author_email=ticket.requester_email, message_id=message_id,
                       data={"opening": True})
        attachment_store.store(ticket, files, entry=entry, actor=actor)
        _send(ticket, "opened", entry)
    return ticket


def _requester_name(ticket: Ticket) -> str:
    if ticket.requester_id:
        return ticket.requester.name
    if ticket.requester_user_id:
        return str(ticket.requester_user.get_full_name() or ticket.requester_user.username)
    return ticket.requester_email


# --- the conversation ------------------------------------------------------------------------

def _check_words(body: str, html: str | None, files: Sequence) -> None:
    errors: dict[str, list[str]] = {}
    if not (body or "").strip() and not (html or "").strip() and not files:
        errors["body"] = [_("Write something or attach a file.")]
    errors.update(attachment_store.check_files(files))
    if errors:
        raise ValidationError(errors)


def _write_reply(ticket: Ticket, *, actor: User | None, body: str, public: bool, files: Sequence, via: str,
                 author_name: str, author_email: str, message_id: str, html: str | None, at: dt.datetime,
                 customer_side: bool) -> TicketEntry:
    """The reply or note on a locked ticket, and what it moves (first response, resume, reopen)."""
    entry = _entry(ticket, EntryKind.REPLY if public else EntryKind.NOTE, actor=actor, at=at, public=public,
                   body=html if html is not None else text_to_html(body or ""), via=via,
                   author_name=author_name, author_email=author_email, message_id=message_id,
                   data={"customer": customer_side})
    attachment_store.store(ticket, files, entry=entry, actor=actor)
    if public and not customer_side and ticket.first_response_at is None:
        ticket.first_response_at = at
        clocks.responded(ticket, at)
    if public and customer_side and ticket.status in (S.WAITING_CUSTOMER, S.RESOLVED):
        reopened = ticket.status == S.RESOLVED
        _move(ticket, S.IN_PROGRESS if ticket.assignee_id else S.NEW, actor=actor, at=at, reason="customer_reply")
        if reopened:
            _event(ticket, "reopened", actor=actor, at=at, public=True)
    _send(ticket, "reply" if public else "note", entry, customer_side=customer_side)
    return entry


def reply(ticket: Ticket, *, actor: User | None, body: str = "", public: bool = True, files: Sequence = (),
          via: str = TicketChannel.WEB, author_name: str = "", author_email: str = "", message_id: str = "",
          html: str | None = None, at: dt.datetime | None = None, from_customer: bool | None = None) -> TicketEntry:
    """A public reply (the customer sees it and is told) or, with `public=False`, an internal
    note. A reply from the customer's side resumes a ticket waiting for them and reopens a
    resolved one; the desk's first public reply meets the response clock. `actor=None` with
    `from_customer` unset is the customer writing by mail or chat."""
    at = at or timezone.now()
    customer_side = from_customer if from_customer is not None else \
        (actor is None or getattr(actor, "role", None) == CUSTOMER)
    name = "reply" if public else "note"
    if not public and customer_side:
        raise permission_denied()
    _require(actor, name, ticket)
    _check_words(body, html, files)
    with domain_action(actor, name, ticket, check=False) as context:
        _locked(ticket)
        if ticket.merged_into_id:
            raise ValidationError({"body": _("This ticket was merged into #%(number)s; write there.")
                                   % {"number": ticket.merged_into_id}})
        if ticket.status == S.CLOSED and customer_side:
            raise ValidationError({"body": _("This ticket is closed; open a new one.")})
        before = _state(ticket)
        entry = _write_reply(ticket, actor=actor, body=body, public=public, files=files, via=via,
                             author_name=author_name, author_email=author_email, message_id=message_id, html=html,
                             at=at, customer_side=customer_side)
        _save(ticket)
        # The audit row names the entry by its words (the log is read by people).
        excerpt = html_to_text(entry.body)[:120] or ", ".join(a.name for a in entry.attachments.all())[:120]
        _audit(context, ticket, before, **{name: [None, excerpt]})
    return entry


def note(ticket: Ticket, *, actor: User | None, body: str, files: Sequence = ()) -> TicketEntry:
    return reply(ticket, actor=actor, body=body, public=False, files=files, from_customer=False)


# --- the workflow ----------------------------------------------------------------------------

def _move(ticket: Ticket, new: str, *, actor: User | None, at: dt.datetime, reason: str = "") -> None:
    """Set the status, keep the dates and the SLA clocks in step, and write the event."""
    old = ticket.status
    if old == new:
        return
    ticket.status = new
    if new == S.RESOLVED:
        ticket.resolved_at = at
    elif new == S.CLOSED:
        ticket.closed_at = at
        ticket.resolved_at = ticket.resolved_at or at
    else:
        ticket.resolved_at = None
        ticket.closed_at = None
    clocks.status_changed(ticket, old, new, at)
    _event(ticket, "status", actor=actor, at=at, public=True, old=old, new=new, reason=reason)
    _send(ticket, "status", None, old=old, new=new)


SAVED_BY_ACTIONS = (*ACTION_FIELDS, "sla_due_at", "updated_at")


def _save(ticket: Ticket) -> None:
    # Only columns the actions own, none of them audited automatically (the action writes its own
    # audit row): an UPDATE of them alone, without the read of the old row an audited save does.
    ticket.updated_at = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(**{name: getattr(ticket, name) for name in SAVED_BY_ACTIONS})


@contextlib.contextmanager
def _acting(actor: User | None, action: str, ticket: Ticket) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The frame of a ticket action: permission, transaction, the ticket locked; yields the
    context and the state before, for the action's one audit row."""
    _require(actor, action, ticket)
    with domain_action(actor, action, ticket, check=False) as context:
        _locked(ticket)
        yield context, _state(ticket)


def change_status(ticket: Ticket, *, actor: User | None, status: str, note: str = "") -> Ticket:
    with _acting(actor, "change_status", ticket) as (context, before):
        if status not in TRANSITIONS.get(ticket.status, ()):
            new = S(status).label if status in S.values else status
            raise ValidationError({"status": _("A ticket cannot go from “%(old)s” to “%(new)s”.")
                                   % {"old": S(ticket.status).label, "new": new}})
        at = timezone.now()
        _move(ticket, status, actor=actor, at=at)
        if note.strip():
            _entry(ticket, EntryKind.NOTE, actor=actor, at=at, body=text_to_html(note))
        _save(ticket)
        _audit(context, ticket, before)
    return ticket


def _check_assignee(ticket: Ticket, assignee: User | None, team: Team | None) -> None:
    errors = {}
    if assignee is not None and (assignee.role not in STAFF or not assignee.is_active):
        errors["assignee"] = [_("Only active staff can be assigned.")]
    elif assignee is not None and not object_in_scope(assignee, ticket):
        errors["assignee"] = [_("%(name)s does not serve this customer.") % {"name": assignee}]
    elif team is not None and assignee is not None and not team.members.filter(pk=assignee.pk).exists():
        errors["assignee"] = [_("%(name)s is not in the team %(team)s.") % {"name": assignee, "team": team}]
    if assignee is None and team is None:
        errors["assignee"] = [_("Choose a person or a team.")]
    if errors:
        raise ValidationError(errors)


def _assign(ticket: Ticket, *, actor: User | None, assignee: User | None, team: Team | None,
            at: dt.datetime) -> None:
    if not ticket.is_open:
        raise ValidationError({"assignee": _("Reopen the ticket first.")})
    old = {"assignee": ticket.assignee_id, "team": ticket.team_id}
    if team is not None:
        ticket.team = team
    if assignee is not None:
        ticket.assignee = assignee
        if team is None and not (ticket.team_id and ticket.team.members.filter(pk=assignee.pk).exists()):
            ticket.team = assignee.teams.filter(customers=ticket.customer_id).order_by("pk").first() or ticket.team
    _event(ticket, "assigned", actor=actor, at=at, old=old, assignee=ticket.assignee_id,
           assignee_name=str(ticket.assignee or ""), team=ticket.team_id, team_name=str(ticket.team or ""))
    if ticket.status == S.NEW and ticket.assignee_id:
        _move(ticket, S.ASSIGNED, actor=actor, at=at)
    if ticket.assignee_id:
        ticket.watchers.add(ticket.assignee_id)
    _send(ticket, "assigned", None, actor_id=actor.pk if actor is not None else None)


def assign(ticket: Ticket, *, actor: User | None, assignee: User | None = None, team: Team | None = None) -> Ticket:
    """Give the ticket to a person (who serves the customer) and/or a team."""
    _check_assignee(ticket, assignee, team)
    with _acting(actor, "assign", ticket) as (context, before):
        _assign(ticket, actor=actor, assignee=assignee, team=team, at=timezone.now())
        _save(ticket)
        _audit(context, ticket, before)
    return ticket


def take(ticket: Ticket, *, actor: User) -> Ticket:
    """"I'll take it": assigned to me and in progress."""
    _check_assignee(ticket, actor, None)
    with _acting(actor, "take", ticket) as (context, before):
        at = timezone.now()
        _assign(ticket, actor=actor, assignee=actor, team=None, at=at)
        if ticket.status in (S.NEW, S.ASSIGNED):
            _move(ticket, S.IN_PROGRESS, actor=actor, at=at)
        _save(ticket)
        _audit(context, ticket, before)
    return ticket


def resolve(ticket: Ticket, *, actor: User | None, solution: str = "") -> Ticket:
    """Resolved, with the solution as a public reply; the customer confirms (close) or answers (reopens)."""
    with _acting(actor, "resolve", ticket) as (context, before):
        if not ticket.is_open or ticket.merged_into_id:
            raise ValidationError({"status": _("This ticket is already resolved or closed.")})
        at = timezone.now()
        if solution.strip():
            _write_reply(ticket, actor=actor, body=solution, public=True, files=(), via=TicketChannel.WEB,
                         author_name="", author_email="", message_id="", html=None, at=at, customer_side=False)
        _move(ticket, S.RESOLVED, actor=actor, at=at)
        _save(ticket)
        _audit(context, ticket, before)
    return ticket


def close(ticket: Ticket, *, actor: User | None) -> Ticket:
    """Closed: the customer confirmed the resolution, or the desk closes what is resolved."""
    with _acting(actor, "close", ticket) as (context, before):
        if ticket.status != S.RESOLVED:
            raise ValidationError({"status": _("Only a resolved ticket can be closed.")})
        _move(ticket, S.CLOSED, actor=actor, at=timezone.now())
        _save(ticket)
        _audit(context, ticket, before)
    return ticket


def reopen(ticket: Ticket, *, actor: User | None, reason: str = "") -> Ticket:
    with _acting(actor, "reopen", ticket) as (context, before):
        if ticket.is_open:
            raise ValidationError({"status": _("This ticket is open.")})
        if ticket.merged_into_id:
            raise ValidationError({"status": _("This ticket was merged into #%(number)s.")
                                   % {"number": ticket.merged_into_id}})
        at = timezone.now()
        _move(ticket, S.IN_PROGRESS if ticket.assignee_id else S.NEW, actor=actor, at=at, reason="reopen")
        _event(ticket, "reopened", actor=actor, at=at, public=True)
        if reason.strip():
            _entry(ticket, EntryKind.REPLY, actor=actor, at=at, public=True, body=text_to_html(reason),
                   data={"customer": getattr(actor, "role", None) == CUSTOMER})
        _save(ticket)
        _audit(context, ticket, before)
    return ticket


def change_priority(ticket: Ticket, *, actor: User | None, impact: str, urgency: str,
                    priority: str = "") -> Ticket:
    """New impact and urgency (the matrix gives the priority unless one is given): the SLA
    targets follow, counted from the same start and keeping the time paused."""
    with _acting(actor, "change_priority", ticket) as (context, before):
        old = ticket.priority
        ticket.impact, ticket.urgency = impact, urgency
        ticket.priority = priority or priority_for(impact, urgency)
        try:
            ticket.full_clean(exclude=["description"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        at = timezone.now()
        if ticket.priority != old:
            clocks.priority_changed(ticket, at)
        _event(ticket, "priority", actor=actor, at=at, old=old, new=ticket.priority)
        _save(ticket)
        _send(ticket, "priority", None, old=old)
        _audit(context, ticket, before)
    return ticket


# --- between tickets ----------------------------------------------------------------------------

def merge(ticket: Ticket, *, actor: User | None, into: Ticket) -> Ticket:
    """A duplicate: its conversation is copied into `into` (same customer), it is closed and
    points there; replies to it by mail land on `into`."""
    if into.pk == ticket.pk or into.customer_id != ticket.customer_id or \
            (actor is not None and not object_in_scope(actor, into)):
        raise ValidationError({"into": _("Choose another ticket of the same customer.")})
    if into.merged_into_id or not into.is_open:
        raise ValidationError({"into": _("Ticket #%(number)s is not open.") % {"number": into.pk}})
    with _acting(actor, "merge", ticket) as (context, before):
        if ticket.merged_into_id:
            raise ValidationError({"into": _("This ticket is already merged.")})
        at = timezone.now()
        for entry in ticket.entries.filter(kind__in=[EntryKind.REPLY, EntryKind.NOTE]):
            copied = TicketEntry.objects.create(
                ticket=into, kind=entry.kind, public=entry.public, author=entry.author, author_name=entry.author_name,
                author_email=entry.author_email, body=entry.body, via=entry.via, message_id=entry.message_id,
                created_at=entry.created_at, data={**entry.data, "merged_from": ticket.pk})
            Attachment.objects.filter(entry=entry).update(entry=copied, ticket=into)
        Attachment.objects.filter(ticket=ticket).update(ticket=into)
        into.watchers.add(*ticket.watchers.all())
        into.configuration_items.add(*ticket.configuration_items.all())
        ticket.merged_into = into
        if ticket.status != S.RESOLVED:
            _move(ticket, S.RESOLVED, actor=actor, at=at, reason="merged")
        _move(ticket, S.CLOSED, actor=actor, at=at, reason="merged")
        _event(ticket, "merged_into", actor=actor, at=at, public=True, target=into.pk)
        _event(into, "merged_from", actor=actor, at=at, public=True, source=ticket.pk)
        _save(ticket)
        TicketLink.objects.get_or_create(source=ticket, target=into, defaults={"kind": LinkKind.DUPLICATES})
        _send(into, "merged", None, source=ticket.pk)
        _audit(context, ticket, before)
    return ticket


def link(ticket: Ticket, *, actor: User | None, target: Ticket, kind: str = LinkKind.RELATES) -> TicketLink:
    if target.pk == ticket.pk or (actor is not None and not object_in_scope(actor, target)):
        raise ValidationError({"target": _("Choose another ticket.")})
    if kind not in LinkKind.values:
        raise ValidationError({"kind": _("Choose a kind of link.")})
    with _acting(actor, "link", ticket) as (context, before):
        if TicketLink.objects.filter(Q(source=ticket, target=target) | Q(source=target, target=ticket)).exists():
            raise ValidationError({"target": _("These tickets are already linked.")})
        created = TicketLink.objects.create(source=ticket, target=target, kind=kind)
        _event(ticket, "linked", actor=actor, at=timezone.now(), target=target.pk, kind=kind)
        _audit(context, ticket, before, link=[None, f"{kind} #{target.pk}"])
    return created


def log_work(ticket: Ticket, *, actor: User, minutes: int, date: dt.date | None = None, note: str = "",
             billable: bool = True) -> WorkLog:
    if not minutes or minutes <= 0 or minutes > 24 * 60:
        raise ValidationError({"minutes": _("Enter the minutes spent, between 1 and 1440.")})
    with _acting(actor, "log_work", ticket) as (context, before):
        work = WorkLog.objects.create(ticket=ticket, user=actor, minutes=minutes, date=date or timezone.localdate(),
                                      note=note[:300], billable=billable)
        _audit(context, ticket, before, work_log=[None, f"{minutes} min {work.date.isoformat()}"])
    return work


def watch(ticket: Ticket, *, actor: User, user: User | None = None) -> Ticket:
    user = user or actor
    if user.role not in STAFF or not object_in_scope(user, ticket):
        raise ValidationError({"user": _("%(name)s cannot see this ticket.") % {"name": user}})
    with _acting(actor, "watch", ticket) as (context, before):
        ticket.watchers.add(user)
        _audit(context, ticket, before, watchers=[None, user.username])
    return ticket


def unwatch(ticket: Ticket, *, actor: User, user: User | None = None) -> Ticket:
    user = user or actor
    with _acting(actor, "watch", ticket) as (context, before):
        ticket.watchers.remove(user)
        _audit(context, ticket, before, watchers=[user.username, None])
    return ticket
