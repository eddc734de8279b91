"""The queue and the ticket page cost a fixed number of queries, whatever the number of tickets
on the page or entries, files and events on the ticket (a query per row would show here first).
Speed itself is measured by bench/tickets.py."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from opsdesk.servicedesk import services
from tests.factories import ConfigurationItemFactory, make_alert, make_ticket

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _grow(ticket, engineer, n: int) -> None:
    for i in range(n):
        services.reply(ticket, actor=engineer, body=f"reply {i}", files=[(f"f{i}.txt", b"x", "text/plain")])
        services.note(ticket, actor=engineer, body=f"note {i}")
    services.change_status(ticket, actor=engineer, status="waiting_third_party")


def test_the_ticket_page_costs_the_same_with_10_or_40_replies(client, engineer, customer_a):
    client.force_login(engineer)
    items = [ConfigurationItemFactory(customer=customer_a) for _ in range(2)]
    small, big = (make_ticket(customer_a, configuration_items=items) for _ in range(2))
    for ticket in (small, big):
        services.take(ticket, actor=engineer)
        make_alert(item=items[0])
    # Both long enough that the change history (its last 20 rows) shows the same kinds of rows.
    _grow(small, engineer, 10)
    _grow(big, engineer, 40)
    url = lambda t: reverse("servicedesk:ticket_detail", args=[t.pk])  # noqa: E731
    _queries(client, url(big))  # warm-up: content types and the like are cached once per process
    assert _queries(client, url(small)) == _queries(client, url(big))


def test_the_queue_costs_the_same_with_5_or_60_tickets(client, engineer, customer_a):
    client.force_login(engineer)
    for _ in range(5):
        services.take(make_ticket(customer_a), actor=engineer)
    url = reverse("servicedesk:ticket_list") + "?queue=team&per_page=100"
    _queries(client, url)
    few = _queries(client, url)
    for _ in range(55):
        services.take(make_ticket(customer_a), actor=engineer)
    assert _queries(client, url) == few
