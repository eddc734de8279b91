"""Engineers are told what needs them: a ticket assigned to them (not when they take it
themselves), the customer's answer on their ticket, and a new urgent ticket nobody has yet."""

from __future__ import annotations

import pytest

from opsdesk.core.models import Role
from opsdesk.notify.models import ContactMethod, Notification
from opsdesk.servicedesk import services
from tests.factories import UserFactory, make_channel, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def reachable(engineer):
    channel = make_channel(None, kind="webhook")
    ContactMethod.objects.create(user=engineer, kind="channel", channel=channel, min_severity="info")
    return engineer


def _told(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("pk").values_list("title", flat=True))


def test_an_engineer_is_told_a_ticket_is_theirs_and_when_the_customer_answers(reachable, customer_a, customer_user):
    ticket = make_ticket(customer_a, impact="low", urgency="low")
    services.assign(ticket, actor=UserFactory(role=Role.ADMIN), assignee=reachable)
    services.reply(ticket, actor=customer_user, body="还是不行")
    titles = _told(reachable)
    assert len(titles) == 2
    assert f"#{ticket.pk}" in titles[0] and f"#{ticket.pk}" in titles[1]
    assert titles[0] != titles[1]


def test_taking_a_ticket_oneself_tells_nobody(reachable, customer_a):
    services.take(make_ticket(customer_a, impact="low", urgency="low"), actor=reachable)
    assert _told(reachable) == []


def test_a_new_urgent_ticket_tells_its_team_and_a_minor_one_does_not(reachable, customer_a):
    make_ticket(customer_a, impact="low", urgency="low")
    assert _told(reachable) == []
    urgent = make_ticket(customer_a, impact="high", urgency="high")
    assert [t for t in _told(reachable) if f"#{urgent.pk}" in t]
