"""Mail out, to a real SMTP server (aiosmtpd) on 127.0.0.1: the desk's reply with the threading
headers a mail client needs, in the ticket's language; the resolution notice; a send killed
mid-way is sent again once its lease runs out, and only once; a failing server is retried."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from opsdesk.servicedesk import services
from opsdesk.servicedesk.mail import fetch, outgoing
from opsdesk.servicedesk.models import OutgoingMail, Ticket
from tests.factories import ContactFactory, make_ticket
from tests.servicedesk.mail.conftest import message

pytestmark = pytest.mark.django_db


@pytest.fixture
def li_lei(customer_a):
    return ContactFactory(customer=customer_a, name="李雷", email="li.lei@alpha.example.com")


def test_the_engineers_reply_arrives_at_the_customer_with_correct_threading_headers(channel, imap, smtp, li_lei,
                                                                                     engineer):
    imap.append(message(subject="数据库连不上", message_id="<ask@alpha.example.com>"))
    fetch.fetch(channel.pk)
    ticket = Ticket.objects.get()
    OutgoingMail.objects.all().delete()  # the acknowledgement (tested on its own)
    entry = services.reply(ticket, actor=engineer, body="请把报错截图发给我们。<script>x</script>")
    row = OutgoingMail.objects.get()
    assert row.entry == entry and row.kind == "reply"
    assert outgoing.send([row.pk]) == 1
    mail = smtp.mailbox.parsed()
    assert smtp.mailbox.mails[-1][1] == ["li.lei@alpha.example.com"]
    assert mail["Subject"] == f"回复：[#{ticket.pk}] 数据库连不上"
    assert mail["In-Reply-To"] == "<ask@alpha.example.com>"
    assert mail["References"] == "<ask@alpha.example.com>"
    entry.refresh_from_db()
    assert mail["Message-ID"] == f"<{entry.message_id}>"
    assert entry.message_id.startswith(f"ticket-{ticket.pk}.entry-{entry.pk}.")
    assert "Auto-Submitted" not in mail  # a person wrote it
    assert mail["From"].addresses[0].addr_spec == "support@desk.example.com"
    assert "请把报错截图发给我们。" in mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "请把报错截图发给我们。" in html and "<script>" not in html
    # The customer's client answers that mail: it lands on the ticket.
    imap.append(message(subject=mail["Subject"], body="截图在附件。", in_reply_to=mail["Message-ID"],
                        references=f"<ask@alpha.example.com> {mail['Message-ID']}"))
    fetch.fetch(channel.pk)
    assert Ticket.objects.count() == 1
    assert "截图在附件" in ticket.entries.filter(kind="reply").order_by("pk").last().body


def test_a_reply_in_english_for_an_english_ticket(channel, smtp, customer_a, engineer):
    ticket = make_ticket(customer_a, requester_email="pat@alpha.example.com", language="en", title="VPN down")
    services.reply(ticket, actor=engineer, body="Please restart the client.")
    outgoing.sweep()
    mail = smtp.mailbox.parsed()
    assert mail["Subject"] == f"Re: [#{ticket.pk}] VPN down"
    assert "Please restart the client." in mail.get_body(("plain",)).get_content()
    assert mail["Content-Language"] == "en"


def test_notes_and_the_customers_own_words_are_not_mailed(channel, smtp, customer_a, engineer, customer_user):
    ticket = make_ticket(customer_a, requester_email="pat@alpha.example.com")
    services.note(ticket, actor=engineer, body="内部备注")
    services.reply(ticket, actor=customer_user, body="我自己的回复")
    assert OutgoingMail.objects.count() == 0


def test_resolve_with_a_solution_sends_one_resolution_notice(channel, smtp, customer_a, engineer):
    ticket = make_ticket(customer_a, requester_email="pat@alpha.example.com", title="硒鼓没粉")
    services.take(ticket, actor=engineer)
    services.resolve(ticket, actor=engineer, solution="已更换硒鼓。")
    row = OutgoingMail.objects.get()
    assert row.kind == "resolved"
    outgoing.sweep()
    mail = smtp.mailbox.parsed()
    assert mail["Subject"] == f"[#{ticket.pk}] 已解决：硒鼓没粉"
    text = mail.get_body(("plain",)).get_content()
    assert "已更换硒鼓。" in text and "重新打开" in text


def test_a_killed_send_is_resent_once_when_its_lease_runs_out(channel, smtp, customer_a, engineer):
    ticket = make_ticket(customer_a, requester_email="pat@alpha.example.com")
    services.reply(ticket, actor=engineer, body="第一次回复")
    row = OutgoingMail.objects.get()
    # A sender claimed it and was killed (SIGKILL) before it could settle the row.
    OutgoingMail.objects.filter(pk=row.pk).update(state="sending", attempts=1,
                                                  lease_until=timezone.now() + outgoing.LEASE)
    assert outgoing.sweep() == 0  # the lease still runs: nobody takes it from the (presumed) sender
    assert smtp.mailbox.mails == []
    OutgoingMail.objects.filter(pk=row.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert outgoing.sweep() == 1
    assert outgoing.sweep() == 0
    assert len(smtp.mailbox.mails) == 1
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("sent", 2)
    assert smtp.mailbox.parsed()["Message-ID"] == f"<{row.message_id}>"  # the same id as the lost attempt's


def test_a_failing_server_is_retried_with_a_backoff_then_failed(channel, customer_a, engineer, smtp):
    ticket = make_ticket(customer_a, requester_email="pat@alpha.example.com")
    smtp.stop()  # nobody listens any more
    services.reply(ticket, actor=engineer, body="回复")
    row = OutgoingMail.objects.get()
    assert outgoing.deliver(row.pk) is False
    row.refresh_from_db()
    assert row.state == "pending" and row.attempts == 1 and "ConnectionRefusedError" in row.last_error
    assert row.due_at > timezone.now() + dt.timedelta(seconds=outgoing.BACKOFF[0] - 5)
    assert outgoing.deliver(row.pk) is False  # not due yet
    OutgoingMail.objects.filter(pk=row.pk).update(attempts=outgoing.MAX_ATTEMPTS - 1, due_at=timezone.now())
    outgoing.deliver(row.pk)
    row.refresh_from_db()
    assert row.state == "failed"


def test_a_ticket_opened_on_the_portal_is_acknowledged(channel, smtp, customer_a, customer_user):
    customer_user.email = "carl@alpha.example.com"
    customer_user.save()
    ticket = services.open_ticket(actor=customer_user, customer=customer_a, title="申请 VPN 账号", channel="portal")
    row = OutgoingMail.objects.get(ticket=ticket)
    assert row.kind == "ack" and row.to_address == "carl@alpha.example.com"
    assert row.in_reply_to == ""


def test_no_mail_when_no_mailbox_can_send(db, customer_a, engineer):
    ticket = make_ticket(customer_a, requester_email="pat@alpha.example.com")
    services.reply(ticket, actor=engineer, body="回复")
    assert OutgoingMail.objects.count() == 0
