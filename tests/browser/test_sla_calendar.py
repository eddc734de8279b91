"""The calendar's year page in a real browser, in English and in Chinese, at 1366×768: the year
with holidays and swapped working days, the warning that the calendar runs out, and an
administrator entering the next year's New Year holiday through the form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from opsdesk.core.models import Role
from opsdesk.servicedesk.models import BusinessCalendar, CalendarDay
from opsdesk.servicedesk.sla import services as sla_services
from tests.browser.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def browser_page(chromium, live_server, fresh_translations):
    made = []

    def open_page(locale: str):
        context = chromium.new_context(base_url=live_server.url, locale=locale,
                                       viewport={"width": 1366, "height": 768})
        context.set_default_timeout(10_000)
        made.append(context)
        return context.new_page()
    yield open_page
    for context in made:
        context.close()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_year_page_and_adding_the_new_years_holiday(browser_page, log_in, shot, language):
    sla_services.seed_calendars()
    china = BusinessCalendar.objects.get(name=sla_services.CHINA_NAME)
    admin = UserFactory(username="alice", role=Role.ADMIN, language=language)
    admin.set_password(PASSWORD)
    admin.save()
    page = browser_page("zh-CN" if language == "zh-hans" else "en-US")
    log_in(page, "alice")
    page.goto(f"/servicedesk/calendars/{china.pk}/year/?year=2025")
    expect(page.locator('td[data-day="2025-10-01"]')).to_have_attribute("data-kind", "holiday")
    expect(page.locator('td[data-day="2025-09-28"]')).to_have_attribute("data-kind", "swapped")
    shot(page, "year-2025")
    page.goto(f"/servicedesk/calendars/{china.pk}/year/?year=2027")
    expect(page.locator("#year-unknown-days")).to_be_visible()
    page.fill("#id_first", "2027-01-01")
    page.fill("#id_last", "2027-01-03")
    page.fill("#id_label", "元旦")
    with page.expect_navigation():
        page.click("#add-days-submit")
    expect(page.locator('td[data-day="2027-01-01"]')).to_have_attribute("data-kind", "holiday")
    assert CalendarDay.objects.filter(calendar=china).count() == 3
    page.fill("#id_first", "2027-01-05")
    page.fill("#id_last", "2027-01-04")
    page.click("#add-days-submit")
    expect(page.locator('.invalid-feedback[data-field="first"]')).to_be_visible()
    shot(page, "year-2027-error")
