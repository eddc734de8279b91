"""The central collector's Django side, this machine monitored from the first start, and what a
remote collector gets over the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from opsdesk.core import crypto
from opsdesk.core.models import Credential, Customer
from opsdesk.core.models.tokens import hash_token, new_raw_token
from opsdesk.monitoring import filing, local
from opsdesk.monitoring.models import Agent, AgentKind, Check, IngestBatch, Series
from opsdesk.monitoring.services import create_enrolment_token
from tests.factories import ConfigurationItemFactory, make_agent

pytestmark = pytest.mark.django_db


def test_local_monitoring_is_made_once(db):
    host, central = local.ensure_local_monitoring()
    again = local.ensure_local_monitoring()
    assert again == (host, central)
    assert Customer.objects.filter(code="internal").count() == 1
    assert (host.kind, host.configuration_item.customer.code) == (AgentKind.HOST, "internal")
    assert (central.kind, central.central, central.configuration_item) == (AgentKind.COLLECTOR, True, None)
    assert host.configuration_item.attributes["hostname"] == host.name
    own = Check.objects.get(configuration_item=host.configuration_item)
    assert (own.type, own.target) == ("http", "http://127.0.0.1:8000/healthz")


def test_the_direct_sink_stores_batches_that_filing_puts_on_the_items(db):
    host, _central = local.ensure_local_monitoring()
    sink = local.DirectSink(host)
    sink.send({"samples": [{"name": "host_cpu_utilisation", "labels": {}, "value": 12.5, "ts": 1764000000.0}]})
    sink.send({"samples": [{"name": "host_cpu_utilisation", "labels": {}, "value": 13.5, "ts": 1764000030.0}]})
    assert list(IngestBatch.objects.filter(agent=host).values_list("seq", flat=True)) == [1, 2]
    filing._series_ids.clear()
    filing.file_pass()
    series = Series.objects.get(configuration_item=host.configuration_item, name="host_cpu_utilisation")
    assert series.last_value == 13.5
    # A restarted collector continues the sequence instead of being taken for a re-send.
    assert local.DirectSink(host).seq == 2


def make_check(item, **over) -> Check:
    return Check.objects.create(customer=item.customer, configuration_item=item, name=over.pop("name", "c"),
                                type=over.pop("type", "tcp"), **over)


def test_specs_take_the_items_address_and_the_decrypted_credential(customer_a):
    _host, central = local.ensure_local_monitoring()
    item = ConfigurationItemFactory(customer=customer_a, attributes={"ip_address": "192.0.2.7"})
    secret = Credential.objects.create(customer=customer_a, name="snmp", kind="snmp_community",
                                       secret_encrypted=crypto.encrypt("s3cret"))
    with_target = make_check(item, name="web", type="http", target="https://example.test/", interval=30)
    plain = make_check(item, name="snmp", type="snmp", credential=secret)
    make_check(item, name="off", enabled=False)
    remote = Agent.objects.create(customer=customer_a, name="remote", kind=AgentKind.COLLECTOR,
                                  key_hash=hash_token(new_raw_token()))
    make_check(item, name="elsewhere", collector=remote)

    specs = {spec.id: spec for spec in local.load_specs(central)}

    own_health = Check.objects.get(name="opsdesk /healthz")
    assert set(specs) == {with_target.id, plain.id, own_health.id}
    assert (specs[with_target.id].target, specs[with_target.id].interval) == ("https://example.test/", 30.0)
    assert specs[plain.id].target == "192.0.2.7"
    assert specs[plain.id].secrets["community"] == "s3cret"
    assert [s.id for s in local.load_specs(remote)] == [Check.objects.get(name="elsewhere").id]


def test_a_remote_collector_enrols_and_reads_only_its_own_checks(customer_a, customer_b):
    _token, raw = create_enrolment_token(customer_a, name="dmz", actor=None)
    enrolled = APIClient().post("/api/monitoring/enrol/", {"token": raw, "hostname": "dmz-1", "kind": "collector"},
                                format="json")
    assert enrolled.status_code == 201, enrolled.content
    body = enrolled.json()
    assert body["configuration_item"] is None
    collector = Agent.objects.get(pk=body["agent"])
    assert (collector.kind, collector.customer) == (AgentKind.COLLECTOR, customer_a)
    mine = make_check(ConfigurationItemFactory(customer=customer_a), name="mine", collector=collector)
    make_check(ConfigurationItemFactory(customer=customer_b), name="central one")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    answer = client.get("/api/monitoring/collector/checks/")
    assert answer.status_code == 200
    assert [c["id"] for c in answer.json()["checks"]] == [mine.id]


def test_a_host_agent_gets_no_check_list(customer_a):
    raw = new_raw_token()
    make_agent(customer_a, raw=raw)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    answer = client.get("/api/monitoring/collector/checks/")
    assert answer.status_code == 403
    assert "detail" in answer.json()
