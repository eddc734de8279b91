"""What a customer user writes on a request's page: a reply with files, "confirm resolved" and
"reopen", each through the ticket services, refused with the reason in the page."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from opsdesk.servicedesk.models import TicketEntry
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


def url(name: str, ticket) -> str:
    return reverse(f"servicedesk:portal_{name}", args=[ticket.pk])


def test_a_reply_with_files_is_added_and_resumes_a_ticket_waiting_for_the_customer(client, customer_user,
                                                                                   customer_a):
    ticket = make_ticket(customer_a, actor=customer_user, status="waiting_customer")
    client.force_login(customer_user)
    response = client.post(url("reply", ticket), {"body": "Here is the bounce 退信.", "files": [
        SimpleUploadedFile("bounce.eml", b"Subject: x", content_type="message/rfc822")]})
    entry = ticket.entries.filter(kind="reply").latest("id")
    assert response.status_code == 302 and response["Location"] == f"{url('detail', ticket)}#entry-{entry.pk}"
    assert entry.public and entry.author == customer_user and entry.via == "portal" and entry.data["customer"]
    assert entry.body == "<p>Here is the bounce 退信.</p>"
    assert [a.name for a in entry.attachments.all()] == ["bounce.eml"]
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"
    html = client.get(url("detail", ticket)).content.decode()
    assert "Here is the bounce 退信." in html and "bounce.eml" in html


def test_a_refused_attachment_names_the_limit_and_keeps_the_words(client, settings, customer_user, customer_a):
    settings.OPSDESK_ATTACHMENT_MAX_BYTES = 1024
    ticket = make_ticket(customer_a, actor=customer_user)
    client.force_login(customer_user)
    response = client.post(url("reply", ticket), {"body": "The log is attached; it started at 9:00.",
                                                  "files": [SimpleUploadedFile("huge.log", b"x" * 2048)]})
    assert response.status_code == 400
    html = response.content.decode()
    assert "huge.log is 2.0\xa0KB; the limit is 1.0\xa0KB." in html
    assert "Choose the files again" in html
    assert "The log is attached; it started at 9:00.</textarea>" in html
    assert not ticket.entries.filter(kind="reply", data__customer=True).exists()
    assert not ticket.attachments.exists()


def test_an_empty_reply_is_refused_naming_the_field(client, customer_user, customer_a):
    ticket = make_ticket(customer_a, actor=customer_user)
    client.force_login(customer_user)
    response = client.post(url("reply", ticket), {"body": "   "})
    assert response.status_code == 400
    assert 'data-field="body">Write something or attach a file.<' in response.content.decode()


def test_a_closed_request_takes_no_reply_and_offers_to_reopen(client, customer_user, customer_a):
    ticket = make_ticket(customer_a, actor=customer_user, status="closed")
    client.force_login(customer_user)
    html = client.get(url("detail", ticket)).content.decode()
    assert 'id="reply-form"' not in html and 'id="closed-notice"' in html and 'id="reopen-form"' in html
    response = client.post(url("reply", ticket), {"body": "One more thing"})
    assert response.status_code == 400
    assert "This request is closed: reopen it, or open a new request." in response.content.decode()
    assert not TicketEntry.objects.filter(body__contains="One more thing").exists()


def test_confirming_a_resolved_request_closes_it_with_one_audit_row(client, customer_user, customer_a):
    ticket = make_ticket(customer_a, actor=customer_user, status="resolved")
    client.force_login(customer_user)
    assert 'id="confirm-resolved"' in client.get(url("detail", ticket)).content.decode()
    rows = LogEntry.objects.count()
    response = client.post(url("close", ticket))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "closed" and ticket.closed_at is not None
    assert LogEntry.objects.count() == rows + 1
    assert LogEntry.objects.latest("id").additional_data["action"] == "close"
    assert "Closed" in client.get(url("detail", ticket)).content.decode()


def test_confirming_an_open_request_is_refused_with_a_message(client, customer_user, customer_a):
    ticket = make_ticket(customer_a, actor=customer_user)
    client.force_login(customer_user)
    response = client.post(url("close", ticket), follow=True)
    assert "Only a resolved request can be confirmed." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "new"


def test_reopening_with_a_reason_puts_it_back_to_the_engineer(client, customer_user, customer_a):
    ticket = make_ticket(customer_a, actor=customer_user, status="resolved")
    client.force_login(customer_user)
    response = client.post(url("reopen", ticket), {"reason": "Still jams on tray 2"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "in_progress" and ticket.resolved_at is None
    html = client.get(url("detail", ticket)).content.decode()
    assert "Still jams on tray 2" in html and "Reopened" in html


def test_reopening_an_open_request_is_refused_with_a_message(client, customer_user, customer_a):
    ticket = make_ticket(customer_a, actor=customer_user)
    client.force_login(customer_user)
    response = client.post(url("reopen", ticket), {"reason": "?"}, follow=True)
    assert "This request is open already, or was merged into another one." in response.content.decode()


def test_staff_do_not_write_through_the_portal(client, engineer, customer_a):
    ticket = make_ticket(customer_a, status="resolved")
    client.force_login(engineer)
    assert client.post(url("reply", ticket), {"body": "from the portal"}).status_code == 403
    assert client.post(url("close", ticket)).status_code == 403
    assert client.post(url("reopen", ticket)).status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == "resolved"


def test_the_writes_take_post_only(client, customer_user, customer_a):
    ticket = make_ticket(customer_a, actor=customer_user, status="resolved")
    client.force_login(customer_user)
    for name in ("reply", "close", "reopen"):
        assert client.get(url(name, ticket)).status_code == 405
