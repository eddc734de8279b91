"""The sweep on fixed dates: warnings at the policy's thresholds and the breach, each written
once (timeline event, signal, notification of the assignee or the team, the escalation page on
a breach) however often the sweep runs."""

from __future__ import annotations

import pytest

from opsdesk.core.models import Role
from opsdesk.notify.models import ContactMethod, EscalationPolicy, EscalationStep, Notification, Page
from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import SLAClock, SLAPolicy, TicketEntry
from opsdesk.servicedesk.signals import ticket_event
from opsdesk.servicedesk.sla import sweep
from opsdesk.servicedesk.sla.tasks import sweep_sla
from tests.factories import UserFactory, make_channel, make_ticket
from tests.servicedesk.sla.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def reachable(engineer):
    """The engineer is reached on a webhook channel (nothing listens; the rows are what counts)."""
    ContactMethod.objects.create(user=engineer, kind="channel", channel=make_channel(), address="")
    return engineer


@pytest.fixture
def heard():
    events = []

    def listen(sender, ticket, event, entry=None, **kwargs):
        if event.startswith("sla_"):
            events.append((event, kwargs.get("percent")))
    ticket_event.connect(listen, weak=False)
    yield events
    ticket_event.disconnect(listen)


def _ticket_taken_and_answered(customer, clock, engineer):
    """A P2 ticket (resolve in 8 business hours) opened Monday 2025-09-22 10:00, taken and answered."""
    clock.set(at(2025, 9, 22, 10))
    ticket = make_ticket(customer, impact="high", urgency="medium", at=clock())
    clock.set(at(2025, 9, 22, 10, 30))
    services.take(ticket, actor=engineer)
    services.reply(ticket, actor=engineer, body="On it")
    return ticket


def _events(ticket) -> list[tuple[str, int]]:
    return [(e.event, e.data["percent"]) for e in TicketEntry.objects.filter(ticket=ticket, event__startswith="sla_")
            .order_by("pk")]


def test_warnings_and_the_breach_are_written_once_however_often_the_sweep_runs(customer_a, gold, clock, reachable,
                                                                             heard):
    SLAPolicy.objects.create(service_level=gold, warn_at="75,90")
    ticket = _ticket_taken_and_answered(customer_a, clock, reachable)
    resolution = SLAClock.objects.get(ticket=ticket, kind="resolution")
    assert resolution.next_check_at == at(2025, 9, 22, 16)  # 75 % of 8 h from 10:00

    clock.set(at(2025, 9, 22, 15, 59))
    assert sweep.sweep() == 0
    clock.set(at(2025, 9, 22, 16))
    assert sweep.sweep() == 1
    assert sweep.sweep() == 0
    ticket.refresh_from_db()
    assert ticket.sla_state == "warning"
    assert _events(ticket) == [("sla_warning", 75)]
    assert Notification.objects.filter(recipient=reachable, source=f"servicedesk.sla:{resolution.pk}").count() == 1

    clock.set(at(2025, 9, 22, 17, 12))  # 90 %
    sweep_sla()  # the beat's task
    sweep_sla()
    clock.set(at(2025, 9, 22, 18, 1))
    sweep_sla()
    sweep_sla()
    ticket.refresh_from_db()
    assert ticket.sla_state == "breached"
    assert _events(ticket) == [("sla_warning", 75), ("sla_warning", 90), ("sla_breached", 100)]
    assert heard == [("sla_warning", 75), ("sla_warning", 90), ("sla_breached", 100)]
    assert Notification.objects.filter(recipient=reachable, source__startswith="servicedesk.sla:").count() == 3
    assert SLAClock.objects.get(pk=resolution.pk).breached_at == at(2025, 9, 22, 18)


def test_a_breach_starts_the_policys_escalation_once(customer_a, gold, clock, reachable):
    boss = UserFactory(role=Role.MANAGER)
    ContactMethod.objects.create(user=boss, kind="channel", channel=make_channel(), address="")
    escalation = EscalationPolicy.objects.create(name="SLA breaches")
    EscalationStep.objects.create(policy=escalation, position=0, delay_minutes=0, target="user", user=boss)
    SLAPolicy.objects.create(service_level=gold, warn_at="", escalation_policy=escalation)
    ticket = _ticket_taken_and_answered(customer_a, clock, reachable)
    resolution = SLAClock.objects.get(ticket=ticket, kind="resolution")
    clock.set(at(2025, 9, 22, 18, 5))
    sweep.sweep()
    sweep.sweep()
    page = Page.objects.get(source=f"servicedesk.sla:{resolution.pk}")
    assert page.policy == escalation and page.customer == customer_a
    assert Notification.objects.filter(recipient=boss, source__startswith="servicedesk.sla:").count() == 1
    assert Notification.objects.filter(recipient=reachable, source__startswith="servicedesk.sla:").count() == 1


@pytest.fixture
def boss(gold):
    """A manager paged by the SLA policy's escalation on a breach (three rounds)."""
    boss = UserFactory(role=Role.MANAGER)
    ContactMethod.objects.create(user=boss, kind="channel", channel=make_channel(), address="")
    escalation = EscalationPolicy.objects.create(name="SLA breaches", repeat=3)
    EscalationStep.objects.create(policy=escalation, position=0, delay_minutes=0, target="user", user=boss)
    SLAPolicy.objects.create(service_level=gold, warn_at="", escalation_policy=escalation)
    return boss


def test_resolving_the_ticket_ends_its_breach_escalation_and_tells_those_paged(customer_a, clock, reachable, boss):
    ticket = _ticket_taken_and_answered(customer_a, clock, reachable)
    resolution = SLAClock.objects.get(ticket=ticket, kind="resolution")
    clock.set(at(2025, 9, 22, 18, 5))
    sweep.sweep()
    page = Page.objects.get(source=f"servicedesk.sla:{resolution.pk}")
    assert page.state == "active"
    clock.set(at(2025, 9, 22, 18, 30))
    services.resolve(ticket, actor=reachable, solution="Fixed")
    page.refresh_from_db()
    assert page.state == "resolved" and page.next_at is None
    told = Notification.objects.filter(recipient=boss, source__startswith="servicedesk.sla:").order_by("pk")
    assert told.count() == 2
    assert told.last().title.startswith("SLA 已逾期达成")  # the manager reads zh-Hans, opsdesk's default


def test_acknowledging_the_page_itself_stops_its_steps(customer_a, clock, reachable, boss):
    from django.test import Client

    _ticket_taken_and_answered(customer_a, clock, reachable)
    clock.set(at(2025, 9, 22, 18, 5))
    sweep.sweep()
    page = Page.objects.get(source__startswith="servicedesk.sla:")
    web = Client()
    web.force_login(boss)
    assert f"/notify/pages/{page.pk}/actions/acknowledge/" in web.get(f"/notify/pages/{page.pk}/").content.decode()
    assert web.post(f"/notify/pages/{page.pk}/actions/acknowledge/").status_code == 302
    page.refresh_from_db()
    assert (page.state, page.acknowledged_by) == ("acknowledged", boss)
    assert f"/notify/pages/{page.pk}/actions/acknowledge/" not in web.get(f"/notify/pages/{page.pk}/").content.decode()


def test_without_an_assignee_the_team_is_told(customer_a, gold, clock, engineer):
    ContactMethod.objects.create(user=engineer, kind="channel", channel=make_channel(), address="")
    clock.set(at(2025, 9, 22, 10))
    ticket = make_ticket(customer_a, impact="high", urgency="medium", at=clock())
    assert ticket.assignee is None and engineer in ticket.team.members.all()
    clock.set(at(2025, 9, 22, 12, 1))  # the 2 h response is over
    sweep.sweep()
    assert Notification.objects.filter(recipient=engineer, source__startswith="servicedesk.sla:").count() == 1
    assert _events(ticket)[0] == ("sla_breached", 100)


def test_a_paused_ticket_is_not_warned(customer_a, gold, clock, reachable):
    SLAPolicy.objects.create(service_level=gold, warn_at="75")
    ticket = _ticket_taken_and_answered(customer_a, clock, reachable)
    clock.set(at(2025, 9, 22, 11))
    services.change_status(ticket, actor=reachable, status="waiting_customer")
    clock.set(at(2025, 9, 23, 17))
    assert sweep.sweep() == 0
    assert _events(ticket) == []


def test_the_messages_come_in_both_languages(customer_a, gold, clock, reachable):
    ticket = _ticket_taken_and_answered(customer_a, clock, reachable)
    resolution = SLAClock.objects.get(ticket=ticket, kind="resolution")
    texts = sweep.message(ticket, resolution, "sla_breached", 100, at(2025, 9, 22, 19))
    assert set(texts) == {"zh-hans", "en"}
    assert f"#{ticket.pk}" in texts["en"]["title"] and texts["en"]["severity"] == "critical"
    assert texts["en"]["url"].endswith(f"/{ticket.pk}/")
