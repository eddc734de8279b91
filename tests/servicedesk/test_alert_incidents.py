"""A critical alert opens an incident by itself: one ticket per alert group (the item), re-fires
and other alerts of the item join it, held alerts open nothing, and the resolution is noted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from opsdesk.cmdb.models import Relation
from opsdesk.monitoring.alerting.lifecycle import Candidate, Recovery, apply, fingerprint
from opsdesk.monitoring.models import Alert
from opsdesk.servicedesk.models import AlertTicketPolicy, Ticket, TicketAlert
from tests.factories import ConfigurationItemFactory, TeamFactory, kind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def policy(db):
    return AlertTicketPolicy.objects.create(customer=None, min_severity="critical")


def down(item, title: str = "down", severity: str = "critical", at: dt.datetime | None = None) -> Candidate:
    return Candidate(fingerprint=fingerprint("t", item.pk, title), customer_id=item.customer_id, source="rule",
                     title=f"{item.name} {title}", severity=severity, at=at or timezone.now(), item_id=item.pk,
                     value=99.5, threshold=90)


def test_a_critical_alert_opens_a_p1_incident_on_its_item_for_the_serving_team(customer_a):
    team = TeamFactory()
    team.customers.add(customer_a)
    item = ConfigurationItemFactory(customer=customer_a, name="db-01")
    apply([down(item)])
    ticket = Ticket.objects.get()
    assert (ticket.customer, ticket.ticket_type, ticket.priority, ticket.channel, ticket.team) == \
        (customer_a, "incident", "p1", "alert", team)
    assert list(ticket.configuration_items.all()) == [item]
    assert ticket.alert_links.get().alert == Alert.objects.get()
    assert "99.5" in ticket.entries.get().body


def test_a_major_alert_opens_nothing_under_the_default_policy(customer_a):
    apply([down(ConfigurationItemFactory(customer=customer_a), severity="major")])
    assert Alert.objects.count() == 1 and not Ticket.objects.exists()


def test_a_customers_own_policy_wins(customer_a, customer_b):
    AlertTicketPolicy.objects.create(customer=customer_a, min_severity="minor")
    AlertTicketPolicy.objects.create(customer=customer_b, min_severity="critical", enabled=False)
    apply([down(ConfigurationItemFactory(customer=customer_a), severity="minor"),
           down(ConfigurationItemFactory(customer=customer_b))])
    assert list(Ticket.objects.values_list("customer", flat=True)) == [customer_a.pk]


def test_a_refire_and_a_second_alert_on_the_item_join_the_open_incident(customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    apply([down(item)])
    apply([], [Recovery(fingerprint=fingerprint("t", item.pk, "down"), at=timezone.now())])
    apply([down(item)])  # fires again: a new alert row, the same incident
    apply([down(item, title="disk full")])
    ticket = Ticket.objects.get()
    assert TicketAlert.objects.filter(ticket=ticket).count() == 3
    assert list(ticket.entries.filter(kind="event").values_list("event", flat=True)) == \
        ["alert_resolved", "alert_linked", "alert_linked"]


def test_after_the_incident_is_resolved_the_next_alert_opens_a_new_one(customer_a, admin):
    from opsdesk.servicedesk import services

    item = ConfigurationItemFactory(customer=customer_a)
    apply([down(item)])
    services.resolve(Ticket.objects.get(), actor=admin, solution="restarted")
    apply([down(item, title="again")])
    assert Ticket.objects.count() == 2


def test_the_servers_behind_a_dead_switch_open_no_incidents(customer_a):
    switch = ConfigurationItemFactory(customer=customer_a, name="core-switch", kind=kind("network_device"))
    servers = [ConfigurationItemFactory(customer=customer_a) for _ in range(3)]
    for server in servers:
        Relation.objects.create(source=server, type="connected_to", target=switch)
    apply([down(s) for s in servers] + [down(switch)])
    ticket = Ticket.objects.get()
    assert list(ticket.configuration_items.all()) == [switch]


def test_the_alerts_resolution_is_noted_on_the_ticket(customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    apply([down(item)])
    apply([], [Recovery(fingerprint=fingerprint("t", item.pk, "down"), at=timezone.now())])
    ticket = Ticket.objects.get()
    resolved = ticket.entries.get(event="alert_resolved")
    assert resolved.data["alert"] == Alert.objects.get().pk
    assert ticket.status == "new"  # the engineer decides when the incident is over


def test_the_alert_page_shows_its_incident_and_the_rules_runbook(customer_a, engineer, engineer_of_b, client):
    from opsdesk.monitoring.models import AlertRule

    item = ConfigurationItemFactory(customer=customer_a, name="db-01")
    rule = AlertRule.objects.create(name="DB down", customer=customer_a, kind="check_state", check_states=["critical"],
                                    runbook="1. 登录 db-01\n2. systemctl status postgresql",
                                    runbook_url="https://wiki.example.com/db-down")
    candidate = down(item)
    candidate.rule_id = rule.pk
    apply([candidate])
    alert, ticket = Alert.objects.get(), Ticket.objects.get()
    client.force_login(engineer)
    page = client.get(f"/monitoring/alerts/{alert.pk}/").content.decode()
    assert f'href="/servicedesk/tickets/{ticket.pk}/"' in page
    assert "systemctl status postgresql" in page and "https://wiki.example.com/db-down" in page
    client.force_login(engineer_of_b)  # another customer's engineer: not even the alert
    assert client.get(f"/monitoring/alerts/{alert.pk}/").status_code == 404
