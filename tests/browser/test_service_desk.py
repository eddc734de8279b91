"""The service desk in a real browser, the engineer's half: a customer's request is in the queue
with its SLA, the engineer takes it, answers (the response clock is met), waits for the customer
(the SLA badge says paused), and resolves it (met)."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from opsdesk.core.models import Role, ServiceLevel, ServiceLevelTarget
from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import Ticket
from opsdesk.servicedesk.sla import services as sla_services
from tests.factories import ContractFactory, CustomerFactory, TeamFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def request_from_portal():
    sla_services.seed_calendars()
    acme = CustomerFactory(code="ACME", name="Acme 阿克米")
    level = ServiceLevel.objects.create(name="7×24 gold")
    for fault in ("severe", "general", "minor"):
        # Round the clock, so the clocks run whatever day and hour the test runs.
        ServiceLevelTarget.objects.create(service_level=level, fault_level=fault, response_minutes=60,
                                          resolution_minutes=480, business_hours_only=False)
    today = dt.date.today()
    ContractFactory(customer=acme, service_level=level, start_date=today - dt.timedelta(days=30),
                    end_date=today + dt.timedelta(days=300))
    engineer = UserFactory(username="eva", role=Role.ENGINEER)
    team = TeamFactory(name="Desk 服务台")
    team.members.add(engineer)
    team.customers.add(acme)
    customer = UserFactory(username="li", role=Role.CUSTOMER, customer=acme)
    ticket = services.open_ticket(actor=customer, customer=acme, title="打印机卡纸 printer jammed",
                                  description="三楼打印机一直卡纸。")
    return ticket


def test_take_answer_wait_and_resolve_with_the_sla_badge_following(page, log_in, shot, request_from_portal):
    ticket = request_from_portal
    log_in(page, "eva")
    page.goto("/servicedesk/tickets/?queue=unassigned")
    row = page.locator(f'#ticket-table tr[data-ticket="{ticket.pk}"]')
    expect(row).to_contain_text("打印机卡纸")
    expect(row.locator("[data-sla]")).to_have_attribute("data-sla", "running")
    shot(page, "queue")

    row.locator("a").first.click()
    expect(page.locator("#ticket-sla [data-sla-state]")).to_have_attribute("data-sla-state", "running")
    page.click("#action-take")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").last.click()
    expect(page.locator("#ticket-status")).to_have_text("In progress")
    expect(page.locator("#ticket-assignee")).to_contain_text("eva")

    page.fill("#id_body", "您好，请问是哪一台打印机？")
    page.select_option("#id_status", "waiting_customer")
    with page.expect_navigation():
        page.click("#composer-send")
    expect(page.locator("#timeline")).to_contain_text("请问是哪一台打印机")
    expect(page.locator("#ticket-status")).to_have_text("Waiting for customer")
    expect(page.locator("#ticket-sla [data-sla-state]")).to_have_attribute("data-sla-state", "paused")
    assert Ticket.objects.get(pk=ticket.pk).first_response_at is not None
    shot(page, "waiting")

    # The customer answers (by mail, portal or chat: the same action), the clock runs again.
    services.reply(Ticket.objects.get(pk=ticket.pk), actor=ticket.requester_user, body="三楼东侧那台。")
    page.reload()
    expect(page.locator("#ticket-status")).to_have_text("In progress")
    expect(page.locator("#ticket-sla [data-sla-state]")).to_have_attribute("data-sla-state", "running")

    page.fill("#id_body", "已更换搓纸轮，请试一下。")
    page.select_option("#id_status", "resolved")
    with page.expect_navigation():
        page.click("#composer-send")
    expect(page.locator("#ticket-status")).to_have_text("Resolved")
    expect(page.locator("#ticket-sla [data-sla-state]")).to_have_attribute("data-sla-state", "met")
    shot(page, "resolved")
