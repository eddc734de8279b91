"""Availability in a real browser: the CI page's monitoring panel shows 24 h, 7 d and 30 d with a
bar each (down red, warning amber, maintenance hatched), the customer page lists its items worst
first and sorts them by name, and the availability page switches period; the panel in zh-Hans."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from opsdesk.core.models import Role
from opsdesk.monitoring.models import CheckStateChange, MaintenanceWindow
from tests.browser.test_flow import translation_of
from tests.factories import ConfigurationItemFactory, CustomerFactory, UserFactory, make_check_in_state

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def with_history(item, name: str, changes: list[tuple[dt.datetime, str]]):
    check = make_check_in_state(item, changes[-1][1], name=name, since=changes[-1][0])
    previous = "pending"
    for at, state in changes:
        CheckStateChange.objects.create(monitor_check=check, previous=previous, state=state, at=at)
        previous = state
    return check


@pytest.fixture
def estate():
    """Acme's database: watched for 40 days, down twice (once inside a maintenance window), a
    warning yesterday; its web server always up; its new cache without results yet."""
    UserFactory(username="ada", role=Role.ADMIN)
    customer = CustomerFactory(code="ACME", name="Acme 阿克米")
    now = timezone.now()
    ago = lambda **kw: now - dt.timedelta(**kw)  # noqa: E731
    db = ConfigurationItemFactory(customer=customer, name="db-01")
    with_history(db, "Ping", [(ago(days=40), "ok"), (ago(days=6), "critical"), (ago(days=6, hours=-2), "ok"),
                              (ago(hours=9), "critical"), (ago(hours=8), "ok"),
                              (ago(hours=3), "critical"), (ago(hours=2, minutes=15), "ok")])
    with_history(db, "PostgreSQL", [(ago(days=40), "ok"), (ago(hours=20), "warning"), (ago(hours=17), "ok")])
    window = MaintenanceWindow.objects.create(customer=customer, name="Upgrade to PostgreSQL 17",
                                              starts_at=ago(hours=10), ends_at=ago(hours=7, minutes=30))
    window.configuration_items.add(db)
    web = ConfigurationItemFactory(customer=customer, name="web-01")
    with_history(web, "HTTP", [(ago(days=40), "ok")])
    cache = ConfigurationItemFactory(customer=customer, name="cache-01")
    make_check_in_state(cache, "pending", name="Redis")
    return {"customer": customer, "db": db, "web": web, "cache": cache}


def panel_shot(page, name: str, selector: str = "#panel-monitoring_checks") -> None:
    """A screenshot of one part of the page, into OPSDESK_BROWSER_SHOTS when it is set."""
    target = os.environ.get("OPSDESK_BROWSER_SHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.locator(selector).screenshot(path=str(Path(target) / f"availability-{name}.png"))


def open_item(page, log_in, item) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, "ada")
    page.goto(f"/cmdb/configurationitems/{item.pk}/")
    expect(page.locator("#availability")).to_be_visible()


def test_the_ci_page_shows_availability_and_switches_period(page, log_in, shot, estate):
    open_item(page, log_in, estate["db"])
    day = page.locator('[data-period-pane="24h"]')
    expect(day).to_be_visible()
    # Down 45 min of the 21 h 30 min measured (the other hour was inside the maintenance window,
    # 2 h 30 min long, which does not count).
    expect(page.locator('[data-period="24h"] [data-percent]')).to_have_text("96.51%")
    # Both outages are drawn; the one inside maintenance is hatched over.
    expect(day.locator('[data-state="av-critical"]')).to_have_count(2)
    expect(day.locator('[data-state="av-warning"]')).to_have_count(1)
    expect(day.locator('[data-state="av-maintenance"]')).to_have_count(1)
    expect(day.locator('[data-summary="av-critical"]')).to_contain_text("45 min")
    expect(day.locator('[data-summary="av-maintenance"]')).to_contain_text("2 h 30 min")
    box = day.locator(".av-bar").bounding_box()
    assert box["width"] > 300 and box["height"] >= 16, box
    red = day.locator('[data-state="av-critical"]').last.bounding_box()
    assert red["width"] >= 3, red  # 45 minutes of a day: visible, not a hairline
    shot(page, "ci-24h")
    panel_shot(page, "en-24h")

    page.click('[data-period="30d"]')
    month = page.locator('[data-period-pane="30d"]')
    expect(month).to_be_visible()
    expect(day).to_be_hidden()
    expect(page.locator('[data-period="30d"]')).to_have_class(re.compile(r"\bactive\b"))
    expect(month.locator(".av-ticks span")).to_have_count(5)
    panel_shot(page, "en-30d")

    # No one-character-wide column: the checks' names are on one line at this width.
    for cell in page.locator("#monitoring-checks tbody td:nth-child(2) a").all():
        assert cell.bounding_box()["height"] < 30, cell.inner_text()


def test_the_customer_page_and_the_availability_page(page, log_in, shot, estate):
    type(estate["web"]).objects.filter(pk=estate["web"].pk).update(name="web-01.shanghai-dc")  # a long name
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, "ada")
    page.goto(f"/core/customers/{estate['customer'].pk}/")
    rows = page.locator("#availability-customer tbody tr")
    expect(rows).to_have_count(3)
    # The names are whole at a laptop's width, not cut to "web-01.sh…" beside the figures.
    for cell in page.locator("#availability-customer tbody td:first-child").all():
        assert cell.evaluate("td => td.scrollWidth <= td.clientWidth"), cell.inner_text()
    expect(rows.first).to_contain_text("db-01")
    expect(rows.last).to_contain_text("cache-01")  # no result yet: nothing to measure, listed last
    page.click('#availability-customer [data-sort="best"]')
    expect(page.locator("#availability-customer tbody tr").first).to_contain_text("web-01")
    shot(page, "customer")
    panel_shot(page, "customer-panel", "#panel-availability")

    page.goto(f"/monitoring/availability/?customer={estate['customer'].pk}")
    table = page.locator("#availability-table tbody tr")
    expect(table).to_have_count(3)
    expect(table.nth(0)).to_contain_text("db-01")
    expect(table.nth(2)).to_contain_text("cache-01")
    expect(table.nth(2).locator("[data-percent]")).to_have_text("—")
    page.click('[data-period="24h"]')
    expect(page.locator('[data-period="24h"]')).to_have_class(re.compile(r"\bactive\b"))
    expect(page.locator("#availability-table tbody tr").first.locator("[data-percent]")).to_have_text("96.51%")
    shot(page, "page-24h")
    panel_shot(page, "page-table", "main")


def test_the_panel_in_chinese(page, log_in, shot, estate):
    open_item(page, log_in, estate["db"])
    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator('[data-period="7d"] .text-muted')).to_have_text(translation_of("7 d"))
    expect(page.locator("[data-legend]")).to_contain_text(translation_of("No data"))
    shot(page, "ci-zh")
    panel_shot(page, "zh-24h")
    page.click('[data-period="7d"]')
    expect(page.locator('[data-period-pane="7d"]')).to_be_visible()
    panel_shot(page, "zh-7d")
