"""Monitoring templates: the built-in ones, applying them to items (targets filled from the item's
attributes, no duplicates, clear errors), who may apply them, and checks made by people."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation

from opsdesk.cmdb.models import RelationType
from opsdesk.monitoring import template_services
from opsdesk.monitoring.builtin_templates import BUILTIN_TEMPLATES, sync
from opsdesk.monitoring.models import Check, Template
from tests.conftest import api_client_for
from tests.factories import ConfigurationItemFactory, CredentialFactory, RelationFactory, kind, make_template

pytestmark = pytest.mark.django_db

ADDRESS = "10.20.30.40"


def _server(customer, **attributes):
    return ConfigurationItemFactory(customer=customer, kind=kind("server"),
                                    attributes=attributes or {"ip_address": ADDRESS, "hostname": "web-01"})


def _on_server(customer, kind_slug: str, attributes: dict):
    """An item without an address of its own (a database, a web server) that runs on a server."""
    item = ConfigurationItemFactory(customer=customer, kind=kind(kind_slug), attributes=attributes)
    RelationFactory(source=item, target=_server(customer), type=RelationType.RUNS_ON)
    return item


ITEMS = {
    "linux-server": lambda c: _server(c),
    "windows-server": lambda c: _server(c),
    "switch": lambda c: ConfigurationItemFactory(customer=c, kind=kind("network_device"),
                                                 attributes={"ip_address": ADDRESS}),
    "postgresql": lambda c: _on_server(c, "database", {"engine": "postgresql", "port": 5433}),
    "mysql": lambda c: _on_server(c, "database", {"engine": "mariadb"}),
    "redis": lambda c: _on_server(c, "database", {"engine": "redis"}),
    "nginx": lambda c: _on_server(c, "middleware", {"product": "nginx"}),
    "website": lambda c: ConfigurationItemFactory(customer=c, kind=kind("application"),
                                                  attributes={"url": "https://shop.example.com/"}),
}
TARGETS = {
    "linux-server": {"Ping": ADDRESS, "SSH port": ADDRESS},
    "windows-server": {"Ping": ADDRESS, "windows_exporter metrics": f"http://{ADDRESS}:9182/metrics",
                       "RDP port": ADDRESS},
    "switch": {"Ping": ADDRESS, "SNMP system and interfaces": ADDRESS},
    "postgresql": {"PostgreSQL": ADDRESS},
    "mysql": {"MySQL / MariaDB": ADDRESS},
    "redis": {"Redis": ADDRESS},
    "nginx": {"Nginx status page": f"http://{ADDRESS}/nginx_status", "HTTP port": ADDRESS},
    "website": {"Web site": "https://shop.example.com/"},
}


def test_the_built_in_templates_are_there_and_valid():
    templates = {t.slug: t for t in Template.objects.filter(builtin=True)}
    assert set(templates) == {spec["slug"] for spec in BUILTIN_TEMPLATES} == set(ITEMS)
    for template in templates.values():
        assert template_services.template_problems(template.checks) == [], template.slug
    assert sync(Template, type(templates["switch"].kind)) == len(BUILTIN_TEMPLATES)  # idempotent
    assert Template.objects.filter(builtin=True).count() == len(BUILTIN_TEMPLATES)


def test_a_missing_built_in_template_comes_back_but_edits_survive():
    from opsdesk.cmdb.models import CIKind

    Template.objects.filter(slug="redis").delete()
    Template.objects.filter(slug="switch").update(description="ours")
    assert sync(Template, CIKind, update=False) == 1
    assert Template.objects.get(slug="switch").description == "ours"
    assert Template.objects.filter(slug="redis", builtin=True).exists()


@pytest.mark.parametrize("slug", sorted(ITEMS))
def test_applying_each_built_in_template_fills_in_the_targets(slug, customer_a, admin):
    template = Template.objects.get(slug=slug)
    item = ITEMS[slug](customer_a)
    applied = template_services.apply_template(template, item, actor=admin)
    checks = {c.name: c for c in Check.objects.filter(configuration_item=item)}
    assert {name: c.target for name, c in checks.items()} == TARGETS[slug]
    assert applied.created == len(TARGETS[slug]) and applied.updated == 0
    for check in checks.values():
        assert check.customer_id == customer_a.pk and check.template_id == template.pk
        assert template_services.params_problems(check.type, check.params) == []
    if slug == "postgresql":
        assert checks["PostgreSQL"].params["port"] == 5433  # the item's own port wins


def test_applying_twice_updates_instead_of_duplicating(customer_a, admin):
    template = Template.objects.get(slug="linux-server")
    item = _server(customer_a)
    template_services.apply_template(template, item, actor=admin)
    Check.objects.filter(configuration_item=item, name="SSH port").update(target="stale", params={})
    item.attributes = {"ip_address": "10.9.9.9"}
    item.save()
    # In another language too: the checks are found by their name in any language.
    with translation.override("zh-hans"):
        applied = template_services.apply_template(template, item, actor=admin)
    assert (applied.created, applied.updated) == (0, 2)
    assert Check.objects.filter(configuration_item=item).count() == 2
    ssh = Check.objects.get(configuration_item=item, name="SSH port")
    assert ssh.target == "10.9.9.9" and ssh.params["port"] == 22


def test_check_names_are_in_the_language_of_the_person_applying(customer_a, admin):
    with translation.override("zh-hans"):
        template_services.apply_template(Template.objects.get(slug="linux-server"), _server(customer_a), actor=admin)
    names = set(Check.objects.values_list("name", flat=True))
    assert "SSH port" not in names and len(names) == 2


def test_a_missing_attribute_is_named_in_the_persons_language(customer_a, admin):
    template = Template.objects.get(slug="linux-server")
    item = _server(customer_a, os="Debian 12")
    with pytest.raises(ValidationError) as caught:
        template_services.apply_template(template, item, actor=admin)
    message = " ".join(caught.value.message_dict["item"])
    assert item.name in message and "IP address (ip_address)" in message and "Host name (hostname)" in message
    with translation.override("zh-hans"), pytest.raises(ValidationError) as caught:
        template_services.apply_template(template, item, actor=admin)
    assert "IP 地址" in " ".join(caught.value.message_dict["item"])
    assert not Check.objects.filter(configuration_item=item).exists()


def test_a_database_on_no_server_has_no_address(customer_a, admin):
    item = ConfigurationItemFactory(customer=customer_a, kind=kind("database"), attributes={"engine": "postgresql"})
    with pytest.raises(ValidationError, match="neither has an item it runs on"):
        template_services.apply_template(Template.objects.get(slug="postgresql"), item, actor=admin)


def test_a_template_of_another_kind_is_refused(customer_a, admin):
    with pytest.raises(ValidationError, match="is for"):
        template_services.apply_template(Template.objects.get(slug="switch"), _server(customer_a), actor=admin)


def test_applying_to_the_whole_kind_skips_and_names_items_without_the_attribute(customer_a, customer_b, admin):
    template = make_template(kind("server"), checks=[
        {"name": "Ping", "type": "ping", "target": "{ip_address}", "params": {}, "interval": 60, "timeout": 5}])
    good = [_server(customer_a), _server(customer_b)]
    bad = _server(customer_a, hostname="no-ip")
    applied = template_services.apply_template_to_kind(template, None, actor=admin)
    assert {i.pk for i in applied.items} >= {i.pk for i in good}
    assert [i.pk for i, _why in applied.skipped] == [bad.pk]
    assert Check.objects.filter(template=template).count() == len(applied.items)
    only_a = template_services.apply_template_to_kind(template, customer_a, actor=admin)
    assert {i.customer_id for i in only_a.items} == {customer_a.pk} and only_a.created == 0


def test_a_credential_goes_to_the_checks_that_log_in(customer_a, customer_b, admin):
    item = ITEMS["postgresql"](customer_a)
    credential = CredentialFactory(customer=customer_a)
    template_services.apply_template(Template.objects.get(slug="postgresql"), item, actor=admin, credential=credential)
    assert Check.objects.get(configuration_item=item).credential_id == credential.pk
    with pytest.raises(ValidationError, match="another customer"):
        template_services.apply_template(Template.objects.get(slug="postgresql"), item, actor=admin,
                                         credential=CredentialFactory(customer=customer_b))


def test_an_snmpv3_credential_makes_the_switch_check_use_v3(customer_a, admin):
    item = ITEMS["switch"](customer_a)
    credential = CredentialFactory(customer=customer_a, kind="snmp_v3", username="opsv3")
    template_services.apply_template(Template.objects.get(slug="switch"), item, actor=admin, credential=credential)
    snmp = Check.objects.get(configuration_item=item, type="snmp")
    assert snmp.params["version"] == "3" and snmp.credential_id == credential.pk
    assert Check.objects.get(configuration_item=item, type="ping").credential_id is None


# --- who may apply -------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["customer_user", "engineer"])
def test_an_outsider_cannot_apply_to_another_customers_item(request, who, customer_b):
    person = request.getfixturevalue(who)
    template = Template.objects.get(slug="linux-server")
    item = _server(customer_b)
    with pytest.raises(PermissionDenied):
        template_services.apply_template(template, item, actor=person)
    api = api_client_for(person, write=True)
    response = api.post(f"/api/monitoring/templates/{template.pk}/apply-template/",
                        {"scope": "item", "item": item.pk}, format="json")
    # A customer user cannot see templates at all; the engineer cannot choose B's item.
    assert response.status_code == (403 if who == "customer_user" else 400), response.content
    if who == "engineer":
        assert "item" in response.json()
    assert not Check.objects.filter(configuration_item=item).exists()


def test_an_engineer_applying_to_the_kind_reaches_only_their_customers(engineer, customer_a, customer_b):
    template = Template.objects.get(slug="linux-server")
    mine, theirs = _server(customer_a), _server(customer_b)
    applied = template_services.run_apply_action(template, actor=engineer, scope="kind")
    assert [i.pk for i in applied.items] == [mine.pk]
    assert not Check.objects.filter(configuration_item=theirs).exists()
    with pytest.raises(ValidationError):
        template_services.run_apply_action(template, actor=engineer, scope="kind", customer=customer_b.pk)


def test_applying_through_the_page(client, engineer, customer_a):
    template = Template.objects.get(slug="linux-server")
    item = _server(customer_a)
    client.force_login(engineer)
    url = reverse("monitoring:template_action", args=[template.pk, "apply_template"])
    page = client.get(url).content.decode()
    assert f'value="{item.pk}"' in page  # the item is offered by name
    response = client.post(url, {"scope": "item", "item": item.pk}, follow=True)
    assert response.status_code == 200
    assert "Applied to 1 items: 2 checks created, 0 updated." in response.content.decode()
    assert Check.objects.filter(configuration_item=item).count() == 2
    response = client.post(url, {"scope": "item"})
    assert response.status_code == 400 and "Choose the configuration item" in response.content.decode()


def test_the_template_page_shows_its_checks_translated(client, admin):
    client.force_login(admin)
    template = Template.objects.get(slug="linux-server")
    client.cookies["django_language"] = "zh-hans"
    page = client.get(reverse("monitoring:template_detail", args=[template.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="template-checks"' in text and "{ip_address|hostname}" in text
    assert "Linux 服务器" in text and "SSH 端口" in text and "往返时间" in text
    assert 'id="action-apply_template"' in text


def test_the_template_list_names_built_in_templates_in_the_readers_language(client, admin):
    client.force_login(admin)
    Template.objects.create(slug="own", name="Our own web site", kind=Template.objects.first().kind)
    client.cookies["django_language"] = "zh-hans"
    text = client.get(reverse("monitoring:template_list")).content.decode()
    assert ">Linux 服务器</a>" in text and ">Linux server</a>" not in text
    assert ">Our own web site</a>" in text  # a name a person typed is shown as typed


# --- templates as objects ------------------------------------------------------------------------

def test_a_built_in_template_cannot_be_deleted(admin):
    template = Template.objects.get(slug="website")
    with pytest.raises(ValidationError):
        template_services.delete_template(template, actor=admin)
    response = api_client_for(admin).delete(f"/api/monitoring/templates/{template.pk}/")
    assert response.status_code == 400
    assert Template.objects.filter(pk=template.pk).exists()
    own = make_template()
    template_services.delete_template(own, actor=admin)
    assert not Template.objects.filter(pk=own.pk).exists()


def test_engineers_read_templates_and_managers_write_them(engineer, manager):
    server = kind("server")
    body = {"slug": "own", "name": "Own", "kind": server.pk, "description": "", "checks": [
        {"name": "SSH", "type": "tcp", "target": "{ip_address}", "params": {"port": 22}}]}
    assert api_client_for(engineer).post("/api/monitoring/templates/", body, format="json").status_code == 403
    response = api_client_for(manager).post("/api/monitoring/templates/", body, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("checks, words", [
    ([{"name": "SSH", "type": "tcp", "target": "{ip_address}", "params": {"port": 70000}}], "Port"),
    ([{"name": "SSH", "type": "tcp", "target": "{ip_address}", "params": {"prot": 22}}], "prot"),
    ([{"name": "X", "type": "telnet", "target": ""}], "telnet"),
    ([{"name": "A", "type": "ping"}, {"name": "A", "type": "ping"}], "twice"),
    ([{"name": "A", "type": "ping", "interval": 0}], "interval"),
    ({"name": "A"}, "list"),
    (["ping"], "object"),
])
def test_a_bad_template_is_refused_naming_the_check_and_field(manager, checks, words):
    body = {"slug": "bad", "name": "Bad", "kind": kind("server").pk, "checks": checks}
    response = api_client_for(manager).post("/api/monitoring/templates/", body, format="json")
    assert response.status_code == 400, response.content
    assert words in " ".join(response.json()["checks"])
    assert not Template.objects.filter(slug="bad").exists()


# --- checks made by people -----------------------------------------------------------------------

def test_a_check_takes_its_customer_from_the_item(engineer, customer_a):
    item = _server(customer_a)
    check = template_services.create_check(
        {"configuration_item": item, "name": "SSH", "type": "tcp", "target": ADDRESS, "params": {"port": 22}},
        actor=engineer)
    assert check.customer_id == customer_a.pk


@pytest.mark.parametrize("data, field, words", [
    ({"params": {"port": 0}}, "params", "Port"),
    ({"params": {"port": 22, "colour": "red"}}, "params", "colour"),
    ({"params": {}}, "params", "Port"),
    ({"type": "gopher"}, "type", "gopher"),
    ({"interval": 1}, "interval", "5"),
    ({"timeout": 120, "interval": 60}, "timeout", "interval"),
])
def test_bad_check_input_names_the_field(admin, customer_a, data, field, words):
    values = {"configuration_item": _server(customer_a), "name": "SSH", "type": "tcp", "target": ADDRESS,
              "params": {"port": 22}, **data}
    with pytest.raises(ValidationError) as caught:
        template_services.create_check(values, actor=admin)
    assert words in " ".join(caught.value.message_dict[field])


def test_parameter_errors_are_in_the_persons_language(admin, customer_a):
    values = {"configuration_item": _server(customer_a), "name": "SSH", "type": "tcp", "target": ADDRESS,
              "params": {"port": "twenty-two"}}
    with translation.override("zh-hans"), pytest.raises(ValidationError) as caught:
        template_services.create_check(values, actor=admin)
    message = " ".join(caught.value.message_dict["params"])
    assert "端口" in message or "Port" in message
    assert "must be" not in message


def test_a_check_cannot_use_another_customers_credential(admin, customer_a, customer_b):
    values = {"configuration_item": _server(customer_a), "name": "SSH", "type": "tcp", "target": ADDRESS,
              "params": {"port": 22}, "credential": CredentialFactory(customer=customer_b)}
    with pytest.raises(ValidationError) as caught:
        template_services.create_check(values, actor=admin)
    assert "credential" in caught.value.message_dict


def test_the_api_creates_and_updates_checks_with_the_same_rules(customer_a):
    from tests.factories import UserFactory

    manager = UserFactory(role="manager")
    api = api_client_for(manager)
    item = _server(customer_a)
    body = {"configuration_item": item.pk, "name": "SSH", "type": "tcp", "target": ADDRESS, "params": {"port": 22}}
    created = api.post("/api/monitoring/checks/", body, format="json")
    assert created.status_code == 201, created.content
    url = f"/api/monitoring/checks/{created.json()['id']}/"
    response = api.patch(url, {"params": {"port": 99999}}, format="json")
    assert response.status_code == 400 and "params" in response.json()
    assert api.patch(url, {"params": {"port": 2222}}, format="json").status_code == 200
    assert Check.objects.get(pk=created.json()["id"]).params == {"port": 2222}


def test_an_engineer_cannot_move_a_check_to_another_customers_item(engineer, customer_a, customer_b):
    check = template_services.create_check(
        {"configuration_item": _server(customer_a), "name": "SSH", "type": "tcp", "target": ADDRESS,
         "params": {"port": 22}}, actor=engineer)
    with pytest.raises((PermissionDenied, ValidationError)):
        template_services.update_check(check, {"configuration_item": _server(customer_b)}, actor=engineer)
    check.refresh_from_db()
    assert check.configuration_item.customer_id == customer_a.pk


def test_the_pages_of_templates_render_and_save(client, manager):
    client.force_login(manager)
    template = make_template(kind("server"))
    assert client.get(reverse("monitoring:template_list")).status_code == 200
    assert client.get(reverse("monitoring:template_add")).status_code == 200
    edit = reverse("monitoring:template_edit", args=[template.pk])
    assert client.get(edit).status_code == 200
    response = client.post(edit, {"slug": template.slug, "name": "Renamed", "kind": template.kind_id,
                                  "description": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    template.refresh_from_db()
    assert template.name == "Renamed" and template.checks[0]["name"] == "Ping"
    # The API takes the whole list as JSON, checked as the page's one-check form is.
    api = api_client_for(manager)
    url = f"/api/monitoring/templates/{template.pk}/"
    good = [{"name": "SSH", "type": "tcp", "target": "{ip_address}", "params": {"port": 22}}]
    assert api.patch(url, {"checks": good}, format="json").status_code == 200
    template.refresh_from_db()
    assert template.checks == good
    bad = api.patch(url, {"checks": [{"name": "SSH", "type": "tcp", "params": {"port": -1}}]}, format="json")
    assert bad.status_code == 400 and "Check SSH" in str(bad.json()["checks"])
    template.refresh_from_db()
    assert template.checks == good


def test_migrate_brings_back_a_deleted_built_in_template():
    from django.apps import apps

    from opsdesk.monitoring.registrations_templates import _sync_builtin_templates

    Template.objects.filter(slug="nginx").delete()
    _sync_builtin_templates(sender=None, app_config=apps.get_app_config("monitoring"), apps=apps)
    assert Template.objects.get(slug="nginx").builtin


def _pinged(customer, template_checks=None):
    template = make_template(checks=template_checks or [
        {"name": "Ping", "type": "ping", "target": "{ip_address}", "params": {"count": 3, "warning": 200},
         "interval": 60, "timeout": 5}])
    item = ConfigurationItemFactory(customer=customer, kind=template.kind, attributes={"ip_address": ADDRESS})
    template_services.apply_template(template, item, actor=None)
    return template, item, Check.objects.get(configuration_item=item, name="Ping")


def test_applying_again_keeps_what_a_person_edited_on_the_check(customer_a, admin):
    template, item, check = _pinged(customer_a)
    assert check.edited == []
    template_services.update_check(check, {"interval": 300, "params": {"count": 5, "warning": 200}}, actor=admin)
    check.refresh_from_db()
    assert check.edited == ["interval", "params.count"]
    # The template changes, and so does the item's address.
    template.checks = [{**template.checks[0], "interval": 120, "timeout": 8, "params": {"count": 2, "warning": 500}}]
    template.save()
    item.attributes = {"ip_address": "10.9.9.9"}
    item.save()
    applied = template_services.apply_template(template, item, actor=admin)
    assert (applied.created, applied.updated, applied.kept) == (0, 1, 0)
    check.refresh_from_db()
    assert (check.interval, check.params["count"]) == (300, 5)  # edited here: kept
    assert (check.target, check.timeout, check.params["warning"]) == ("10.9.9.9", 8, 500)  # the template's
    assert check.edited == ["interval", "params.count"]


def test_a_parameter_removed_on_the_check_stays_removed_and_a_default_is_no_edit(customer_a, admin):
    template, item, check = _pinged(customer_a)
    # The form leaves out a parameter at its type's default (ping's 3 packets): no edit.
    template_services.update_check(check, {"params": {"warning": 200}}, actor=admin)
    check.refresh_from_db()
    assert check.edited == []
    template_services.update_check(check, {"params": {"count": 3}}, actor=admin)
    check.refresh_from_db()
    assert check.edited == ["params.warning"]
    template_services.apply_template(template, item, actor=admin)
    check.refresh_from_db()
    assert check.params == {"count": 3}


def test_a_check_made_into_another_type_is_left_alone_by_applying_again(customer_a, admin):
    from opsdesk.monitoring.registrations_templates import applied_message

    template, item, check = _pinged(customer_a)
    template_services.update_check(check, {"type": "tcp", "params": {"port": 22}}, actor=admin)
    applied = template_services.apply_template(template, item, actor=admin)
    assert (applied.created, applied.updated, applied.kept) == (0, 0, 1)
    check.refresh_from_db()
    assert (check.type, check.params) == ("tcp", {"port": 22})
    assert "1 check made into another type on its item was left as it is." in applied_message(applied)


def test_the_check_page_says_what_was_edited_here(engineer_client, customer_a, admin):
    template, _item, check = _pinged(customer_a)
    template_services.update_check(check, {"timeout": 9, "params": {"count": 4, "warning": 200}}, actor=admin)
    page = engineer_client.get(reverse("monitoring:check_detail", args=[check.pk])).content.decode()
    edited_line = page.split('id="check-edited"')[1].split("</div>")[0]
    assert (f"kept when the template {template.name} is applied again: Timeout (seconds), the parameters marked "
            "below.") in edited_line
    rows = page.split('id="check-parameters"')[1].split("</table>")[0]
    assert rows.count("edited here") == 1
    count_row = next(row for row in rows.split("<tr>") if "edited here" in row)
    assert ">4" in count_row
    chinese = engineer_client.get(reverse("monitoring:check_detail", args=[check.pk]),
                                  HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert "此处修改" in chinese and "Edited here" not in chinese


def test_reset_to_template_undoes_the_edits_through_the_page_and_the_api(engineer_client, engineer, customer_a,
                                                                          admin):
    _template, item, check = _pinged(customer_a)
    detail = reverse("monitoring:check_detail", args=[check.pk])
    assert "Reset to template" not in engineer_client.get(detail).content.decode()  # nothing edited: no button
    template_services.update_check(check, {"interval": 300, "params": {"count": 5}}, actor=admin)
    assert "Reset to template" in engineer_client.get(detail).content.decode()
    response = engineer_client.post(f"/monitoring/checks/{check.pk}/actions/reset_to_template/")
    assert response.status_code == 302
    check.refresh_from_db()
    assert (check.interval, check.params, check.edited) == (60, {"count": 3, "warning": 200}, [])
    template_services.update_check(check, {"timeout": 7}, actor=admin)
    api = api_client_for(engineer)
    assert api.post(f"/api/monitoring/checks/{check.pk}/reset-to-template/", {}, format="json").status_code == 200
    check.refresh_from_db()
    assert (check.timeout, check.edited) == (5, [])
    # Nothing edited: the action is not offered, and refused.
    again = api.post(f"/api/monitoring/checks/{check.pk}/reset-to-template/", {}, format="json")
    assert again.status_code == 403 and again.json()["detail"]


def test_another_customers_engineer_cannot_reset_a_check(customer_a, engineer_of_b, admin):
    _template, _item, check = _pinged(customer_a)
    template_services.update_check(check, {"interval": 300}, actor=admin)
    with pytest.raises(PermissionDenied):
        template_services.reset_check_to_template(check, actor=engineer_of_b)
    response = api_client_for(engineer_of_b).post(f"/api/monitoring/checks/{check.pk}/reset-to-template/", {},
                                             format="json")
    assert response.status_code == 404
    check.refresh_from_db()
    assert check.interval == 300


def test_reset_names_a_check_the_template_no_longer_has(customer_a, admin):
    template, _item, check = _pinged(customer_a)
    template_services.update_check(check, {"interval": 300}, actor=admin)
    template.checks = [{**template.checks[0], "name": "Ping twice"}]
    template.save()
    with pytest.raises(ValidationError) as raised:
        template_services.reset_check_to_template(check, actor=admin)
    assert raised.value.message_dict == {
        "template": [f"The template {template.name} no longer has a check named Ping."]}
    check.refresh_from_db()
    assert (check.interval, check.edited) == (300, ["interval"])
