"""Attachment downloads (/servicedesk/attachments/<id>/): only for who may view the ticket, the
file's own name in Content-Disposition, and nothing a browser could run as a page of opsdesk."""

from __future__ import annotations

import pytest
from django.urls import reverse

from opsdesk.servicedesk import services
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


def download(client, attachment, **params):
    return client.get(reverse("servicedesk:attachment", args=[attachment.pk]), params)


def attached(ticket, name: str, data: bytes, content_type: str, *, actor=None, public: bool = True):
    entry = services.reply(ticket, actor=actor, body="", public=public, files=[(name, data, content_type)],
                           from_customer=False if actor is None else None)
    return entry.attachments.get()


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_chinese_file_name_arrives_intact(client, customer_user, customer_a):
    ticket = make_ticket(customer_a, actor=customer_user, files=[("故障 日志.txt", "错误".encode(), "text/plain")])
    client.force_login(customer_user)
    response = download(client, ticket.attachments.get())
    assert response.status_code == 200
    assert response["Content-Disposition"] == \
        "attachment; filename=\"__ __.txt\"; filename*=utf-8''%E6%95%85%E9%9A%9C%20%E6%97%A5%E5%BF%97.txt"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert body(response) == "错误".encode()


@pytest.mark.parametrize(("name", "content_type"), [("page.html", "text/html"), ("logo.svg", "image/svg+xml"),
                                                    ("photo.png", "text/html"), ("notes.htm", "image/png")])
def test_html_svg_and_disguised_files_are_downloads_never_pages(client, customer_user, customer_a, name,
                                                                 content_type):
    ticket = make_ticket(customer_a, actor=customer_user,
                         files=[(name, b"<script>alert(document.cookie)</script>", content_type)])
    client.force_login(customer_user)
    response = download(client, ticket.attachments.get())
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_picture_is_shown_inline_unless_a_download_is_asked_for(client, customer_user, customer_a):
    ticket = make_ticket(customer_a, actor=customer_user, files=[("screen.png", b"\x89PNG", "image/png")])
    client.force_login(customer_user)
    response = download(client, ticket.attachments.get())
    assert (response["Content-Type"], response["Content-Disposition"]) == ("image/png", 'inline; filename="screen.png"')
    response = download(client, ticket.attachments.get(), download="1")
    assert response["Content-Disposition"] == 'attachment; filename="screen.png"'


def test_a_note_attachment_is_the_desks_only(client, customer_user, customer_a, engineer):
    ticket = make_ticket(customer_a, actor=customer_user)
    note_file = attached(ticket, "analysis.txt", b"internal", "text/plain", actor=engineer, public=False)
    client.force_login(customer_user)
    assert download(client, note_file).status_code == 404
    client.force_login(engineer)
    assert download(client, note_file).status_code == 200


def test_who_cannot_see_the_ticket_gets_404_and_a_stranger_the_login(client, customer_a, engineer_of_b,
                                                                      other_customer_user):
    ticket = make_ticket(customer_a, files=[("a.txt", b"alpha", "text/plain")])
    attachment = ticket.attachments.get()
    response = download(client, attachment)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    for outsider in (engineer_of_b, other_customer_user):
        client.force_login(outsider)
        assert download(client, attachment).status_code == 404
    assert client.get(reverse("servicedesk:attachment", args=[999_999])).status_code == 404


def test_a_file_missing_from_the_disk_is_404_not_an_error(client, customer_user, customer_a):
    ticket = make_ticket(customer_a, actor=customer_user, files=[("gone.txt", b"bye", "text/plain")])
    attachment = ticket.attachments.get()
    attachment.file.storage.delete(attachment.file.name)
    client.force_login(customer_user)
    assert download(client, attachment).status_code == 404
