"""What moves the clocks besides the ticket actions: a later public reply of the desk (the update
clock starts over), and changes of the SLA configuration (a calendar or its days, a policy, a
service level's targets), after which every open ticket concerned is recounted."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from opsdesk.core.models import Contract, ServiceLevelTarget
from opsdesk.servicedesk.models import BusinessCalendar, CalendarDay, SLAClock, SLAPolicy, Ticket
from opsdesk.servicedesk.signals import ticket_event
from opsdesk.servicedesk.sla import clocks

log = logging.getLogger(__name__)


@receiver(ticket_event)
def _on_ticket_event(sender, ticket: Ticket, event: str, entry=None, customer_side: bool = False, **kwargs) -> None:
    if event == "reply" and entry is not None and entry.public and not customer_side:
        clocks.desk_replied(ticket, entry.created_at)


def recompute_tickets(ticket_ids: list[int]) -> int:
    """Recount the running clocks of these tickets, each under its row lock; the number done."""
    done = 0
    now = timezone.now()
    for pk in ticket_ids:
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().filter(pk=pk).first()
            if ticket is None:
                continue
            clocks.recompute(ticket, now)
            Ticket.objects.filter(pk=pk).update(sla_state=ticket.sla_state, sla_due_at=ticket.sla_due_at)
            done += 1
    return done


def _running_ticket_ids(**clock_filter) -> list[int]:
    return list(SLAClock.objects.filter(stopped_at__isnull=True, **clock_filter)
                .values_list("ticket_id", flat=True).distinct())


def _later(key: tuple, ids_of) -> None:
    """Recount after the commit (the change is visible, and a rolled-back edit recounts nothing),
    once per transaction and key: adding a week of holidays saves seven days."""
    connection = transaction.get_connection()
    level = set(connection.savepoint_ids)
    # Only among the callbacks of this same (save)point: one of an outer block may be dropped
    # with a savepoint rolled back.
    if any(getattr(entry[1], "sla_key", None) == key and entry[0] == level for entry in connection.run_on_commit):
        return

    def run() -> None:
        try:
            recompute_tickets(ids_of())
        except Exception:  # the edit itself succeeded; the sweep's next look still sees the old due
            log.exception("recounting the SLA clocks failed")
    run.sla_key = key  # type: ignore[attr-defined]
    transaction.on_commit(run)


@receiver(post_save, sender=CalendarDay)
@receiver(post_delete, sender=CalendarDay)
def _day_changed(sender, instance: CalendarDay, **kwargs) -> None:
    BusinessCalendar.objects.filter(pk=instance.calendar_id).update(version=F("version") + 1)
    calendar_id = instance.calendar_id
    _later(("calendar", calendar_id), lambda: _running_ticket_ids(calendar_id=calendar_id))


@receiver(post_save, sender=BusinessCalendar)
def _calendar_changed(sender, instance: BusinessCalendar, created: bool, **kwargs) -> None:
    if not created:
        calendar_id = instance.pk
        _later(("calendar", calendar_id), lambda: _running_ticket_ids(calendar_id=calendar_id))


def _tickets_of_service_level(service_level_id: int) -> list[int]:
    customers = Contract.objects.filter(service_level_id=service_level_id).values("customer_id")
    return _running_ticket_ids(ticket__customer_id__in=customers)


@receiver(post_save, sender=SLAPolicy)
@receiver(post_delete, sender=SLAPolicy)
@receiver(post_save, sender=ServiceLevelTarget)
@receiver(post_delete, sender=ServiceLevelTarget)
def _policy_changed(sender, instance, **kwargs) -> None:
    service_level_id = instance.service_level_id
    _later(("service_level", service_level_id), lambda: _tickets_of_service_level(service_level_id))
