"""The clocks through the ticket actions, on fixed dates: start from the contract, pause while
waiting for the customer and resume on their reply (the due date moves by exactly the business
time paused), a priority change keeps the paused time, resolve and reopen, no contract no SLA."""

from __future__ import annotations

import pytest
from django.db import transaction

from opsdesk.core.models import Role
from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import SLAClock, SLAPolicy
from opsdesk.servicedesk.sla import clocks
from opsdesk.servicedesk.sla.calendar import compile_calendar
from opsdesk.servicedesk.sla.summary import sla_summary
from tests.factories import CustomerFactory, UserFactory, make_ticket
from tests.servicedesk.sla.conftest import at, make_service_level

pytestmark = pytest.mark.django_db

HOUR = 3600


def _clock(ticket, kind: str = "resolution") -> SLAClock:
    return SLAClock.objects.get(ticket=ticket, kind=kind)


def _left(ticket, now, kind: str = "resolution") -> int:
    return next(c["seconds_left"] for c in sla_summary(ticket, now)["clocks"] if c["kind"] == kind)


def _open_general(customer, clock, when):
    """A P2 ticket (general: respond in 2 h, resolve in 8 h of business time) opened at `when`."""
    clock.set(when)
    return make_ticket(customer, impact="high", urgency="medium", at=clock())


def test_a_ticket_opened_on_the_friday_before_national_day(customer_a, gold, clock):
    ticket = _open_general(customer_a, clock, at(2025, 9, 26, 16))
    assert ticket.priority == "p2"
    assert _clock(ticket).due_at == at(2025, 9, 28, 15)  # the swapped Sunday counts
    assert _clock(ticket, "response").due_at == at(2025, 9, 26, 18)
    ticket.refresh_from_db()
    assert (ticket.sla_state, ticket.sla_due_at) == ("running", at(2025, 9, 26, 18))


def test_pause_and_resume_move_the_due_date_by_exactly_the_business_time_paused(customer_a, gold, clock,
                                                                                  engineer, customer_user):
    ticket = _open_general(customer_a, clock, at(2025, 9, 22, 10))  # a Monday
    assert _clock(ticket).due_at == at(2025, 9, 22, 18)
    clock.set(at(2025, 9, 22, 11))
    services.take(ticket, actor=engineer)
    services.change_status(ticket, actor=engineer, status="waiting_customer")
    ticket.refresh_from_db()
    paused = _clock(ticket)
    assert (ticket.sla_state, ticket.sla_due_at, paused.due_at) == ("paused", None, None)
    assert _left(ticket, clock()) == 7 * HOUR
    assert sla_summary(ticket, clock())["seconds_left"] == HOUR  # the nearest: the response, 1 h of 2 left
    clock.set(at(2025, 9, 23, 10))  # Monday 11–18 and Tuesday 9–10: 8 business hours later
    assert _left(ticket, clock()) == 7 * HOUR  # frozen while paused
    services.reply(ticket, actor=customer_user, body="Here is the log")
    ticket.refresh_from_db()
    resumed = _clock(ticket)
    assert ticket.status == "in_progress" and ticket.sla_state == "running"
    cal = compile_calendar(resumed.calendar)
    assert resumed.paused_seconds == cal.between(at(2025, 9, 22, 11), at(2025, 9, 23, 10)) == 8 * HOUR
    # Due Monday 18:00 before the pause; 8 business hours later now: Tuesday 9–17.
    assert resumed.due_at == cal.add(at(2025, 9, 22, 18), 8 * HOUR) == at(2025, 9, 23, 17)
    assert _left(ticket, clock()) == 7 * HOUR


def test_a_priority_change_keeps_the_paused_time(customer_a, gold, clock, engineer, customer_user):
    ticket = _open_general(customer_a, clock, at(2025, 9, 22, 10))
    clock.set(at(2025, 9, 22, 11))
    services.change_status(ticket, actor=engineer, status="waiting_customer")
    clock.set(at(2025, 9, 23, 10))
    services.reply(ticket, actor=customer_user, body="Here is the log")
    clock.set(at(2025, 9, 23, 11))
    services.change_priority(ticket, actor=engineer, impact="high", urgency="high")  # P1: resolve in 4 h
    ticket.refresh_from_db()
    resolution = _clock(ticket)
    assert ticket.priority == "p1"
    assert (resolution.target_seconds, resolution.paused_seconds) == (4 * HOUR, 8 * HOUR)
    assert resolution.started_at == at(2025, 9, 22, 10)
    # 4 h from Monday 10:00 is 14:00, and the 8 paused hours after it (14–18, 9–13): Tuesday 13:00.
    assert resolution.due_at == at(2025, 9, 23, 13)
    assert ticket.sla_due_at == min(resolution.due_at, _clock(ticket, "response").due_at)


def test_a_priority_change_while_paused_keeps_it_paused_and_the_pause_counts(customer_a, gold, clock, engineer):
    ticket = _open_general(customer_a, clock, at(2025, 9, 22, 10))
    clock.set(at(2025, 9, 22, 12))
    services.change_status(ticket, actor=engineer, status="waiting_customer")
    clock.set(at(2025, 9, 22, 15))
    services.change_priority(ticket, actor=engineer, impact="low", urgency="low")  # P4: minor, 16 h
    assert _clock(ticket).due_at is None
    clock.set(at(2025, 9, 23, 9))
    services.change_status(ticket, actor=engineer, status="in_progress")
    resolution = _clock(ticket)
    # Used before the pause: 10–12 = 2 h; paused 12–18 = 6 h; 16 h target: due after 24 h from Monday 10:00.
    assert resolution.paused_seconds == 6 * HOUR
    assert resolution.due_at == compile_calendar(resolution.calendar).add(at(2025, 9, 22, 10), 22 * HOUR)


def test_the_first_public_reply_meets_the_response_clock(customer_a, gold, clock, engineer):
    ticket = _open_general(customer_a, clock, at(2025, 9, 22, 10))
    clock.set(at(2025, 9, 22, 11))
    services.reply(ticket, actor=engineer, body="Looking at it")
    response = _clock(ticket, "response")
    assert response.stopped_at == at(2025, 9, 22, 11) and response.breached_at is None
    ticket.refresh_from_db()
    assert ticket.sla_due_at == _clock(ticket).due_at


def test_a_late_first_reply_is_recorded_as_breached_even_without_the_sweep(customer_a, gold, clock, engineer):
    ticket = _open_general(customer_a, clock, at(2025, 9, 22, 10))
    clock.set(at(2025, 9, 22, 13))  # 2 h allowed
    services.reply(ticket, actor=engineer, body="Sorry for the wait")
    assert _clock(ticket, "response").breached_at == at(2025, 9, 22, 12)


def test_resolve_stops_and_reopen_resumes_counting_the_resolved_time_as_paused(customer_a, gold, clock, engineer,
                                                                               customer_user):
    ticket = _open_general(customer_a, clock, at(2025, 9, 22, 10))
    clock.set(at(2025, 9, 22, 12))
    services.take(ticket, actor=engineer)
    services.resolve(ticket, actor=engineer, solution="Restarted the service.")
    ticket.refresh_from_db()
    assert ticket.sla_state == "met" and ticket.sla_due_at is None
    clock.set(at(2025, 9, 22, 15))
    services.reply(ticket, actor=customer_user, body="Broken again")
    ticket.refresh_from_db()
    resolution = _clock(ticket)
    assert ticket.status == "in_progress" and resolution.stopped_at is None
    assert resolution.paused_seconds == 3 * HOUR
    assert resolution.due_at == at(2025, 9, 23, 12)  # 18:00 Monday plus 3 h


def test_seven_by_twenty_four_targets_count_every_hour(customer_a, calendars, clock):
    level = make_service_level("24x7", business_hours=False)
    from tests.factories import ContractFactory

    ContractFactory(customer=customer_a, service_level=level, start_date=at(2025, 1, 1).date(),
                    end_date=at(2026, 12, 31).date())
    ticket = _open_general(customer_a, clock, at(2025, 9, 30, 20))
    assert _clock(ticket).calendar is None
    assert _clock(ticket).due_at == at(2025, 10, 1, 4)


def test_the_policys_calendar_is_used(customer_a, gold, calendars, clock):
    SLAPolicy.objects.create(service_level=gold, calendar=calendars["always"])
    ticket = _open_general(customer_a, clock, at(2025, 9, 30, 20))
    assert _clock(ticket).due_at == at(2025, 10, 1, 4)


def test_without_a_contract_there_is_no_sla(calendars, clock):
    ticket = make_ticket(CustomerFactory())
    ticket.refresh_from_db()
    assert (ticket.sla_state, ticket.sla_due_at) == ("", None)
    assert not SLAClock.objects.filter(ticket=ticket).exists()
    assert sla_summary(ticket, clock())["state"] == ""


def test_a_ticket_in_a_year_nobody_entered_says_its_clock_used_weekday_hours(customer_a, gold, clock):
    ticket = _open_general(customer_a, clock, at(2026, 12, 31, 16))
    summary = sla_summary(ticket, clock())
    assert _clock(ticket).fallback and summary["fallback"] and summary["fallback_notice"]


def test_the_update_clock_starts_over_with_each_public_reply(customer_a, gold, clock, engineer):
    SLAPolicy.objects.create(service_level=gold, update_minutes=60)
    ticket = _open_general(customer_a, clock, at(2025, 9, 22, 10))
    clock.set(at(2025, 9, 22, 10, 30))
    services.reply(ticket, actor=engineer, body="On it")
    first = SLAClock.objects.get(ticket=ticket, kind="update")
    assert first.due_at == at(2025, 9, 22, 11, 30)
    clock.set(at(2025, 9, 22, 11))
    services.reply(ticket, actor=engineer, body="Still on it")
    updates = list(SLAClock.objects.filter(ticket=ticket, kind="update").order_by("pk"))
    assert [u.stopped_at for u in updates] == [at(2025, 9, 22, 11), None]
    assert updates[1].due_at == at(2025, 9, 22, 12)
    services.note(ticket, actor=engineer, body="internal only")
    assert SLAClock.objects.filter(ticket=ticket, kind="update").count() == 2


def test_a_changed_target_recounts_open_tickets(customer_a, gold, clock, django_capture_on_commit_callbacks):
    ticket = _open_general(customer_a, clock, at(2025, 9, 22, 10))
    target = gold.targets.get(fault_level="general")
    target.resolution_minutes = 9 * 60
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        target.save()
    assert _clock(ticket).due_at == at(2025, 9, 23, 10)


def test_an_added_holiday_recounts_the_clocks_on_that_calendar(customer_a, gold, calendars, clock, admin,
                                                               django_capture_on_commit_callbacks):
    from opsdesk.servicedesk.sla import services as sla_services

    ticket = _open_general(customer_a, clock, at(2026, 12, 31, 16))
    assert _clock(ticket).due_at == at(2027, 1, 1, 15)
    with django_capture_on_commit_callbacks(execute=True):
        sla_services.add_days(calendars["china"], actor=admin,
                              specs=sla_services.parse_lines("2027-01-01..2027-01-03 holiday 元旦"))
    ticket.refresh_from_db()
    assert _clock(ticket).due_at == at(2027, 1, 4, 15)
    assert ticket.sla_due_at == _clock(ticket, "response").due_at


def test_the_state_function_prefers_breached_then_paused(customer_a, gold, clock):
    ticket = _open_general(customer_a, clock, at(2025, 9, 22, 10))
    state, _due = clocks.state_of(list(ticket.sla_clocks.all()), at(2025, 9, 22, 13))
    assert state == "breached"  # the response was due at 12:00
    assert UserFactory(role=Role.ENGINEER)  # nobody was told by this: the sweep does that
