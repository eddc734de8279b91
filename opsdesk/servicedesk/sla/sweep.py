"""The SLA sweep (Celery beat every 30 s): clocks that crossed a warning threshold or their due
date get a timeline event, `ticket_event`, a notification to the assignee (else the team), and on
a breach the SLA policy's escalation.

Which clocks: `next_check_at <= now` (an indexed column each clock keeps: its next threshold or
its due date). At least once and never twice: each clock is handled in its own transaction under
the ticket's row lock, re-read there, and moved on (`warned_percent`, `breached_at`) in the same
transaction as its event and notification rows; the notifications carry idempotency keys, and the
escalation is opened once per clock (`start_page` by source)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from opsdesk.core.models import User
from opsdesk.servicedesk.models import SLAClock, Ticket, TicketEntry
from opsdesk.servicedesk.models.tickets import OPEN_STATUSES, EntryKind
from opsdesk.servicedesk.signals import ticket_event
from opsdesk.servicedesk.sla import clocks
from opsdesk.servicedesk.sla.calendar import compile_calendar
from opsdesk.servicedesk.sla.format import duration

log = logging.getLogger(__name__)
BATCH = 500
LANGUAGES = ("zh-hans", "en")


def source_of(clock: SLAClock) -> str:
    return f"servicedesk.sla:{clock.pk}"


def sweep(now: dt.datetime | None = None) -> int:
    """Handle every clock due for a look; the number of warnings and breaches written."""
    now = now or timezone.now()
    due = list(SLAClock.objects.filter(next_check_at__lte=now, stopped_at__isnull=True, paused_since__isnull=True)
               .order_by("next_check_at", "pk").values_list("pk", "ticket_id")[:BATCH])
    written = 0
    for pk, ticket_id in due:
        try:
            with transaction.atomic():
                written += _look(pk, ticket_id, now)
        except Exception:  # one bad clock must not stop the others; it is looked at again next time
            log.exception("SLA sweep failed for clock %s", pk)
    return written


def _look(pk: int, ticket_id: int, now: dt.datetime) -> int:
    # Only the ticket row is locked: its team and assignee may be empty (an outer join PostgreSQL
    # will not lock).
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("customer", "assignee", "team").get(
        pk=ticket_id)
    clock = SLAClock.objects.select_related("calendar").filter(pk=pk).first()
    if clock is None or clock.stopped_at is not None or clock.paused_since is not None or \
            clock.next_check_at is None or clock.next_check_at > now or ticket.status not in OPEN_STATUSES:
        return 0
    cal = compile_calendar(clock.calendar if clock.calendar_id else None)
    policy = clocks._policy_of(ticket)
    thresholds = policy.thresholds if policy is not None else ()
    written = 0
    if clock.breached_at is None and clock.due_at is not None and clock.due_at <= now:
        clock.breached_at = clock.due_at
        clock.warned_percent = max([clock.warned_percent, *thresholds])
        _tell(ticket, clock, "sla_breached", 100, now, policy)
        written += 1
    else:
        used = clocks.used_seconds(clock, cal, now)
        crossed = [p for p in thresholds if p > clock.warned_percent and used * 100 >= p * clock.target_seconds]
        if crossed:
            clock.warned_percent = max(crossed)
            _tell(ticket, clock, "sla_warning", clock.warned_percent, now, policy)
            written += 1
    clocks.schedule(clock, cal, thresholds, now)
    clock.save(update_fields=["breached_at", "warned_percent", "next_check_at", "due_at", "fallback"])
    ticket.sla_state, ticket.sla_due_at = clocks.state_of(list(ticket.sla_clocks.all()), now)
    Ticket.objects.filter(pk=ticket.pk).update(sla_state=ticket.sla_state, sla_due_at=ticket.sla_due_at)
    return written


def people_to_tell(ticket: Ticket) -> list[User]:
    """The assignee; without one, the team's active members."""
    if ticket.assignee_id and ticket.assignee.is_active:
        return [ticket.assignee]
    if ticket.team_id:
        return list(ticket.team.members.filter(is_active=True).order_by("pk"))
    return []


def message(ticket: Ticket, clock: SLAClock, event: str, percent: int, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """The notification in each language: {language: {title, text, severity, url}}."""
    url = settings.BASE_URL + reverse("servicedesk:ticket_detail", args=[ticket.pk])
    texts = {}
    for language in LANGUAGES:
        with translation.override(language):
            kind = str(clock.get_kind_display())
            if event == "sla_met_late":
                title = gettext("SLA met late: %(kind)s of #%(number)s %(title)s") % {
                    "kind": kind, "number": ticket.pk, "title": ticket.title}
                text = gettext("The %(kind)s target of ticket #%(number)s (%(customer)s) is met now; it was due "
                               "at %(due)s.") % {"kind": kind, "number": ticket.pk, "customer": ticket.customer,
                                                  "due": timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M")}
            elif event == "sla_breached":
                title = gettext("SLA breached: %(kind)s of #%(number)s %(title)s") % {
                    "kind": kind, "number": ticket.pk, "title": ticket.title}
                text = gettext("The %(kind)s target of ticket #%(number)s (%(customer)s) was due at %(due)s.") % {
                    "kind": kind, "number": ticket.pk, "customer": ticket.customer,
                    "due": timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M")}
            else:
                left = max(0, clock.target_seconds - clocks.used_seconds(
                    clock, compile_calendar(clock.calendar if clock.calendar_id else None), now))
                title = gettext("SLA %(percent)d%% used: %(kind)s of #%(number)s %(title)s") % {
                    "percent": percent, "kind": kind, "number": ticket.pk, "title": ticket.title}
                text = gettext("%(left)s of business time left; due at %(due)s.") % {
                    "left": duration(left), "due": timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M")}
        texts[language] = {"title": title[:300], "text": text, "url": url,
                           "severity": {"sla_breached": "critical", "sla_met_late": "info"}.get(event, "major")}
    return texts


def _tell(ticket: Ticket, clock: SLAClock, event: str, percent: int, now: dt.datetime, policy) -> None:
    from opsdesk.notify import escalation

    entry = TicketEntry.objects.create(
        ticket=ticket, kind=EntryKind.EVENT, event=event, created_at=now,
        data={"clock": clock.kind, "percent": percent, "due_at": clock.due_at.isoformat() if clock.due_at else None})
    texts = message(ticket, clock, event, percent, now)
    step = "breach" if event == "sla_breached" else f"warn{percent}"
    escalation.tell_users(people_to_tell(ticket), message=texts, key=f"{source_of(clock)}:{step}",
                          source=source_of(clock), customer=ticket.customer)
    if event == "sla_breached" and policy is not None and policy.escalation_policy_id:
        escalation.start_page(source_of(clock), customer=ticket.customer, policy=policy.escalation_policy,
                              message=texts, now=now)
    ticket_event.send(sender=Ticket, ticket=ticket, event=event, entry=entry, clock=clock, percent=percent)
