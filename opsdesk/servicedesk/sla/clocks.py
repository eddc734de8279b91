"""The ticket's SLA clocks, driven by the ticket actions (opsdesk.servicedesk.services), always in
the action's transaction: each function updates the clocks and the ticket's `sla_due_at` and
`sla_state` columns (the caller saves nothing of them).

The targets: the customer's contract in force on the day the ticket was opened → its service
level → the target of the ticket's fault level (FAULT_LEVEL_OF_PRIORITY). No contract, or no
target for the fault level: no SLA (sla_state ""). A business-hours target counts on the SLA
policy's calendar (else the default calendar); any other on 7×24.

Every pause is kept (`SLAClock.pauses`, plus the open one in `paused_since`): a new target or a
changed calendar recounts the paused business time from them, so nothing paused is lost."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from opsdesk.core.memo import remember
from opsdesk.core.models import Contract, ServiceLevelTarget
from opsdesk.servicedesk.models import BusinessCalendar, ClockKind, SLAClock, SLAPolicy, Ticket
from opsdesk.servicedesk.models.tickets import FAULT_LEVEL_OF_PRIORITY, OPEN_STATUSES, PAUSED_STATUSES
from opsdesk.servicedesk.sla.calendar import CompiledCalendar, compile_calendar

STOPPED_BY_RESOLUTION = "resolution"
STOPPED_BY_RESPONSE = "response"
STOPPED_BY_UPDATE = "update"  # a public reply of the desk: the next update clock starts


@dataclass
class Targets:
    """What a ticket is held to now."""

    policy: SLAPolicy | None
    target: ServiceLevelTarget | None
    calendar: BusinessCalendar | None  # None: 7×24

    def seconds(self, kind: str) -> int | None:
        if kind == ClockKind.RESPONSE and self.target is not None:
            return self.target.response_minutes * 60
        if kind == ClockKind.RESOLUTION and self.target is not None:
            return self.target.resolution_minutes * 60
        if kind == ClockKind.UPDATE and self.target is not None and self.policy is not None \
                and self.policy.update_minutes:
            return self.policy.update_minutes * 60
        return None


def _local_day(at: dt.datetime) -> dt.date:
    # Contracts run from day to day in the service provider's time zone.
    return timezone.localtime(at, zoneinfo.ZoneInfo(settings.OPSDESK_TIME_ZONE)).date()


def contract_of(ticket: Ticket) -> Contract | None:
    """The customer's contract in force on the day the ticket was opened (the latest started)."""
    day = _local_day(ticket.created_at)
    return remember(
        ("sla.contract", ticket.customer_id, day),
        lambda: Contract.objects.filter(customer_id=ticket.customer_id, start_date__lte=day, end_date__gte=day)
        .select_related("service_level").order_by("-start_date", "-pk").first())


def default_calendar() -> BusinessCalendar | None:
    return remember("sla.default_calendar",
                    lambda: BusinessCalendar.objects.filter(is_default=True).order_by("pk").first())


def targets_of(ticket: Ticket) -> Targets:
    contract = contract_of(ticket)
    if contract is None:
        return Targets(None, None, None)
    fault = FAULT_LEVEL_OF_PRIORITY.get(ticket.priority, "minor")
    level = contract.service_level_id
    target = remember(("sla.target", level, fault),
                      lambda: ServiceLevelTarget.objects.filter(service_level_id=level, fault_level=fault).first())
    policy = remember(("sla.policy", level),
                      lambda: SLAPolicy.objects.filter(service_level_id=level).select_related("calendar").first())
    calendar = None
    if target is not None and target.business_hours_only:
        calendar = (policy.calendar if policy is not None else None) or default_calendar()
    return Targets(policy, target, calendar)


# --- one clock ---------------------------------------------------------------------------------

def _compiled(clock: SLAClock) -> CompiledCalendar:
    return compile_calendar(clock.calendar if clock.calendar_id else None)


def _pauses(clock: SLAClock) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)) for a, b in clock.pauses]


def _recount_paused(clock: SLAClock, cal: CompiledCalendar) -> None:
    clock.paused_seconds = round(sum(cal.between(a, b) for a, b in _pauses(clock)))


def used_seconds(clock: SLAClock, cal: CompiledCalendar, now: dt.datetime) -> float:
    """Business seconds of the target used up to `now` (frozen while paused or stopped)."""
    end = min(t for t in (now, clock.paused_since, clock.stopped_at) if t is not None)
    return max(0.0, cal.between(clock.started_at, end) - clock.paused_seconds)


def schedule(clock: SLAClock, cal: CompiledCalendar, thresholds: Iterable[int], now: dt.datetime) -> None:
    """The clock's due date and next check from its target, start and pauses. Paused or stopped:
    no next check (and, paused, no due date: the time left is frozen)."""
    if clock.stopped_at is not None:
        clock.next_check_at = None
        return
    if clock.paused_since is not None:
        clock.due_at = clock.next_check_at = None
        return
    clock.due_at = cal.add(clock.started_at, clock.target_seconds + clock.paused_seconds)
    clock.fallback = cal.unknown_between(clock.started_at, max(clock.due_at, now))
    if clock.breached_at is not None:
        clock.next_check_at = None
        return
    upcoming = [p for p in sorted(thresholds) if p > clock.warned_percent]
    if upcoming:
        at = cal.add(clock.started_at, clock.target_seconds * upcoming[0] / 100 + clock.paused_seconds)
        clock.next_check_at = min(at, clock.due_at)
    else:
        clock.next_check_at = clock.due_at


def _pause(clock: SLAClock, at: dt.datetime) -> None:
    if clock.stopped_at is None and clock.paused_since is None:
        clock.paused_since = at


def _resume(clock: SLAClock, cal: CompiledCalendar, at: dt.datetime) -> None:
    if clock.paused_since is not None:
        if at > clock.paused_since:
            clock.pauses = [*clock.pauses, [clock.paused_since.isoformat(), at.isoformat()]]
        clock.paused_since = None
        _recount_paused(clock, cal)


def _stop(clock: SLAClock, cal: CompiledCalendar, at: dt.datetime, by: str) -> None:
    if clock.stopped_at is not None:
        return
    _resume(clock, cal, at)
    clock.due_at = cal.add(clock.started_at, clock.target_seconds + clock.paused_seconds)
    if clock.breached_at is None and at > clock.due_at:
        clock.breached_at = clock.due_at  # late, whether or not the sweep saw it
    clock.stopped_at, clock.stopped_by, clock.next_check_at = at, by, None
    clock.just_stopped = True  # _finish ends its breach escalation, if one runs


def _restart(clock: SLAClock, cal: CompiledCalendar, at: dt.datetime) -> None:
    """A reopened ticket: the clock goes on, the time it lay resolved counted as paused."""
    if clock.stopped_at is None or clock.stopped_by != STOPPED_BY_RESOLUTION:
        return
    if at > clock.stopped_at:
        clock.pauses = [*clock.pauses, [clock.stopped_at.isoformat(), at.isoformat()]]
    clock.stopped_at, clock.stopped_by = None, ""
    _recount_paused(clock, cal)


# --- the ticket --------------------------------------------------------------------------------

def _clocks(ticket: Ticket) -> list[SLAClock]:
    return list(SLAClock.objects.filter(ticket=ticket).select_related("calendar").order_by("started_at", "pk"))


def _thresholds(policy: SLAPolicy | None) -> tuple[int, ...]:
    return policy.thresholds if policy is not None else ()


def _policy_of(ticket: Ticket) -> SLAPolicy | None:
    contract = contract_of(ticket)
    if contract is None:
        return None
    return SLAPolicy.objects.filter(service_level_id=contract.service_level_id).first()


def state_of(clocks: list[SLAClock], at: dt.datetime) -> tuple[str, dt.datetime | None]:
    """The ticket's (sla_state, sla_due_at) from its clocks: the worst running one, else the
    record of the stopped ones."""
    running = [c for c in clocks if c.stopped_at is None]
    if running:
        dues = [c.due_at for c in running if c.paused_since is None and c.due_at is not None]
        if any(c.breached_at is not None or (c.paused_since is None and c.due_at is not None and c.due_at <= at)
               for c in running):
            state = "breached"
        elif any(c.paused_since is not None for c in running):
            state = "paused"
        elif any(c.warned_percent for c in running):
            state = "warning"
        else:
            state = "running"
        return state, min(dues) if dues else None
    if clocks:
        return ("breached" if any(c.breached_at is not None for c in clocks) else "met"), None
    return "", None


def _finish(ticket: Ticket, clocks: list[SLAClock], at: dt.datetime) -> None:
    for clock in clocks:
        if clock.pk is None:
            clock.save()
        else:
            clock.save(update_fields=["calendar", "target_seconds", "paused_seconds", "pauses", "paused_since",
                                      "due_at", "stopped_at", "stopped_by", "breached_at", "warned_percent",
                                      "next_check_at", "fallback"])
        if getattr(clock, "just_stopped", False) and clock.breached_at is not None:
            _end_escalation(ticket, clock, at)
    ticket.sla_state, ticket.sla_due_at = state_of(clocks, at)


def _end_escalation(ticket: Ticket, clock: SLAClock, at: dt.datetime) -> None:
    """A breached target was met late (the answer came, the ticket was resolved): its breach
    escalation, if one runs, stops, and those it paged hear that it is over."""
    from opsdesk.notify import escalation
    from opsdesk.servicedesk.sla import sweep

    escalation.resolve_page(sweep.source_of(clock), message=sweep.message(ticket, clock, "sla_met_late", 100, at))


def _new_clock(ticket: Ticket, kind: str, seconds: int, calendar: BusinessCalendar | None, at: dt.datetime,
               thresholds: tuple[int, ...]) -> SLAClock:
    clock = SLAClock(ticket=ticket, kind=kind, calendar=calendar, target_seconds=seconds, started_at=at)
    if ticket.status in PAUSED_STATUSES:
        clock.paused_since = at
    schedule(clock, compile_calendar(calendar), thresholds, at)
    return clock


def opening_clocks(ticket: Ticket, at: dt.datetime) -> list[SLAClock]:
    """A ticket is being opened: its first-response and resolution clocks from its contract,
    not yet written, and its `sla_state` and `sla_due_at` set from them. The ticket may not be
    saved yet; `save_new` writes the clocks once it is."""
    targets = targets_of(ticket)
    clocks = []
    for kind in (ClockKind.RESPONSE, ClockKind.RESOLUTION):
        seconds = targets.seconds(kind)
        if seconds:
            clocks.append(_new_clock(ticket, kind, seconds, targets.calendar, at, _thresholds(targets.policy)))
    ticket.sla_state, ticket.sla_due_at = state_of(clocks, at)
    return clocks


def save_new(clocks: list[SLAClock]) -> None:
    SLAClock.objects.bulk_create(clocks)


def responded(ticket: Ticket, at: dt.datetime) -> None:
    """The first public reply from the service desk: the response clock is met (or breached),
    and the update clock (when the policy asks for updates) starts."""
    clocks = _clocks(ticket)
    for clock in clocks:
        if clock.kind == ClockKind.RESPONSE:
            _stop(clock, _compiled(clock), at, STOPPED_BY_RESPONSE)
    clocks += _next_update(ticket, clocks, at)
    _finish(ticket, clocks, at)


def _next_update(ticket: Ticket, clocks: list[SLAClock], at: dt.datetime) -> list[SLAClock]:
    """The update clock after a public reply of the desk: the running one is met, a new one starts."""
    if ticket.status not in OPEN_STATUSES:
        return []
    targets = targets_of(ticket)
    seconds = targets.seconds(ClockKind.UPDATE)
    for clock in clocks:
        if clock.kind == ClockKind.UPDATE and clock.stopped_at is None:
            if clock.started_at >= at:
                return []  # this reply already started it
            _stop(clock, _compiled(clock), at, STOPPED_BY_UPDATE)
    if not seconds:
        return []
    resolution = next((c for c in clocks if c.kind == ClockKind.RESOLUTION), None)
    calendar = resolution.calendar if resolution is not None else targets.calendar
    return [_new_clock(ticket, ClockKind.UPDATE, seconds, calendar, at, _thresholds(targets.policy))]


def desk_replied(ticket: Ticket, at: dt.datetime) -> None:
    """A later public reply of the desk (opsdesk.servicedesk.sla.listeners): the update clock starts over."""
    if ticket.first_response_at is None or ticket.first_response_at >= at:
        return  # the first response: responded() did it
    clocks = _clocks(ticket)
    if not any(c.kind == ClockKind.UPDATE for c in clocks) and not (_policy_of(ticket) or SLAPolicy()).update_minutes:
        return
    clocks += _next_update(ticket, clocks, at)
    _finish(ticket, clocks, at)


def status_changed(ticket: Ticket, old: str, new: str, at: dt.datetime) -> None:
    """Pause on waiting for the customer, resume on leaving it, stop on resolved, restart on reopen."""
    clocks = _clocks(ticket)
    if not clocks:
        return
    thresholds = _thresholds(_policy_of(ticket))
    was_open, is_open = old in OPEN_STATUSES, new in OPEN_STATUSES
    for clock in clocks:
        cal = _compiled(clock)
        if was_open and not is_open:
            _stop(clock, cal, at, STOPPED_BY_RESOLUTION)
        elif not was_open and is_open:
            _restart(clock, cal, at)
        if is_open:
            if new in PAUSED_STATUSES:
                _pause(clock, at)
            else:
                _resume(clock, cal, at)
        schedule(clock, cal, thresholds, at)
    _finish(ticket, clocks, at)


def recompute(ticket: Ticket, at: dt.datetime) -> None:
    """New targets for the ticket's priority and policy, on its calendar as it is now, from the
    same start and with the same pauses (recounted on the calendar now in force)."""
    clocks = _clocks(ticket)
    if not clocks:
        return
    targets = targets_of(ticket)
    thresholds = _thresholds(targets.policy)
    for clock in clocks:
        if clock.stopped_at is not None:
            continue
        seconds = targets.seconds(clock.kind)
        if seconds:
            clock.target_seconds = seconds
            clock.calendar = targets.calendar
        cal = _compiled(clock)
        _recount_paused(clock, cal)
        used = used_seconds(clock, cal, at)
        # Warnings follow the new target: a threshold no longer crossed may warn again later.
        clock.warned_percent = max([p for p in thresholds if used * 100 >= p * clock.target_seconds and
                                    p <= clock.warned_percent], default=0)
        if clock.breached_at is not None and cal.add(clock.started_at, clock.target_seconds +
                                                     clock.paused_seconds) > at:
            clock.breached_at = None  # the timeline keeps the breach that was; the clock is in time now
        schedule(clock, cal, thresholds, at)
    _finish(ticket, clocks, at)


def priority_changed(ticket: Ticket, at: dt.datetime) -> None:
    """New targets for the new priority, counted from the same start, keeping the paused time."""
    recompute(ticket, at)
