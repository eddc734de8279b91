"""The global search in a real browser: "/" jumps to the box from any page, an IP address finds
its configuration item, and a click opens it; Esc leaves the box. Also: filtering a list keeps
each parameter once in the address."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import expect

from opsdesk.core.models import Role
from tests.factories import ConfigurationItemFactory, CustomerFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    # live_server needs committed data; serialized_rollback puts back what the migrations wrote.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def administrator():
    return UserFactory(username="ada", role=Role.ADMIN)


@pytest.fixture
def items():
    customer = CustomerFactory(code="ACME", name="Acme 阿克米")
    return {
        "primary": ConfigurationItemFactory(customer=customer, name="db-primary",
                                            attributes={"ip_address": "10.42.0.17", "os": "Debian 12"}),
        "replica": ConfigurationItemFactory(customer=customer, name="db-replica",
                                            attributes={"ip_address": "10.42.0.18", "os": "Debian 12"}),
    }


def test_slash_then_an_ip_address_finds_the_item_and_opens_it(page, log_in, shot, administrator, items):
    log_in(page, "ada")
    expect(page.locator("main h1")).to_have_text("Dashboard")
    box = page.locator("#global-search")
    expect(box).not_to_be_focused()

    page.keyboard.press("/")
    expect(box).to_be_focused()
    expect(box).to_have_value("")  # the "/" itself is not typed into the box
    page.keyboard.type("10.42.0.17")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert urlsplit(page.url).path == "/search/"
    assert parse_qsl(urlsplit(page.url).query) == [("q", "10.42.0.17")]

    group = page.locator("#search-cmdb-configurationitem")
    expect(group.locator(".search-count")).to_have_text("1")
    expect(group.locator(".search-hit")).to_have_text(["db-primary"])
    expect(group.locator(".search-matched")).to_have_text("IP address: 10.42.0.17")
    expect(group.locator(".search-matched mark")).to_have_text("10.42.0.17")
    expect(box).to_have_value("10.42.0.17")  # the box keeps the query on the results page
    shot(page, "results")

    with page.expect_navigation():
        group.locator(".search-hit").click()
    expect(page).to_have_url(re.compile(rf"/cmdb/configurationitems/{items['primary'].pk}/$"))
    expect(page.locator("main h1")).to_have_text("db-primary")


def test_escape_leaves_the_box_and_a_slash_in_another_field_is_just_typed(page, log_in, administrator, items):
    log_in(page, "ada")
    box = page.locator("#global-search")
    page.keyboard.press("/")
    page.keyboard.type("db-")
    page.keyboard.press("Escape")
    expect(box).not_to_be_focused()
    expect(box).to_have_value("db-")  # Esc leaves the box without clearing it

    page.goto("/cmdb/configurationitems/")
    page.locator("#id_q").click()
    page.keyboard.type("a/b")
    expect(page.locator("#id_q")).to_have_value("a/b")
    expect(box).not_to_be_focused()


def test_no_result_and_empty_searches_say_what_to_do(page, log_in, shot, administrator, items):
    log_in(page, "ada")
    page.goto("/search/?q=no-such-host")
    expect(page.locator("#search-nothing")).to_contain_text("no-such-host")
    page.goto("/search/")
    expect(page.locator("#search-hint")).to_be_visible()
    expect(page.locator("#global-search")).to_be_focused()  # ready to type


def test_filtering_a_list_keeps_each_parameter_once(page, log_in, administrator, items):
    log_in(page, "ada")
    page.goto("/cmdb/configurationitems/?q=db&sort=name")
    expect(page.locator("#object-table")).to_contain_text("db-replica")
    page.fill("#id_q", "10.42.0.18")
    with page.expect_response(lambda r: "/cmdb/configurationitems/" in r.url and r.status == 200):
        page.locator("#filter-form button[type=submit]").click()
    expect(page.locator("#object-table")).not_to_contain_text("db-primary")
    expect(page.locator("#object-table")).to_contain_text("db-replica")
    keys = [key for key, _value in parse_qsl(urlsplit(page.url).query, keep_blank_values=True)]
    assert len(keys) == len(set(keys)), page.url
    assert ("q", "10.42.0.18") in parse_qsl(urlsplit(page.url).query)
    # The export links follow the filter the table was just filtered by.
    export = page.locator("#export-csv").get_attribute("href")
    assert ("q", "10.42.0.18") in parse_qsl(urlsplit(export).query) and export.count("q=") == 1
