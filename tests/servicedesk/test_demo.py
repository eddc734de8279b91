"""`opsdesk demo` with the service desk: tickets of both demo customers in several states."""

from __future__ import annotations

import pytest

from opsdesk.core.demo import load_demo
from opsdesk.servicedesk.models import Category, Ticket

pytestmark = pytest.mark.django_db


def test_the_demo_has_tickets_in_several_states_from_several_channels():
    said = load_demo()
    assert "6 tickets" in said
    assert {"new", "in_progress", "waiting_customer", "resolved", "closed"} <= \
        set(Ticket.objects.values_list("status", flat=True))
    assert {"portal", "email", "phone"} <= set(Ticket.objects.values_list("channel", flat=True))
    assert Category.objects.exclude(form_fields=[]).exists()
    # The ERP incident is about the demo's database server, whose checks and charts the page shows.
    erp = Ticket.objects.get(title__startswith="ERP")
    assert list(erp.configuration_items.values_list("name", flat=True)) == ["acme-db01"]
