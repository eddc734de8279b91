"""The change history on a CI's page in a real browser: an attribute edited through the form is one
row per changed key with before and after, in columns wide enough to read (in both languages),
and the audit log fits the window."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from opsdesk.core.models import Role
from tests.factories import ConfigurationItemFactory, CustomerFactory, UserFactory, kind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

MIN_COLUMN_WIDTH = 60  # px: "one character per column" was about 14


@pytest.fixture
def administrator():
    return UserFactory(username="ada", role=Role.ADMIN)


def change_rows(page) -> list[list[str]]:
    latest = page.locator("#history .history-entry").first
    return [[cell.strip() for cell in row.locator("td").all_inner_texts()]
            for row in latest.locator("table.history-changes tbody tr").all()]


def assert_columns_are_readable(page) -> None:
    latest = page.locator("#history .history-entry").first
    cells = latest.locator("table.history-changes th, table.history-changes td")
    assert cells.count() >= 6
    for i in range(cells.count()):
        box = cells.nth(i).bounding_box()
        assert box["width"] >= MIN_COLUMN_WIDTH, (cells.nth(i).inner_text(), box)


def test_an_attribute_edit_is_one_row_per_changed_key(page, log_in, shot, administrator):
    customer = CustomerFactory(code="HIST", name="History 历史")
    item = ConfigurationItemFactory(customer=customer, kind=kind("server"), name="app-01", attributes={
        "hostname": "app-01.example.internal", "ip_address": "10.0.0.1", "os": "Kylin V10", "cpu_cores": 8})
    log_in(page, "ada")
    page.goto(f"/cmdb/configurationitems/{item.pk}/")
    with page.expect_navigation():
        page.click("#edit-object")
    page.fill("#id_attr_ip_address", "10.0.0.2")
    page.fill("#id_attr_os", "Kylin V10 SP3 with a rather long operating system description")
    page.check("#id_attr_virtual")
    with page.expect_navigation():
        page.click("#save")
    expect(page.locator("main h1")).to_have_text("app-01")

    # One row per key; in the order the database keeps the keys (jsonb sorts them on PostgreSQL).
    rows = sorted(change_rows(page))
    assert rows == [
        ["attributes.ip_address", "10.0.0.1", "10.0.0.2"],
        ["attributes.os", "Kylin V10", "Kylin V10 SP3 with a rather long operating system description"],
        ["attributes.virtual", "—", "Yes"],
    ], rows
    assert_columns_are_readable(page)
    shot(page, "ci-history-en")

    # The same in Chinese, where every character is a possible line break.
    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    zh_rows = {r[0]: r for r in change_rows(page)}
    assert sorted(zh_rows) == ["属性.ip_address", "属性.os", "属性.virtual"]
    assert zh_rows["属性.virtual"][2] == "是"
    assert_columns_are_readable(page)
    shot(page, "ci-history-zh")

    # The audit log shows the same rows and fits the window, with date pickers for the range.
    page.goto("/audit/?object_repr=app-01")
    expect(page.locator("#audit-table")).to_contain_text("属性.ip_address: 10.0.0.1 → 10.0.0.2")
    viewport = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport
    for header in page.locator("#audit-table thead th").all():
        assert header.bounding_box()["width"] >= MIN_COLUMN_WIDTH, header.inner_text()
    expect(page.locator("#id_since")).to_have_attribute("type", "date")
    expect(page.locator("#id_until")).to_have_attribute("type", "date")
    shot(page, "audit-zh")
