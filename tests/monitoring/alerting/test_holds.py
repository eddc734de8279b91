"""What holds notifications back: an upstream fault (CMDB relations), silences, maintenance
windows and flapping; and their release."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from opsdesk.cmdb.models import Relation
from opsdesk.monitoring.alerting import holds
from opsdesk.monitoring.alerting.lifecycle import Candidate, Recovery, apply, fingerprint
from opsdesk.monitoring.models import Alert, AlertState, MaintenanceWindow, Silence
from opsdesk.notify.models import Page
from tests.factories import ConfigurationItemFactory, kind

pytestmark = pytest.mark.django_db


def down(item, title: str = "down", at: dt.datetime | None = None, **kwargs) -> Candidate:
    return Candidate(fingerprint=fingerprint("t", item.pk, title), customer_id=item.customer_id, source="rule",
                     title=f"{item.name} {title}", severity=kwargs.pop("severity", "major"),
                     at=at or timezone.now(), item_id=item.pk, **kwargs)


@pytest.fixture
def switch_and_servers(customer_a):
    switch = ConfigurationItemFactory(customer=customer_a, name="core-switch", kind=kind("network_device"))
    servers = [ConfigurationItemFactory(customer=customer_a, name=f"web-{i}") for i in range(5)]
    for server in servers:
        Relation.objects.create(source=server, type="connected_to", target=switch)
    return switch, servers


def test_a_switch_down_does_not_page_for_the_servers_behind_it_even_in_one_pass(switch_and_servers):
    switch, servers = switch_and_servers
    # The servers' alerts come first in the pass: the switch's still explains them.
    fired = apply([down(s) for s in servers] + [down(switch)])
    assert len(fired) == 6
    switch_alert = Alert.objects.get(configuration_item=switch)
    for server in servers:
        alert = Alert.objects.get(configuration_item=server)
        assert alert.suppressed_by == switch_alert
        assert not alert.notified
        assert alert.events.filter(kind="suppressed").exists()
    assert list(Page.objects.values_list("source", flat=True)) == [f"monitoring.alert:{switch_alert.pk}"]


def test_a_server_with_two_links_is_not_explained_by_one_switch(customer_a, switch_and_servers):
    switch, servers = switch_and_servers
    other = ConfigurationItemFactory(customer=customer_a, name="backup-switch", kind=kind("network_device"))
    Relation.objects.create(source=servers[0], type="connected_to", target=other)
    apply([down(switch)])
    apply([down(servers[0]), down(servers[1])])
    assert Alert.objects.get(configuration_item=servers[0]).suppressed_by is None
    assert Alert.objects.get(configuration_item=servers[1]).suppressed_by is not None


def test_runs_on_and_depends_on_are_followed_transitively(customer_a):
    host = ConfigurationItemFactory(customer=customer_a, name="vm-host")
    vm = ConfigurationItemFactory(customer=customer_a, name="vm")
    database = ConfigurationItemFactory(customer=customer_a, name="db")
    app = ConfigurationItemFactory(customer=customer_a, name="app")
    Relation.objects.create(source=vm, type="runs_on", target=host)
    Relation.objects.create(source=database, type="runs_on", target=vm)
    Relation.objects.create(source=app, type="depends_on", target=database)
    assert holds.upstream_items([app.pk])[app.pk] == {database.pk, vm.pk, host.pk}
    apply([down(host)])
    apply([down(app)])
    assert Alert.objects.get(configuration_item=app).suppressed_by.configuration_item == host


def test_when_the_cause_resolves_the_alerts_it_held_that_still_fire_are_notified(switch_and_servers):
    switch, servers = switch_and_servers
    apply([down(switch), down(servers[0])])
    apply([], [Recovery(fingerprint=fingerprint("t", switch.pk, "down"), at=timezone.now())])
    server_alert = Alert.objects.get(configuration_item=servers[0])
    assert server_alert.suppressed_by is None
    assert server_alert.notified
    assert Page.objects.filter(source=f"monitoring.alert:{server_alert.pk}").exists()


def test_a_silence_holds_what_its_matchers_match_and_nothing_else(customer_a, admin):
    item = ConfigurationItemFactory(customer=customer_a, name="db-1")
    now = timezone.now()
    silence = Silence.objects.create(customer=customer_a, matchers=[
        {"name": "item", "op": "=~", "value": "db-.*"}, {"name": "severity", "op": "!=", "value": "critical"}],
        starts_at=now - dt.timedelta(minutes=1), ends_at=now + dt.timedelta(hours=1), reason="migration",
        created_by=admin)
    apply([down(item, "slow"), down(item, "dead", severity="critical")])
    slow, dead = Alert.objects.get(title="db-1 slow"), Alert.objects.get(title="db-1 dead")
    assert slow.silenced_by == silence and not slow.notified
    assert dead.silenced_by is None and dead.notified


def test_a_silence_ending_releases_its_alerts_in_the_periodic_pass(customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    now = timezone.now()
    silence = Silence.objects.create(customer=customer_a, matchers=[{"name": "severity", "op": "=", "value": "major"}],
                                     starts_at=now - dt.timedelta(minutes=1), ends_at=now + dt.timedelta(minutes=10),
                                     reason="x")
    apply([down(item)])
    assert not Alert.objects.get().notified
    assert holds.release_held(now + dt.timedelta(minutes=5)) == 0
    Silence.objects.filter(pk=silence.pk).update(ends_at=now + dt.timedelta(minutes=1))
    assert holds.release_held(now + dt.timedelta(minutes=2)) == 1
    assert Alert.objects.get().notified


def test_a_recurring_maintenance_window_holds_alerts_in_each_occurrence(customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    other = ConfigurationItemFactory(customer=customer_a)
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        customer=customer_a, name="weekly patching", recurrence="weekly",
        starts_at=now - dt.timedelta(weeks=3, minutes=10), ends_at=now - dt.timedelta(weeks=3) + dt.timedelta(hours=1))
    window.configuration_items.add(item)
    assert holds.occurrence_at(window, now) is not None
    assert holds.occurrence_at(window, now + dt.timedelta(hours=2)) is None
    assert holds.occurrence_at(window, now + dt.timedelta(days=3)) is None
    apply([down(item), down(other)])
    assert Alert.objects.get(configuration_item=item).in_maintenance
    assert not Alert.objects.get(configuration_item=item).notified
    assert Alert.objects.get(configuration_item=other).notified


def test_a_flapping_fault_stops_paging(customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    now = timezone.now()
    for i in range(holds.FLAP_LIMIT):
        apply([down(item, at=now + dt.timedelta(minutes=2 * i))])
        apply([], [Recovery(fingerprint=fingerprint("t", item.pk, "down"), at=now + dt.timedelta(minutes=2 * i + 1))])
    alerts = list(Alert.objects.order_by("started_at"))
    assert [a.flapping for a in alerts] == [False] * (holds.FLAP_LIMIT - 1) + [True]
    assert Page.objects.count() == holds.FLAP_LIMIT - 1
    assert alerts[-1].state == AlertState.RESOLVED


def test_a_failing_channel_raises_an_alert_on_opsdesk_itself_and_its_recovery_resolves_it(customer_a):
    from opsdesk.notify.models import Channel
    from opsdesk.notify.signals import channel_failing, channel_recovered

    channel = Channel.objects.create(customer=customer_a, name="ops robot", kind="dingtalk", config={})
    channel_failing.send(sender=Channel, channel=channel, since=timezone.now(), error="errcode 310000")
    channel_failing.send(sender=Channel, channel=channel, since=timezone.now(), error="errcode 310000")
    alert = Alert.objects.get()
    assert (alert.source, alert.customer, alert.state) == ("self", customer_a, AlertState.FIRING)
    assert "ops robot" in alert.title and alert.description == "errcode 310000"
    channel_recovered.send(sender=Channel, channel=channel, at=timezone.now())
    assert Alert.objects.get().state == AlertState.RESOLVED


def test_a_silence_made_through_the_api_keeps_its_author_and_refuses_bad_matchers(admin, customer_a):
    from tests.conftest import api_client_for

    api = api_client_for(admin)
    body = {"customer": customer_a.pk, "reason": "migration", "starts_at": "2030-01-01T00:00:00Z",
            "ends_at": "2030-01-01T02:00:00Z", "matchers": [{"name": "item", "op": "=~", "value": "db-.*"}]}
    response = api.post("/api/monitoring/silences/", body, format="json")
    assert response.status_code == 201, response.content
    assert Silence.objects.get().created_by == admin
    for matchers, problem in (([{"name": "item", "op": "~~", "value": "x"}], "operator"),
                              ([{"name": "item", "op": "=~", "value": "("}], "regular expression"),
                              ([], "at least one")):
        bad = api.post("/api/monitoring/silences/", {**body, "matchers": matchers}, format="json")
        assert bad.status_code == 400 and problem in " ".join(bad.json()["matchers"])
    backwards = api.post("/api/monitoring/silences/", {**body, "ends_at": "2029-01-01T00:00:00Z"}, format="json")
    assert backwards.status_code == 400 and "ends_at" in backwards.json()
    assert Silence.objects.count() == 1


def test_a_silences_author_is_reminded_before_it_ends_and_told_when_it_has(customer_a, admin):
    from opsdesk.monitoring.alerting import silences
    from opsdesk.notify.models import Channel, Notification

    admin.email = "ada@example.com"
    admin.save()
    Channel.objects.create(name="mail", kind="email", config={"host": "127.0.0.1", "from": "opsdesk@example.com"})
    now = timezone.now()
    Silence.objects.create(customer=customer_a, matchers=[{"name": "severity", "op": "=", "value": "minor"}],
                           starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(minutes=10),
                           reason="db migration", created_by=admin)
    assert silences.send_notices(now) == 1
    assert silences.send_notices(now) == 0  # once
    assert silences.send_notices(now + dt.timedelta(minutes=11)) == 1
    titles = list(Notification.objects.order_by("id").values_list("title", "address"))
    assert [address for _title, address in titles] == ["ada@example.com"] * 2
    assert "db migration" in titles[0][0] and "db migration" in titles[1][0]
