"""The status overview in a real browser: the menu opens it, items are listed worst first, a state
tile filters the list, and the htmx refresh brings a changed state in without reloading the page;
the same page in zh-Hans."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from opsdesk.core.models import Role
from opsdesk.monitoring.models import Check
from tests.browser.test_flow import translation_of
from tests.factories import ConfigurationItemFactory, CustomerFactory, UserFactory, make_check_in_state

pytestmark = [
    pytest.mark.browser,
    # live_server needs committed data; serialized_rollback puts back what the migrations wrote.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def estate():
    UserFactory(username="ada", role=Role.ADMIN)
    acme = CustomerFactory(code="ACME", name="Acme 阿克米")
    items = {name: ConfigurationItemFactory(customer=acme, name=name)
             for name in ("app-ok", "db-critical", "nas-none", "web-warning")}
    make_check_in_state(items["app-ok"], "ok", name="Ping")
    make_check_in_state(items["db-critical"], "critical", name="MySQL", message="Can't connect to MySQL server")
    make_check_in_state(items["web-warning"], "warning", name="TLS", message="certificate expires in 9 days")
    return {"customer": acme, **items}


def rows(page):
    return page.locator("#overview-table tbody tr.overview-row .item-link")


def test_the_overview_lists_items_worst_first_and_refreshes_in_place(page, log_in, shot, estate):
    log_in(page, "ada")
    with page.expect_navigation():
        page.locator("aside").get_by_role("link", name="Status overview").click()
    expect(page.locator("main h1")).to_contain_text("Status overview")
    expect(rows(page)).to_have_text(["db-critical", "web-warning", "app-ok", "nas-none"])
    expect(page.locator("#overview-table")).to_contain_text("Can't connect to MySQL server")
    expect(page.locator("#overview-table")).to_contain_text("No checks — apply a template")
    expect(page.locator("#overview-body")).to_have_attribute("hx-trigger", "every 30s")
    shot(page, "overview")

    with page.expect_navigation():
        page.select_option("#overview-customer", str(estate["customer"].pk))
    with page.expect_navigation():
        page.click("#tile-warning")
    expect(rows(page)).to_have_text(["web-warning"])
    with page.expect_navigation():
        page.click("#tile-warning")  # the active tile again: every item
    expect(rows(page)).to_have_count(4)

    # A state changes; the next refresh (what "every 30s" does, asked for at once here) moves the
    # item up without reloading the page.
    Check.objects.filter(configuration_item=estate["app-ok"]).update(state="critical", last_message="timed out")
    page.evaluate("window.notReloaded = true")
    page.evaluate("""() => {
        const body = document.getElementById('overview-body');
        return htmx.ajax('GET', body.getAttribute('hx-get'), {target: body, swap: 'outerHTML'});
    }""")
    expect(rows(page)).to_have_text(["app-ok", "db-critical", "web-warning", "nas-none"])  # equals by name
    expect(page.locator("#overview-body")).to_have_attribute("hx-trigger", "every 30s")
    assert page.evaluate("window.notReloaded") is True
    with page.expect_navigation():
        rows(page).first.click()
    expect(page.locator("main h1")).to_have_text("app-ok")


def test_the_overview_in_chinese(page, log_in, shot, estate):
    log_in(page, "ada")
    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    page.goto("/monitoring/overview/")
    expect(page.locator("main h1")).to_contain_text(translation_of("Status overview"))
    expect(rows(page)).to_have_text(["db-critical", "web-warning", "app-ok", "nas-none"])
    expect(page.locator("#overview-table")).to_contain_text(translation_of("No checks — apply a template"))
    shot(page, "overview-zh")
