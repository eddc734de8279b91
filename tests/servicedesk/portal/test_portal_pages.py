"""The portal's pages as a customer user reads them: "My requests", "New request" and a request's
page with the public conversation only."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from opsdesk.core.models import Role
from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import Category, Ticket
from tests.factories import ConfigurationItemFactory, UserFactory, make_ticket

pytestmark = pytest.mark.django_db

LIST = reverse("servicedesk:portal_list")
NEW = reverse("servicedesk:portal_new")


def detail(ticket) -> str:
    return reverse("servicedesk:portal_detail", args=[ticket.pk])


def request_data(**extra) -> dict:
    return {"title": "Printer on floor 3 does not print", "description": "Paper jam light blinks.\n\nSince 9:00.",
            "impact": "medium", "urgency": "medium", **extra}


# --- My requests ---------------------------------------------------------------------------------

def test_my_requests_are_the_companys_by_default_and_mine_on_request(client, customer_user, customer_a, customer_b):
    mine = make_ticket(customer_a, actor=customer_user, title="My printer")
    colleague = UserFactory(role=Role.CUSTOMER, customer=customer_a)
    theirs = make_ticket(customer_a, actor=colleague, title="Colleague's VPN")
    by_phone = make_ticket(customer_a, title="Phoned-in ERP problem")
    other_customer = make_ticket(customer_b, title="Beta's secret server")
    client.force_login(customer_user)
    html = client.get(LIST).content.decode()
    for ticket in (mine, theirs, by_phone):
        assert detail(ticket) in html
    assert detail(other_customer) not in html and "Beta's secret server" not in html
    html = client.get(LIST, {"whose": "mine"}).content.decode()
    assert detail(mine) in html
    assert detail(theirs) not in html and detail(by_phone) not in html


def test_the_list_is_searched_by_number_or_words_and_filtered_by_status(client, customer_user, customer_a):
    printer = make_ticket(customer_a, actor=customer_user, title="Printer jam")
    vpn = make_ticket(customer_a, actor=customer_user, title="VPN 连不上", description="error 809")
    resolved = make_ticket(customer_a, title="Old mail problem", status="resolved")
    client.force_login(customer_user)
    found = client.get(LIST, {"q": f"#{printer.pk}"}).content.decode()
    assert detail(printer) in found and detail(vpn) not in found
    found = client.get(LIST, {"q": "连不上"}).content.decode()
    assert detail(vpn) in found and detail(printer) not in found
    found = client.get(LIST, {"q": "809"}).content.decode()
    assert detail(vpn) in found and detail(printer) not in found
    to_confirm = client.get(LIST, {"state": "resolved"}).content.decode()
    assert detail(resolved) in to_confirm and detail(printer) not in to_confirm
    still_open = client.get(LIST, {"state": "open"}).content.decode()
    assert detail(printer) in still_open and detail(resolved) not in still_open


def test_the_list_pages_by_25_latest_update_first(client, customer_user, customer_a):
    tickets = [make_ticket(customer_a, actor=customer_user, title=f"Request {n}") for n in range(27)]
    services.reply(tickets[0], actor=customer_user, body="Any news?")  # the oldest is now the latest update
    client.force_login(customer_user)
    first = client.get(LIST).content.decode()
    numbers = [int(n) for n in re.findall(r'href="/servicedesk/portal/(\d+)/">#', first)]
    assert len(numbers) == 25
    assert numbers[0] == tickets[0].pk
    assert numbers[1] == tickets[-1].pk
    second = client.get(LIST, {"page": 2}).content.decode()
    assert len(re.findall(r'href="/servicedesk/portal/(\d+)/">#', second)) == 2
    assert "27 requests" in first


def test_an_empty_list_says_what_to_do_next(client, customer_user):
    client.force_login(customer_user)
    html = client.get(LIST).content.decode()
    empty = html[html.index('id="no-requests"'):]
    assert "No requests yet." in empty and NEW in empty
    filtered = client.get(LIST, {"q": "nothing like this"}).content.decode()
    assert "No request matches." in filtered and "Clear filters" in filtered


def test_customer_users_find_the_portal_in_their_navigation_and_on_their_home(client, customer_user, customer_a,
                                                                             customer_b, engineer):
    mine = make_ticket(customer_a, actor=customer_user, title="Toner empty")
    make_ticket(customer_b, title="Beta's request")
    client.force_login(customer_user)
    aside = client.get(reverse("home")).content.decode()
    assert f'href="{LIST}"' in aside and f'href="{NEW}"' in aside
    assert "Toner empty" in aside and detail(mine) in aside
    assert "Beta's request" not in aside
    client.force_login(engineer)
    assert f'href="{LIST}"' not in client.get(reverse("home")).content.decode()


# --- New request ---------------------------------------------------------------------------------

def test_a_request_is_opened_with_its_category_fields_files_and_items(client, customer_user, customer_a,
                                                                      printer_category):
    item = ConfigurationItemFactory(customer=customer_a, name="printer-3f")
    client.force_login(customer_user)
    files = [SimpleUploadedFile("错误截图.png", b"\x89PNG fake", content_type="image/png"),
             SimpleUploadedFile("log.txt", b"jam at tray 2", content_type="text/plain")]
    response = client.post(NEW, request_data(category=printer_category.pk, cf_serial="SN-42", cf_floor="3",
                                             cf_model="laser", impact="high", urgency="high",
                                             configuration_items=[item.pk], files=files))
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(ticket)
    assert (ticket.customer, ticket.requester_user, ticket.channel) == (customer_a, customer_user, "portal")
    assert ticket.category == printer_category
    assert ticket.form_data == {"serial": "SN-42", "floor": 3, "model": "laser"}
    assert ticket.priority == "p1"  # high impact × high urgency
    assert list(ticket.configuration_items.all()) == [item]
    assert sorted(a.name for a in ticket.attachments.all()) == ["log.txt", "错误截图.png"]
    assert ticket.attachments.get(name="log.txt").file.read() == b"jam at tray 2"
    html = client.get(detail(ticket)).content.decode()
    assert f"#{ticket.pk}" in html and "错误截图.png" in html and "SN-42" in html and "Laser" in html


def test_a_missing_category_field_is_named_and_nothing_is_opened(client, customer_user, printer_category):
    client.force_login(customer_user)
    response = client.post(NEW, request_data(category=printer_category.pk, cf_floor="third"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Serial number: This field is required." in html
    assert "Floor: Enter a number." in html
    assert "Printer on floor 3 does not print" in html  # what was typed is kept
    assert not Ticket.objects.exists()


def test_the_form_reads_in_chinese_with_the_categorys_chinese_labels(client, customer_user, printer_category):
    client.force_login(customer_user)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(NEW, {"category": printer_category.pk}).content.decode()
    assert '<html lang="zh-hans"' in html
    assert "序列号" in html and "激光" in html and "Serial number" not in html


def test_changing_the_category_swaps_in_its_fields(client, customer_user, printer_category):
    client.force_login(customer_user)
    response = client.get(NEW, {"category": printer_category.pk}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.strip().startswith('<div id="category-fields">')
    assert 'name="cf_serial"' in html and "Printers, scanners and copiers." in html
    assert 'name="cf_serial"' not in client.get(NEW, {"category": ""}, HTTP_HX_REQUEST="true").content.decode()


def test_an_inactive_category_is_neither_offered_nor_accepted(client, customer_user):
    old = Category.objects.create(name="Fax machines", is_active=False)
    client.force_login(customer_user)
    assert "Fax machines" not in client.get(NEW).content.decode()
    response = client.post(NEW, request_data(category=old.pk))
    assert response.status_code == 400
    assert "What is it about?: Select a valid choice." in response.content.decode()
    assert 'data-field="category"' in response.content.decode()
    assert not Ticket.objects.exists()


def test_an_oversized_attachment_is_refused_with_the_limit_and_the_text_kept(client, settings, customer_user):
    settings.OPSDESK_ATTACHMENT_MAX_BYTES = 10
    client.force_login(customer_user)
    response = client.post(NEW, request_data(files=[SimpleUploadedFile("dump.bin", b"x" * 11)]))
    assert response.status_code == 400
    html = response.content.decode()
    assert "dump.bin is 11\xa0bytes; the limit is 10\xa0bytes." in html
    assert "Paper jam light blinks." in html and 'value="Printer on floor 3 does not print"' in html
    assert not Ticket.objects.exists()


def test_a_forbidden_file_type_is_refused_naming_the_type(client, customer_user):
    client.force_login(customer_user)
    response = client.post(NEW, request_data(files=[SimpleUploadedFile("invoice.exe", b"MZ")]))
    assert response.status_code == 400
    assert "invoice.exe: files of type .exe are not accepted." in response.content.decode()
    assert not Ticket.objects.exists()


def test_another_customers_item_cannot_be_chosen(client, customer_user, customer_b):
    theirs = ConfigurationItemFactory(customer=customer_b, name="beta-db")
    client.force_login(customer_user)
    assert "beta-db" not in client.get(NEW).content.decode()
    response = client.post(NEW, request_data(configuration_items=[theirs.pk]))
    assert response.status_code == 400
    assert "Affected devices or services: Select a valid choice." in response.content.decode()
    assert 'data-field="configuration_items"' in response.content.decode()
    assert not Ticket.objects.exists()


def test_staff_open_tickets_in_the_desk_not_the_portal(client, engineer):
    client.force_login(engineer)
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, request_data()).status_code == 403
    assert not Ticket.objects.exists()


# --- A request's page ----------------------------------------------------------------------------

def test_the_customer_sees_the_public_conversation_and_status_in_words_only(client, customer_user, customer_a,
                                                                             engineer):
    ticket = make_ticket(customer_a, actor=customer_user, title="Mail bounces", description="All mail bounces.")
    services.take(ticket, actor=engineer)
    services.note(ticket, actor=engineer, body="Internal: the customer's MX record is wrong again",
                  files=[("internal-analysis.txt", b"secret", "text/plain")])
    services.reply(ticket, actor=engineer, body="Please send us a bounced message.",
                   files=[("how-to-export.pdf", b"%PDF", "application/pdf")])
    services.change_status(ticket, actor=engineer, status="waiting_customer", note="Chasing them tomorrow")
    services.change_priority(ticket, actor=engineer, impact="high", urgency="high")
    client.force_login(customer_user)
    html = client.get(detail(ticket)).content.decode()
    assert "All mail bounces." in html and "Please send us a bounced message." in html
    assert "how-to-export.pdf" in html
    assert "MX record" not in html and "internal-analysis.txt" not in html and "Chasing them" not in html
    assert "An engineer is working on it" in html
    assert "The service desk is waiting for your answer" in html
    assert 'id="request-status">Waiting for your answer<' in html.replace('badge fs-6 text-bg-warning" ', "")
    conversation = html[html.index('id="conversation"'):html.index('id="reply-form"')]
    assert conversation.index("All mail bounces.") < conversation.index("An engineer is working on it") \
        < conversation.index("Please send us a bounced message.")


def test_staff_see_what_the_customer_sees_and_are_sent_to_the_desk_to_work(client, engineer, customer_a):
    ticket = make_ticket(customer_a, title="Printer")
    services.note(ticket, actor=engineer, body="Internal remark")
    client.force_login(engineer)
    html = client.get(detail(ticket)).content.decode()
    assert 'id="staff-view"' in html and reverse("servicedesk:ticket_detail", args=[ticket.pk]) in html
    assert "Internal remark" not in html
    assert 'id="reply-form"' not in html
