"""Adding a check in a real browser: choosing the type brings that type's parameters in as fields
(htmx, no reload), the values chosen are saved as the check's parameters; the same form in zh-Hans."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from opsdesk.core.models import Role
from opsdesk.monitoring.models import Check
from tests.browser.test_flow import translation_of
from tests.factories import ConfigurationItemFactory, CustomerFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def switch():
    UserFactory(username="ada", role=Role.ADMIN)
    return ConfigurationItemFactory(customer=CustomerFactory(code="ACME", name="Acme 阿克米"), name="core-sw01")


def test_the_chosen_types_parameters_come_in_as_fields_and_are_saved(page, log_in, shot, switch):
    log_in(page, "ada")
    page.goto(f"/monitoring/checks/add/?configuration_item={switch.pk}")
    expect(page.locator("#check-params")).to_contain_text("Choose a type to see its parameters.")
    page.fill("#id_name", "SNMP")
    page.select_option("#id_type", "snmp")
    expect(page.locator("#check-params legend")).to_contain_text("SNMP device")
    expect(page.locator("#id_param_port")).to_have_value("161")
    expect(page.locator("#id_name")).to_have_value("SNMP")  # the rest of the form stays as typed
    page.select_option("#id_param_version", "1")
    page.fill("#id_param_port", "1161")
    page.uncheck("#id_param_interfaces")
    page.fill("#id_param_expect_up", "Gi0/1\nGi0/2")
    shot(page, "snmp")
    with page.expect_navigation():
        page.click("#save")
    expect(page.locator("main h1")).to_contain_text("SNMP")
    check = Check.objects.get(configuration_item=switch)
    assert check.type == "snmp"
    assert check.params == {"version": "1", "port": 1161, "interfaces": False, "expect_up": ["Gi0/1", "Gi0/2"]}

    # Another type: its own parameters, from its defaults.
    page.goto(f"/monitoring/checks/{check.pk}/edit/")
    expect(page.locator("#id_param_port")).to_have_value("1161")
    page.select_option("#id_type", "tcp")
    expect(page.locator("#check-params legend")).to_contain_text("TCP port")
    expect(page.locator("#id_param_port")).to_have_value("")
    expect(page.locator("#id_param_version")).to_have_count(0)

    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    page.goto(f"/monitoring/checks/add/?configuration_item={switch.pk}")
    expect(page.locator("#check-params")).to_contain_text(translation_of("Choose a type to see its parameters."))
    page.select_option("#id_type", "snmp")
    expect(page.locator("#check-params")).to_contain_text(translation_of("SNMP version"))
    default_port = translation_of("Default: %(value)s") % {"value": 161}
    expect(page.locator("#check-params")).to_contain_text(default_port)
    shot(page, "snmp-zh")


def test_a_template_checks_edits_in_the_form_are_marked_on_its_page_and_kept(page, log_in, shot, switch):
    from opsdesk.monitoring import template_services
    from tests.factories import make_template

    template = make_template(switch.kind, name="Core switches", checks=[
        {"name": "Ping", "type": "ping", "target": "{ip_address}", "params": {"count": 3, "warning": 200},
         "interval": 60, "timeout": 5}])
    switch.attributes = {"ip_address": "10.0.0.1"}
    switch.save()
    template_services.apply_template(template, switch, actor=None)
    check = Check.objects.get(configuration_item=switch, name="Ping")
    log_in(page, "ada")
    page.goto(f"/monitoring/checks/{check.pk}/edit/")
    page.fill("#id_interval", "300")
    page.fill("#id_param_warning", "150")
    with page.expect_navigation():
        page.click("#save")
    expect(page.locator("#check-edited")).to_contain_text("kept when the template Core switches is applied again")
    expect(page.locator("#check-edited")).to_contain_text("Interval (seconds)")
    expect(page.locator("#check-parameters tr", has_text="edited here")).to_have_count(1)
    shot(page, "template-check-edited")
    check.refresh_from_db()
    assert check.edited == ["interval", "params.warning"]

    template_services.apply_template(template, switch, actor=None)
    check.refresh_from_db()
    assert (check.interval, check.params["warning"]) == (300, 150)

    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    page.goto(f"/monitoring/checks/{check.pk}/")
    expect(page.locator("#check-edited")).to_contain_text(translation_of("the parameters marked below"))
    expect(page.locator("#check-parameters")).to_contain_text(translation_of("edited here"))
    shot(page, "template-check-edited-zh")

    # Undone: the template's values again, and nothing marked.
    page.get_by_role("link", name=translation_of("Reset to template")).click()
    expect(page.locator("#action-form")).to_contain_text(
        translation_of("What was edited on this check goes back to its template's values."))
    with page.expect_navigation():
        page.click("#run-action")
    expect(page.locator("#check-edited")).to_have_count(0)
    expect(page.get_by_role("link", name=translation_of("Reset to template"))).to_have_count(0)
    check.refresh_from_db()
    assert (check.interval, check.params, check.edited) == (60, {"count": 3, "warning": 200}, [])


def test_a_templates_check_is_added_with_the_types_fields_not_json(page, log_in, shot, switch):
    from opsdesk.monitoring.models import Template
    from tests.factories import make_template

    template = make_template(switch.kind, name="Core switches")
    log_in(page, "ada")
    page.goto(f"/monitoring/templates/{template.pk}/")
    page.click("#add-template-check")
    page.fill("#id_name", "SSH")
    page.select_option("#id_type", "tcp")
    expect(page.locator("#check-params legend")).to_contain_text("TCP port")
    page.fill("#id_target", "{ip_address}")
    page.fill("#id_param_port", "22")
    shot(page, "template-check-form")
    with page.expect_navigation():
        page.click("#save")
    expect(page.locator("#template-checks")).to_contain_text("SSH")
    shot(page, "template-detail")
    template.refresh_from_db()
    assert template.checks[-1] == {"name": "SSH", "type": "tcp", "target": "{ip_address}", "params": {"port": 22}}
    assert Template.objects.filter(pk=template.pk).exists()

    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    page.goto(f"/monitoring/templates/{template.pk}/checks/1/edit/")
    expect(page.locator("#template-check-form")).to_contain_text(
        translation_of("Applying the template makes this check on each item, with the target filled in from the item."))
    expect(page.locator("#id_param_port")).to_have_value("22")
    shot(page, "template-check-form-zh")
