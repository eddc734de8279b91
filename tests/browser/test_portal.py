"""The customer's half of a request, in a real browser: a customer user logs in, opens "New
request", picks a category that asks for a field of its own, attaches a file and sends; sees the
request with its number and the file; after the desk answers (through the ticket services, as
the desk's page would), sees the answer and confirms the resolution. A refused file keeps the
words of the reply."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from opsdesk.core.models import Role
from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import Category, Ticket
from tests.factories import CustomerFactory, TeamFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    # live_server needs committed data: see tests/browser/test_flow.py.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def desk():
    acme = CustomerFactory(code="ACME", name="Acme 阿克米")
    engineer = UserFactory(username="eric", role=Role.ENGINEER, first_name="Eric")
    team = TeamFactory(name="Acme desk")
    team.members.add(engineer)
    team.customers.add(acme)
    UserFactory(username="carl", role=Role.CUSTOMER, customer=acme)
    Category.objects.create(name="Printer", form_fields=[
        {"name": "serial", "label": {"en": "Serial number", "zh-hans": "序列号"}, "type": "text", "required": True},
        {"name": "tray", "label": "Tray", "type": "choice", "choices": ["1", "2", "manual"]}])
    return {"customer": acme, "engineer": engineer}


def test_a_customer_submits_with_an_attachment_and_follows_the_desks_answer(page, log_in, shot, desk):
    log_in(page, "carl")
    page.locator("aside").get_by_role("link", name="New request").click()
    expect(page.locator("main h1")).to_have_text("New request")
    expect(page.locator("#id_cf_serial")).to_have_count(0)
    page.select_option("#id_category", label="Printer")
    # The category's own fields are swapped in (htmx).
    expect(page.locator("#id_cf_serial")).to_be_visible()
    page.fill("#id_title", "Printer on floor 3 does not print")
    page.fill("#id_description", "The paper jam light blinks.\n\n卡纸灯一直闪。")
    page.fill("#id_cf_serial", "SN-4711")
    page.select_option("#id_cf_tray", "2")
    page.check("#id_impact_2")  # only me
    page.set_input_files("#id_files", files=[{"name": "卡纸照片.png", "mimeType": "image/png",
                                              "buffer": b"\x89PNG\r\n\x1a\n fake picture"}])
    shot(page, "new-request")
    with page.expect_navigation():
        page.click("#submit-request")

    ticket = Ticket.objects.get()
    expect(page).to_have_url(re.compile(rf"/servicedesk/portal/{ticket.pk}/$"))
    expect(page.locator("#request-number")).to_have_text(f"#{ticket.pk}")
    expect(page.locator("#request-status")).to_have_text("Received")
    expect(page.locator("#conversation")).to_contain_text("卡纸灯一直闪。")
    expect(page.locator("#request-attachments")).to_contain_text("卡纸照片.png")
    expect(page.locator("#request-facts")).to_contain_text("SN-4711")
    assert (ticket.channel, ticket.form_data) == ("portal", {"serial": "SN-4711", "tray": "2"})
    assert ticket.requester_user.username == "carl" and ticket.customer == desk["customer"]
    shot(page, "request-received")

    # The picture opens from its link, as the file that was sent.
    link = page.locator("#request-attachments a.attachment-link").first
    response = page.request.get(link.get_attribute("href"))
    assert response.status == 200 and response.body() == b"\x89PNG\r\n\x1a\n fake picture"
    assert response.headers["x-content-type-options"] == "nosniff"

    # The desk answers and resolves (its own page is the lead's; the services are the same).
    engineer = desk["engineer"]
    services.take(ticket, actor=engineer)
    services.note(ticket, actor=engineer, body="Internal: tray 2 roller worn")
    services.resolve(ticket, actor=engineer, solution="We replaced the roller of tray 2.")
    page.reload()
    message = page.locator(".portal-message.from-desk").last
    expect(message).to_contain_text("We replaced the roller of tray 2.")
    expect(message).to_contain_text("Eric")
    expect(page.locator("#conversation")).not_to_contain_text("roller worn")
    expect(page.locator("#request-status")).to_have_text("Resolved")
    shot(page, "request-resolved")
    with page.expect_navigation():
        page.click("#confirm-resolved")
    expect(page.locator("#request-status")).to_have_text("Closed")
    ticket.refresh_from_db()
    assert ticket.status == "closed"

    page.locator("aside").get_by_role("link", name="My requests").click()
    row = page.locator("#request-table tbody tr").first
    expect(row).to_contain_text(f"#{ticket.pk}")
    expect(row).to_contain_text("Closed")
    shot(page, "my-requests")


def test_a_refused_file_is_named_with_the_limit_and_the_reply_is_kept(page, log_in, shot, desk):
    carl = desk["customer"].users.get(username="carl")
    ticket = services.open_ticket(actor=carl, customer=desk["customer"], title="VPN drops", description="Every hour.",
                                  channel="portal")
    log_in(page, "carl")
    page.goto(f"/servicedesk/portal/{ticket.pk}/")
    page.fill("#id_body", "It dropped again at 10:05, the client log is attached.")
    page.set_input_files("#id_files", files=[{"name": "fix.exe", "mimeType": "application/octet-stream",
                                              "buffer": b"MZ"}])
    with page.expect_navigation():
        page.click("#send-reply")
    expect(page.locator('[data-field="files"]').first).to_have_text("fix.exe: files of type .exe are not accepted.")
    expect(page.locator("#id_body")).to_have_value("It dropped again at 10:05, the client log is attached.")
    shot(page, "reply-refused")
    page.set_input_files("#id_files", files=[{"name": "client.log", "mimeType": "text/plain", "buffer": b"drop"}])
    with page.expect_navigation():
        page.click("#send-reply")
    expect(page.locator("#conversation")).to_contain_text("It dropped again at 10:05")
    expect(page.locator("#conversation")).to_contain_text("client.log")
