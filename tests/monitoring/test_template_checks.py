"""A template's checks edited one at a time (monitoring/views/template_checks.py): added, changed
and taken out with the check form's fields instead of the template's JSON, checked as the template
is, by managers only."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from opsdesk.monitoring import template_services
from opsdesk.monitoring.models import Check, Template
from tests.conftest import _client_for
from tests.factories import ConfigurationItemFactory, make_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(manager):
    # A client of its own: the other *_client fixtures log their person in on pytest-django's one.
    return _client_for(Client(), manager)


@pytest.fixture
def template():
    return make_template(checks=[
        {"name": "Ping", "type": "ping", "target": "{ip_address}", "params": {"count": 1}, "interval": 60,
         "timeout": 5},
        {"name": "Database", "type": "tcp", "target": "{ip_address}", "params": {"port": 5432},
         "param_attributes": {"port": "port"}}])


def _post(template_id: int, position: int | None = None, **fields) -> tuple[str, dict]:
    url = reverse("monitoring:template_check_add", args=[template_id]) if position is None else \
        reverse("monitoring:template_check_edit", args=[template_id, position])
    data = {"name": "HTTPS", "type": "tcp", "target": "{ip_address}", "interval": "", "timeout": "",
            "params_of": "tcp", "param_port": "443"}
    data.update(fields)
    return url, data


def test_a_manager_adds_a_check_with_the_types_fields(manager_client, template):
    page = manager_client.get(reverse("monitoring:template_check_add", args=[template.pk]), {"type": "tcp"})
    assert page.status_code == 200 and 'name="param_port"' in page.content.decode()
    url, data = _post(template.pk, interval="120")
    response = manager_client.post(url, data)
    assert response.status_code == 302 and response["Location"].endswith("#template-checks")
    template.refresh_from_db()
    assert template.checks[-1] == {"name": "HTTPS", "type": "tcp", "target": "{ip_address}", "params": {"port": 443},
                                   "interval": 120}
    # Applied, it makes the check as a hand-written entry would.
    item = ConfigurationItemFactory(kind=template.kind, attributes={"ip_address": "10.0.0.9"})
    template_services.apply_template(template, item, actor=None)
    made = Check.objects.get(configuration_item=item, name="HTTPS")
    assert (made.type, made.target, made.params, made.interval) == ("tcp", "10.0.0.9", {"port": 443}, 120)


def test_editing_shows_the_check_and_keeps_what_the_form_does_not_show(manager_client, template):
    edit = reverse("monitoring:template_check_edit", args=[template.pk, 1])
    page = manager_client.get(edit).content.decode()
    assert 'value="Database"' in page and 'name="param_port"' in page and 'value="5432"' in page
    url, data = _post(template.pk, 1, name="Database", param_port="5433", timeout="7")
    assert manager_client.post(url, data).status_code == 302
    template.refresh_from_db()
    assert template.checks[1] == {"name": "Database", "type": "tcp", "target": "{ip_address}", "params": {"port": 5433},
                                  "timeout": 7, "param_attributes": {"port": "port"}}
    assert template.checks[0]["name"] == "Ping"


def test_a_name_used_twice_or_a_bad_parameter_is_named_and_nothing_changes(manager_client, template):
    before = list(template.checks)
    url, data = _post(template.pk, name="Ping")
    response = manager_client.post(url, data)
    assert response.status_code == 400
    assert "Check Ping: the name is used twice." in response.content.decode()
    url, data = _post(template.pk, param_port="70000")
    response = manager_client.post(url, data)
    assert response.status_code == 400
    port_input = re.search(r'<input[^>]*name="param_port"[^>]*>', response.content.decode()).group(0)
    assert 'aria-invalid="true"' in port_input
    template.refresh_from_db()
    assert template.checks == before


def test_removing_takes_the_check_out_and_leaves_what_it_made(manager_client, template):
    item = ConfigurationItemFactory(kind=template.kind, attributes={"ip_address": "10.0.0.9"})
    template_services.apply_template(template, item, actor=None)
    response = manager_client.post(reverse("monitoring:template_check_remove", args=[template.pk, 0]))
    assert response.status_code == 302
    template.refresh_from_db()
    assert [spec["name"] for spec in template.checks] == ["Database"]
    assert Check.objects.filter(configuration_item=item, name="Ping").exists()
    assert manager_client.post(reverse("monitoring:template_check_remove", args=[template.pk, 5])).status_code == 404


def test_the_detail_page_offers_the_buttons_to_managers_only(manager_client, engineer_client, template):
    detail = reverse("monitoring:template_detail", args=[template.pk])
    assert 'id="add-template-check"' in manager_client.get(detail).content.decode()
    engineers = engineer_client.get(detail).content.decode()
    assert 'id="add-template-check"' not in engineers and "/checks/0/edit/" not in engineers


@pytest.mark.parametrize("who", ["engineer_client", "customer_client"])
def test_who_may_not_change_templates_cannot_change_their_checks(request, who, template):
    client = request.getfixturevalue(who)
    before = list(template.checks)
    url, data = _post(template.pk)
    assert client.get(url).status_code == 403
    assert client.post(url, data).status_code == 403
    assert client.post(reverse("monitoring:template_check_remove", args=[template.pk, 0])).status_code == 403
    template.refresh_from_db()
    assert template.checks == before


def test_the_form_is_in_chinese_for_a_chinese_reader(manager_client, template):
    page = manager_client.get(reverse("monitoring:template_check_edit", args=[template.pk, 0]),
                              HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert "应用模板" in page and "Applying the template makes this check" not in page
    assert "Empty: the check type's default." not in page


def test_a_built_in_templates_check_is_edited_as_any(manager_client):
    builtin = Template.objects.get(slug="linux-server")
    url, data = _post(builtin.pk, 1, name="SSH port", param_port="2222", param_warning="1000", param_critical="3000")
    assert manager_client.post(url, data).status_code == 302
    builtin.refresh_from_db()
    assert builtin.checks[1]["params"] == {"port": 2222, "warning": 1000, "critical": 3000}


def test_the_templates_own_form_has_no_json_of_checks_and_keeps_them(manager_client, template):
    edit = reverse("monitoring:template_edit", args=[template.pk])
    assert 'name="checks"' not in manager_client.get(edit).content.decode()
    before = list(template.checks)
    response = manager_client.post(edit, {"slug": template.slug, "name": "Renamed", "kind": template.kind_id,
                                          "description": ""})
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.name, template.checks) == ("Renamed", before)


def test_a_new_template_starts_without_checks_and_says_how_to_add_them(manager_client):
    from tests.factories import CIKindFactory

    kind = CIKindFactory()
    response = manager_client.post(reverse("monitoring:template_add"),
                                   {"slug": "edge-routers", "name": "Edge routers", "kind": kind.pk, "description": ""})
    assert response.status_code == 302
    made = Template.objects.get(slug="edge-routers")
    assert made.checks == []
    page = manager_client.get(reverse("monitoring:template_detail", args=[made.pk])).content.decode()
    assert "No checks yet: add one, and applying the template makes it on each item." in page
