"""The check form (opsdesk/monitoring/check_form.py): the type is chosen from the check types, and
each parameter of the chosen type is a field of its own, saved as the check's params; bad values
are named on their fields; switching the type starts from the new type's defaults."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.urls import reverse

from opsdesk.monitoring.models import Check
from tests.factories import ConfigurationItemFactory

pytestmark = pytest.mark.django_db

OIDS = '[{"name": "temperature", "oid": "1.3.6.1.4.1.9.9.13.1.3.1.3.1"}]'


@pytest.fixture
def item(customer_a):
    return ConfigurationItemFactory(customer=customer_a, name="core-sw01")


def field_value(page: str, name: str) -> str | None:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    return found.group(1) if found else None


def snmp_post(item, **params) -> dict:
    """What the browser sends for an SNMP check: every field shown, the defaults as they stand."""
    fields = {"configuration_item": item.pk, "name": "SNMP", "type": "snmp", "target": "", "interval": 60,
              "timeout": 10, "params_of": "snmp", "param_version": "2c", "param_port": 161, "param_retries": 1,
              "param_interfaces": "on", "param_interface_include": "", "param_max_interfaces": 1000,
              "param_expect_up": "", "param_oids": ""}
    fields.update({f"param_{key}": value for key, value in params.items()})
    return {key: value for key, value in fields.items() if value is not None}


def test_the_type_is_chosen_and_its_parameters_are_fields(engineer_client, item):
    add = reverse("monitoring:check_add")
    blank = engineer_client.get(add, {"configuration_item": item.pk}).content.decode()
    assert '<select name="type"' in blank and '<option value="snmp">SNMP device (snmp)</option>' in blank
    assert "Choose a type to see its parameters." in blank and 'name="params"' not in blank
    page = engineer_client.get(add, {"configuration_item": item.pk, "type": "snmp"}).content.decode()
    assert re.search(r'<select name="param_version"[^>]*>\s*<option value="1">1</option>\s*'
                     r'<option value="2c" selected>2c</option>\s*<option value="3">3</option>', page)
    assert field_value(page, "param_port") == "161" and "Default: 161" in page
    assert re.search(r'<input type="checkbox" name="param_interfaces"[^>]*checked', page)
    assert 'hx-get=""' in page and 'hx-select="#check-params"' in page


def test_an_snmp_check_is_saved_from_its_parameter_fields(engineer_client, item):
    add = reverse("monitoring:check_add")
    response = engineer_client.post(add, snmp_post(item, version="1", port=1161, interfaces=None,
                                                   expect_up="Gi0/1\n\n Gi0/2 ", oids=OIDS))
    assert response.status_code == 302, response.content.decode()[:3000]
    check = Check.objects.get(configuration_item=item, name="SNMP")
    # Only what differs from the type's defaults is kept: a default changed later applies.
    assert check.params == {"version": "1", "port": 1161, "interfaces": False, "expect_up": ["Gi0/1", "Gi0/2"],
                            "oids": [{"name": "temperature", "oid": "1.3.6.1.4.1.9.9.13.1.3.1.3.1"}]}


def test_bad_parameters_are_named_on_their_fields_and_nothing_is_saved(engineer_client, item):
    add = reverse("monitoring:check_add")
    response = engineer_client.post(add, snmp_post(item, port=70000, oids="[not json", interface_include="(eth"))
    assert response.status_code == 400
    errors = dict(re.findall(r'data-field="([^"]+)">([^<]+)<', response.content.decode()))
    assert errors["param_port"] == "Ensure this value is less than or equal to 65535."
    assert errors["param_oids"].startswith("Write this as JSON")
    assert errors["param_interface_include"] == ("Interfaces to keep (regular expression on the name) is not a "
                                                 "valid regex.")
    assert not Check.objects.filter(configuration_item=item).exists()
    required = engineer_client.post(add, {"configuration_item": item.pk, "name": "TCP", "type": "tcp",
                                          "interval": 60, "timeout": 10, "params_of": "tcp", "param_port": ""})
    assert required.status_code == 400
    assert dict(re.findall(r'data-field="([^"]+)">([^<]+)<', required.content.decode()))["param_port"] == \
        "This field is required."


def test_editing_shows_the_checks_parameters_and_another_type_starts_from_its_defaults(engineer_client, item):
    check = Check.objects.create(customer=item.customer, configuration_item=item, name="SNMP", type="snmp",
                                 params={"port": 1161, "expect_up": ["Gi0/1"]})
    edit = reverse("monitoring:check_edit", args=[check.pk])
    page = engineer_client.get(edit).content.decode()
    assert field_value(page, "param_port") == "1161"
    assert re.search(r'<textarea name="param_expect_up"[^>]*>\s*Gi0/1</textarea>', page)
    # The type changed in the page: htmx asks again with the form's values, the old type's among them.
    switched = engineer_client.get(edit, {"type": "tcp", "params_of": "snmp", "param_port": "1161"}).content.decode()
    assert field_value(switched, "param_port") is None  # tcp's port: required, no default, not snmp's 1161
    assert "TCP port" in switched and 'name="param_version"' not in switched
    # Re-rendered for the same type (another field changed), the values typed stay.
    same = engineer_client.get(edit, {"type": "snmp", "params_of": "snmp", "param_port": "2161"}).content.decode()
    assert field_value(same, "param_port") == "2161"


def test_the_parameters_are_in_chinese_for_a_chinese_reader(engineer_client, item):
    page = engineer_client.get(reverse("monitoring:check_add"), {"type": "snmp"},
                               HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert "SNMP 版本" in page and "默认" in page and "SNMP version" not in page


def test_an_http_checks_status_codes_are_a_line_each(engineer_client, item):
    add = reverse("monitoring:check_add")
    fields = {"configuration_item": item.pk, "name": "Web", "type": "http", "target": "https://example.com/",
              "interval": 60, "timeout": 10, "params_of": "http", "param_verify": "on"}
    wrong = engineer_client.post(add, {**fields, "param_expect_status": "200\nok"})
    assert wrong.status_code == 400
    assert "Each line must be a whole number." in wrong.content.decode()
    saved = engineer_client.post(add, {**fields, "param_expect_status": "200\n301\n", "param_headers": '{"X-A": "1"}'})
    assert saved.status_code == 302, saved.content.decode()[:3000]
    check = Check.objects.get(name="Web")
    assert check.params == {"expect_status": [200, 301], "headers": {"X-A": "1"}}
    page = engineer_client.get(reverse("monitoring:check_detail", args=[check.pk])).content.decode()
    assert "{&quot;X-A&quot;: &quot;1&quot;}" in page and "&#x27;X-A&#x27;" not in page  # JSON, not Python's repr
    assert ">200, 301<" in page


def test_the_checks_page_lists_its_parameters_by_title_with_the_defaults_said(engineer_client, item):
    check = Check.objects.create(customer=item.customer, configuration_item=item, name="SNMP", type="snmp",
                                 params={"version": "1", "expect_up": ["Gi0/1", "Gi0/2"],
                                         "oids": [{"name": "temp", "oid": "1.3.6.1.4.1.9.1.0"}]})
    page = engineer_client.get(reverse("monitoring:check_detail", args=[check.pk])).content.decode()
    rows = dict(re.findall(r'<tr><th class="fw-normal text-muted ps-3"[^>]*>([^<]+)</th>\s*'
                           r'<td[^>]*>(.*?)</td></tr>', page, re.S))
    assert rows["SNMP version"] == "1"
    assert rows["Port"] == '161 <span class="text-muted">(default)</span>'
    assert rows["Interfaces that must be up"] == "Gi0/1, Gi0/2"
    # As JSON (PostgreSQL's jsonb keeps an object's keys in an order of its own).
    assert json.loads(html.unescape(rows["Custom OIDs"])) == [{"name": "temp", "oid": "1.3.6.1.4.1.9.1.0"}]
    assert "SNMP device" in page and "{&quot;version&quot;" not in page  # no raw JSON of the parameters
    chinese = engineer_client.get(reverse("monitoring:check_detail", args=[check.pk]),
                                  HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert "SNMP 版本" in chinese and "SNMP version" not in chinese


def test_a_templates_check_says_that_applying_the_template_again_keeps_what_is_changed(engineer_client, item):
    from opsdesk.monitoring.models import Template

    template = Template.objects.filter(kind=item.kind).first() or Template.objects.first()
    made = Check.objects.create(customer=item.customer, configuration_item=item, name="Ping", type="ping",
                                template=template)
    own = Check.objects.create(customer=item.customer, configuration_item=item, name="Mine", type="ping")
    page = engineer_client.get(reverse("monitoring:check_edit", args=[made.pk])).content.decode()
    assert f"Made by the template {template}: what you change here is kept when it is applied again." in page
    assert 'id="check-template-note"' not in engineer_client.get(
        reverse("monitoring:check_edit", args=[own.pk])).content.decode()
