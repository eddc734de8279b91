"""Mailboxes: passwords encrypted and never shown (page, API, audit), "test the connection"
against the real servers, "fetch now", and IMAP IDLE ringing as mail arrives."""

from __future__ import annotations

import threading

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from opsdesk.servicedesk.mail import idle
from opsdesk.servicedesk.mail import services as mail_services
from opsdesk.servicedesk.mail.connections import secrets_of
from opsdesk.servicedesk.models import MailChannel, Ticket
from tests.conftest import api_client_for
from tests.factories import ContactFactory, make_mail_channel
from tests.servicedesk.mail.conftest import message

pytestmark = pytest.mark.django_db


def test_passwords_are_encrypted_and_never_shown(admin, admin_client):
    channel = make_mail_channel(imap_password="imap-pw-秘密", smtp_password="smtp-pw-4321")
    assert "imap-pw" not in channel.secrets_encrypted
    assert secrets_of(channel) == {"imap_password": "imap-pw-秘密", "smtp_password": "smtp-pw-4321"}
    page = admin_client.get(reverse("servicedesk:mailchannel_detail", args=[channel.pk])).content.decode()
    edit = admin_client.get(reverse("servicedesk:mailchannel_edit", args=[channel.pk])).content.decode()
    answer = api_client_for(admin).get(f"/api/servicedesk/mailchannels/{channel.pk}/").json()
    for shown in (page, edit, str(answer)):
        assert "imap-pw" not in shown and "smtp-pw" not in shown and channel.secrets_encrypted not in shown
    assert answer["has_secrets"] is True
    logged = " ".join(str(e.changes) for e in LogEntry.objects.all())
    assert "imap-pw" not in logged and "secrets_encrypted" not in logged


def test_an_empty_password_on_a_change_keeps_the_stored_one(admin):
    channel = make_mail_channel(imap_password="first")
    api = api_client_for(admin)
    response = api.patch(f"/api/servicedesk/mailchannels/{channel.pk}/", {"folder": "Support", "imap_password": ""},
                         format="json")
    assert response.status_code == 200, response.content
    channel.refresh_from_db()
    assert channel.folder == "Support" and secrets_of(channel)["imap_password"] == "first"
    api.patch(f"/api/servicedesk/mailchannels/{channel.pk}/", {"imap_password": "second"}, format="json")
    channel.refresh_from_db()
    assert secrets_of(channel)["imap_password"] == "second"


def test_bad_input_names_the_field(admin):
    response = api_client_for(admin).post("/api/servicedesk/mailchannels/", {
        "name": "x", "imap_host": "127.0.0.1", "imap_username": "u", "from_address": "not an address",
        "imap_security": "tls1.0"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"from_address", "imap_security"}
    response = api_client_for(admin).post("/api/servicedesk/maildomains/", {
        "customer": ContactFactory().customer_id, "domain": "not a domain"}, format="json")
    assert response.status_code == 400 and "domain" in response.json()


def test_the_connection_test_reports_both_servers(channel, admin):
    mail_services.test_connection(channel, actor=admin)
    channel.refresh_from_db()
    assert "IMAP: connected, 0 messages in INBOX, IDLE offered." in channel.last_test
    assert "SMTP: connected (250)." in channel.last_test


def test_the_connection_test_reports_a_wrong_password_without_it(channel, admin):
    mail_services.update_channel(channel, {"imap_password": "wrong-password-xyz"}, actor=admin)
    mail_services.test_connection(channel, actor=admin)
    channel.refresh_from_db()
    assert channel.last_test.startswith("IMAP: ")
    assert "AUTHENTICATIONFAILED" in channel.last_test
    assert "wrong-password-xyz" not in channel.last_test


def test_fetch_now_files_what_waits(channel, imap, admin, customer_a, django_capture_on_commit_callbacks):
    ContactFactory(customer=customer_a, email="li.lei@alpha.example.com")
    imap.append(message())
    with django_capture_on_commit_callbacks(execute=True):
        mail_services.fetch_now(channel, actor=admin)
    assert Ticket.objects.count() == 1
    assert MailChannel.objects.get(pk=channel.pk).last_error == ""


def test_a_failed_fetch_is_kept_on_the_mailbox_and_stops_nothing(db):
    channel = make_mail_channel()  # nobody listens on port 9
    from opsdesk.servicedesk.mail import fetch

    result = fetch.fetch(channel.pk)
    assert "ConnectionRefusedError" in result.error
    channel.refresh_from_db()
    assert "ConnectionRefusedError" in channel.last_error and channel.fetch_lease_until is None


# The watcher reads the mailbox from its own thread and connection. Serialized rollback, as every
# transactional test here: a plain flush would make the content types again under new ids, and the
# browser tests that follow in this worker could not load their snapshot.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_idle_rings_when_mail_arrives(channel, imap):
    rings: list[int] = []
    arrived = threading.Event()

    def ring(channel_id: int) -> None:
        rings.append(channel_id)
        if len(rings) >= 2:
            arrived.set()

    watcher = idle.Watcher(channel.pk, ring)
    watcher.start()
    try:
        for _ in range(100):  # logged in and idling (the first ring is the catch-up after login)
            if rings:
                break
            threading.Event().wait(0.1)
        assert rings == [channel.pk]
        imap.append(message())
        assert arrived.wait(20), "no ring after APPEND"
        assert rings == [channel.pk, channel.pk]
    finally:
        watcher.stop.set()
        watcher.join(10)
    assert not watcher.is_alive()
