"""Network discovery against real local services (PostgreSQL 5432, Redis 6379 and an snmpd of the
check tests), the run's life as a row (queued, running, done; a lost worker's run scanned again),
and accepting or ignoring what it found."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from opsdesk.cmdb.models import ConfigurationItem, Relation
from opsdesk.monitoring.discovery import scan, services
from opsdesk.monitoring.models import Check, DiscoveredDevice, DiscoveryRun, DiscoveryStatus
from tests.conftest import api_client_for
from tests.factories import ConfigurationItemFactory, CredentialFactory, make_discovered_device
from tests.factories import kind as kind_of
from tests.monitoring.checks.conftest import snmp_agent, snmp_v1_agent  # noqa: F401  (the session's real snmpds)

pytestmark = pytest.mark.django_db

LOCAL_PORTS = "5432,6379"


def _start(customer, actor, capture, **data):
    with capture(execute=True):
        return services.start_discovery({"customer": customer, "ports": LOCAL_PORTS, **data}, actor=actor)


def _device(run, address="127.0.0.1") -> DiscoveredDevice:
    return DiscoveredDevice.objects.get(run=run, address=address)


# --- the scan itself (no Django) -----------------------------------------------------------------

def test_ports_and_networks_are_parsed_with_clear_codes():
    assert scan.parse_ports("22, 80,161;16161/udp,443/tcp") == scan.Ports(tcp=(22, 80, 443), snmp=(161, 16161))
    assert scan.addresses("127.0.0.1") == ["127.0.0.1"]
    assert scan.addresses("127.0.0.0/30") == ["127.0.0.1", "127.0.0.2"]
    assert len(scan.addresses("10.0.0.0/22")) == 1022
    for bad, code in (("10.0.0.0/21", "network_too_large"), ("10.0.0.300/24", "network_invalid"),
                      ("", "network_invalid")):
        with pytest.raises(scan.ScanError) as caught:
            scan.addresses(bad)
        assert caught.value.code == code
    for bad in ("22,ssh", "70000", "22/sctp"):
        with pytest.raises(scan.ScanError) as caught:
            scan.parse_ports(bad)
        assert caught.value.code == "port_invalid"


@pytest.mark.parametrize("ports, descr, expected", [
    ([22, 5432], "", "database"),
    ([22], "", "server"),
    ([3389], "", "server"),
    ([], "Cisco IOS Software, C2960 Software", "network_device"),
    ([22], "Huawei Versatile Routing Platform Software VRP", "network_device"),
    ([], "Linux web-01 6.1.0-18-amd64 #1 SMP x86_64", "server"),
    ([], "", None),
])
def test_the_kind_is_proposed_from_ports_and_sys_descr(ports, descr, expected):
    assert scan.propose_kind(ports, descr) == expected


def test_without_icmp_a_tcp_answer_still_finds_the_host(monkeypatch):
    async def no_icmp(probe):
        return None

    monkeypatch.setattr(scan, "_icmp_mode", no_icmp)
    hosts = scan.run_scan("127.0.0.1/32", scan.parse_ports("5432,1"))
    assert [(h.address, h.open_ports, h.answered) for h in hosts] == [("127.0.0.1", [5432], {"tcp"})]


# --- a run, end to end ---------------------------------------------------------------------------

def test_a_scan_of_localhost_finds_the_local_services(engineer, customer_a, django_capture_on_commit_callbacks):
    run = _start(customer_a, engineer, django_capture_on_commit_callbacks, network="127.0.0.1/32")
    run.refresh_from_db()
    assert run.status == DiscoveryStatus.DONE, run.message
    assert run.started_at and run.finished_at and run.created_by == engineer
    assert "1 devices answered" in run.message
    device = _device(run)
    assert device.open_ports == [5432, 6379] and device.customer_id == customer_a.pk
    assert device.kind.slug == "database"
    assert device.hostname  # reverse DNS of 127.0.0.1 ("localhost")


def test_a_slash_30_around_it(admin, customer_a, django_capture_on_commit_callbacks):
    run = _start(customer_a, admin, django_capture_on_commit_callbacks, network="127.0.0.0/30")
    run.refresh_from_db()
    assert run.status == DiscoveryStatus.DONE, run.message
    found = {d.address: d for d in DiscoveredDevice.objects.filter(run=run)}
    assert set(found) <= {"127.0.0.1", "127.0.0.2"}
    assert found["127.0.0.1"].open_ports == [5432, 6379]
    assert "127.0.0.0" not in found and "127.0.0.3" not in found  # network and broadcast are not hosts


@pytest.mark.parametrize("version", ["2c", "3"])
def test_snmp_says_what_the_host_is(admin, customer_a, snmp_agent, version,  # noqa: F811
                                    django_capture_on_commit_callbacks):
    if version == "2c":
        credential = CredentialFactory(customer=customer_a, kind="snmp_community", secret=snmp_agent.community)
    else:
        credential = CredentialFactory(customer=customer_a, kind="snmp_v3", username=snmp_agent.user,
                                       secret=json.dumps({"auth_key": snmp_agent.auth_key,
                                                          "priv_key": snmp_agent.priv_key}))
    run = _start(customer_a, admin, django_capture_on_commit_callbacks, network="127.0.0.1",
                 ports=f"{snmp_agent.port}/udp", credential=credential)
    run.refresh_from_db()
    assert run.status == DiscoveryStatus.DONE, run.message
    device = _device(run)
    assert device.sys_descr.startswith("Linux")
    assert device.kind.slug == "server"  # a Linux sysDescr, no database port asked


def test_a_device_that_speaks_only_snmpv1_is_asked_again_with_v1_and_its_check_uses_it(
        admin, customer_a, snmp_v1_agent, django_capture_on_commit_callbacks):  # noqa: F811
    credential = CredentialFactory(customer=customer_a, kind="snmp_community", secret=snmp_v1_agent.community)
    run = _start(customer_a, admin, django_capture_on_commit_callbacks, network="127.0.0.1",
                 ports=f"5432,{snmp_v1_agent.port}/udp", credential=credential)
    run.refresh_from_db()
    assert run.status == DiscoveryStatus.DONE, run.message
    device = _device(run)
    assert device.sys_descr.startswith("Linux") and device.snmp_version == "1"
    DiscoveredDevice.objects.filter(pk=device.pk).update(kind=kind_of("network_device"), hostname="ups-01")
    item = services.accept(_device(run), actor=admin, apply_template=True)
    snmp = Check.objects.get(configuration_item=item, type="snmp")
    # Asked as it answered: v1, with the run's community (not "public" with v2c).
    assert snmp.params["version"] == "1" and snmp.credential_id == credential.pk


def test_a_wrong_community_gets_no_snmp_answer(admin, customer_a, snmp_agent,  # noqa: F811
                                               django_capture_on_commit_callbacks):
    credential = CredentialFactory(customer=customer_a, kind="snmp_community", secret="not-the-community")
    run = _start(customer_a, admin, django_capture_on_commit_callbacks, network="127.0.0.1",
                 ports=f"5432,{snmp_agent.port}/udp", credential=credential)
    run.refresh_from_db()
    assert run.status == DiscoveryStatus.DONE
    assert _device(run).sys_descr == ""


@pytest.mark.parametrize("field, value, words", [
    ("network", "10.0.0.0/16", "65536 addresses"),
    ("network", "not-a-network", "not an address range"),
    ("ports", "22,http", "is not a port"),
])
def test_bad_input_is_refused_naming_the_field(admin, customer_a, field, value, words):
    data = {"customer": customer_a, "network": "10.0.0.0/24", "ports": "22", field: value}
    with pytest.raises(ValidationError) as caught:
        services.start_discovery(data, actor=admin)
    assert words in " ".join(caught.value.message_dict[field])
    assert not DiscoveryRun.objects.exists()


def test_the_limit_is_said_in_the_persons_language(admin, customer_a):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as caught:
        services.start_discovery({"customer": customer_a, "network": "10.0.0.0/16"}, actor=admin)
    assert "65536" in caught.value.message_dict["network"][0]
    assert "addresses" not in caught.value.message_dict["network"][0]


def test_the_credential_must_be_the_customers_and_snmp(admin, customer_a, customer_b):
    for credential in (CredentialFactory(customer=customer_b, kind="snmp_community"),
                       CredentialFactory(customer=customer_a, kind="password")):
        with pytest.raises(ValidationError) as caught:
            services.start_discovery({"customer": customer_a, "network": "127.0.0.1", "credential": credential},
                                     actor=admin)
        assert "credential" in caught.value.message_dict


def test_an_engineer_cannot_scan_for_another_customer(engineer, customer_b):
    api = api_client_for(engineer)
    response = api.post("/api/monitoring/discoveryruns/", {"customer": customer_b.pk, "network": "127.0.0.1"},
                        format="json")
    assert response.status_code == 400 and "customer" in response.json()
    assert not DiscoveryRun.objects.exists()


def test_the_add_page_starts_a_scan(client, engineer, customer_a, django_capture_on_commit_callbacks):
    client.force_login(engineer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("monitoring:discoveryrun_add"),
                               {"customer": customer_a.pk, "network": "127.0.0.1", "ports": LOCAL_PORTS})
    assert response.status_code == 302
    run = DiscoveryRun.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert run.status == "done" and 'data-address="127.0.0.1"' in page
    assert reverse("monitoring:discovereddevice_action", args=[_device(run).pk, "accept"]) in page


# --- a run is a row: lost workers ----------------------------------------------------------------

def test_a_run_is_claimed_once(customer_a):
    run = DiscoveryRun.objects.create(customer=customer_a, network="127.0.0.1", ports="")
    assert services.claim(run.pk) is True
    assert services.claim(run.pk) is False  # another worker has it


def test_the_sweep_scans_again_a_run_whose_worker_was_lost(customer_a):
    long_ago = timezone.now() - services.LEASE - dt.timedelta(minutes=1)
    lost = DiscoveryRun.objects.create(customer=customer_a, network="127.0.0.1", ports=LOCAL_PORTS,
                                       status=DiscoveryStatus.RUNNING, started_at=long_ago)
    busy = DiscoveryRun.objects.create(customer=customer_a, network="127.0.0.1", ports=LOCAL_PORTS,
                                       status=DiscoveryStatus.RUNNING, started_at=timezone.now())
    assert services.sweep() == 1  # tasks run at once in the tests
    lost.refresh_from_db()
    busy.refresh_from_db()
    assert lost.status == DiscoveryStatus.DONE and _device(lost).open_ports == [5432, 6379]
    assert busy.status == DiscoveryStatus.RUNNING


def test_the_sweep_gives_up_on_an_old_run(customer_a):
    run = DiscoveryRun.objects.create(customer=customer_a, network="127.0.0.1", ports="")
    DiscoveryRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - dt.timedelta(hours=2))
    services.sweep()
    run.refresh_from_db()
    assert run.status == DiscoveryStatus.FAILED and "given up" in run.message


def test_a_failing_scan_ends_failed_with_its_cause(customer_a, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no sockets today")

    monkeypatch.setattr(scan, "run_scan", broken)
    run = DiscoveryRun.objects.create(customer=customer_a, network="127.0.0.1", ports="")
    services.run(run.pk)
    run.refresh_from_db()
    assert run.status == DiscoveryStatus.FAILED and "no sockets today" in run.message and run.finished_at


def test_scanning_again_keeps_what_people_did(admin, customer_a, django_capture_on_commit_callbacks):
    run = _start(customer_a, admin, django_capture_on_commit_callbacks, network="127.0.0.1")
    device = _device(run)
    DiscoveredDevice.objects.filter(pk=device.pk).update(hostname="pg-main", ignored=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.rescan(DiscoveryRun.objects.get(pk=run.pk), actor=admin)
    device.refresh_from_db()
    assert (device.hostname, device.ignored, device.open_ports) == ("pg-main", True, [5432, 6379])
    assert DiscoveredDevice.objects.filter(run=run).count() == 1


# --- accepting and ignoring ----------------------------------------------------------------------

def test_accepting_a_database_makes_it_and_its_server_once(admin, customer_a, django_capture_on_commit_callbacks):
    run = _start(customer_a, admin, django_capture_on_commit_callbacks, network="127.0.0.1")
    device = _device(run)
    DiscoveredDevice.objects.filter(pk=device.pk).update(hostname="pg-main")
    item = services.accept(_device(run), actor=admin)
    assert item.kind.slug == "database" and item.customer_id == customer_a.pk
    assert item.attributes == {"engine": "postgresql", "port": 5432}
    server = Relation.objects.get(source=item).target
    assert server.kind.slug == "server" and server.name == "pg-main"
    assert server.attributes == {"ip_address": "127.0.0.1", "hostname": "pg-main"}
    assert _device(run).configuration_item_id == item.pk
    with pytest.raises(PermissionDenied):
        services.accept(_device(run), actor=admin)  # accepted already: no second item
    # Found again by a later scan: accepting links it to the item it already is.
    again = _start(customer_a, admin, django_capture_on_commit_callbacks, network="127.0.0.1")
    assert services.accept(_device(again), actor=admin).pk == item.pk
    assert ConfigurationItem.objects.filter(customer=customer_a).count() == 2


def test_accepting_a_server_with_its_template(admin, customer_a):
    device = make_discovered_device(customer_a, address="127.0.0.1", hostname="web-07", open_ports=[22, 80])
    item = services.accept(device, actor=admin, apply_template=True)
    assert item.name == "web-07" and item.attributes == {"ip_address": "127.0.0.1", "hostname": "web-07"}
    checks = {c.name: c.target for c in Check.objects.filter(configuration_item=item)}
    assert checks == {"Ping": "127.0.0.1", "SSH port": "127.0.0.1"}


def test_a_device_needs_a_kind_and_a_free_name(admin, customer_a):
    with pytest.raises(ValidationError) as caught:
        services.accept(make_discovered_device(customer_a, kind_slug=None), actor=admin)
    assert "kind" in caught.value.message_dict
    ConfigurationItemFactory(customer=customer_a, name="taken", attributes={"ip_address": "10.0.0.1"})
    device = make_discovered_device(customer_a, address="10.0.0.2", hostname="taken")
    with pytest.raises(ValidationError) as caught:
        services.accept(device, actor=admin)
    assert "taken" in caught.value.message_dict["hostname"][0]
    device.refresh_from_db()
    assert device.configuration_item_id is None


def test_ignoring_a_device(engineer, customer_a):
    device = make_discovered_device(customer_a)
    services.ignore(device, actor=engineer)
    device.refresh_from_db()
    assert device.ignored
    with pytest.raises(PermissionDenied):
        services.accept(device, actor=engineer)


@pytest.mark.parametrize("who", ["engineer_of_b", "customer_user"])
def test_outsiders_cannot_accept_another_customers_device(request, who, customer_a):
    device = make_discovered_device(customer_a)
    with pytest.raises(PermissionDenied):
        services.accept(device, actor=request.getfixturevalue(who))
    assert DiscoveredDevice.objects.get(pk=device.pk).configuration_item_id is None


def test_accept_through_the_api(admin, customer_a):
    device = make_discovered_device(customer_a, address="10.1.1.1", hostname="api-host")
    response = api_client_for(admin).post(f"/api/monitoring/discovereddevices/{device.pk}/accept/",
                                          {"apply_template": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["configuration_item"] == ConfigurationItem.objects.get(name="api-host").pk


def test_accept_through_the_page_comes_back_to_the_run(client, engineer, customer_a):
    device = make_discovered_device(customer_a, address="10.1.1.2", hostname="page-host")
    run_url = reverse("monitoring:discoveryrun_detail", args=[device.run_id])
    url = reverse("monitoring:discovereddevice_action", args=[device.pk, "accept"])
    client.force_login(engineer)
    assert url in client.get(run_url).content.decode()
    assert 'name="apply_template"' in client.get(url, {"next": run_url}).content.decode()
    response = client.post(url, {"apply_template": "on", "next": run_url})
    assert response.status_code == 302 and response["Location"] == run_url
    item = ConfigurationItem.objects.get(name="page-host")
    assert Check.objects.filter(configuration_item=item).count() == 2
    assert 'bi-box-arrow-up-right' in client.get(run_url).content.decode()


def test_a_person_corrects_the_host_name_and_kind_before_accepting(client, engineer, customer_a):
    device = make_discovered_device(customer_a, kind_slug=None)
    client.force_login(engineer)
    for name in ("discovereddevice_list", "discoveryrun_list", "discoveryrun_add"):
        assert client.get(reverse(f"monitoring:{name}")).status_code == 200, name
    edit = reverse("monitoring:discovereddevice_edit", args=[device.pk])
    page = client.get(edit).content.decode()
    assert 'name="hostname"' in page and 'name="kind"' in page and 'name="address"' not in page
    server = ConfigurationItem._meta.get_field("kind").related_model.objects.get(slug="server")
    assert client.post(edit, {"hostname": "fixed-name", "kind": server.pk}).status_code == 302
    item = services.accept(DiscoveredDevice.objects.get(pk=device.pk), actor=engineer)
    assert item.name == "fixed-name" and item.kind == server
