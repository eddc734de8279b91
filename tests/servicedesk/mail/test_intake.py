"""Email in, against a real Dovecot on 127.0.0.1: mail APPENDed to the INBOX, fetched by the
fetcher as the beat would, filed into tickets (issue 9's cases, and the hostile ones)."""

from __future__ import annotations

import pytest

from opsdesk.servicedesk import services
from opsdesk.servicedesk.mail import fetch, outgoing
from opsdesk.servicedesk.models import InboundMail, MailChannel, OutgoingMail, Ticket
from tests.factories import ContactFactory, UserFactory
from tests.servicedesk.mail.conftest import message

pytestmark = pytest.mark.django_db


@pytest.fixture
def li_lei(customer_a):
    return ContactFactory(customer=customer_a, name="李雷", email="li.lei@alpha.example.com")


def fetched(channel: MailChannel) -> fetch.FetchResult:
    result = fetch.fetch(channel.pk)
    assert result is not None and not result.error, result and result.error
    return result


def test_a_mail_in_makes_a_ticket(channel, imap, li_lei):
    imap.append(message(subject="打印机不能打印", body="三楼的打印机卡纸了。", message_id="<first@alpha.example.com>"))
    result = fetched(channel)
    assert (result.seen, result.filed) == (1, 1)
    ticket = Ticket.objects.get()
    assert ticket.title == "打印机不能打印"
    assert ticket.customer == li_lei.customer
    assert ticket.requester == li_lei
    assert ticket.channel == "email"
    assert ticket.language == "zh-hans"
    opening = ticket.entries.get(kind="reply")
    assert opening.message_id == "first@alpha.example.com"
    assert "三楼的打印机卡纸了" in opening.body
    assert opening.author_email == "li.lei@alpha.example.com"
    row = InboundMail.objects.get()
    assert (row.state, row.ticket, row.customer) == ("ticket", ticket, li_lei.customer)
    assert MailChannel.objects.get().last_uid == 1


def test_a_reply_from_the_customers_client_lands_on_the_same_ticket(channel, imap, li_lei):
    imap.append(message(message_id="<q1@alpha.example.com>"))
    fetched(channel)
    ticket = Ticket.objects.get()
    body = "换了纸还是不行。\n\n在 2026年1月5日，服务台 写道：\n> 请重启"
    imap.append(message(subject="Re: 打印机不能打印", body=body,
                        message_id="<q2@alpha.example.com>", in_reply_to="<q1@alpha.example.com>",
                        references="<q1@alpha.example.com>"))
    fetched(channel)
    assert Ticket.objects.count() == 1
    reply = ticket.entries.filter(kind="reply").order_by("pk").last()
    assert reply.message_id == "q2@alpha.example.com"
    assert reply.data["customer"] is True
    assert "换了纸还是不行" in reply.body
    assert "请重启" not in reply.body  # the quoted history is cut
    assert InboundMail.objects.get(message_id="q2@alpha.example.com").state == "reply"


def test_the_same_message_fetched_twice_makes_one_ticket(channel, imap, li_lei):
    raw = message(message_id="<twice@alpha.example.com>")
    imap.append(raw, raw)  # delivered twice
    fetched(channel)
    MailChannel.objects.filter(pk=channel.pk).update(last_uid=0)  # as if the bookkeeping were lost
    again = fetched(channel)
    assert again.filed == 0 and again.skipped == 2
    assert Ticket.objects.count() == 1
    assert InboundMail.objects.count() == 1
    # and a message without a Message-ID, fetched twice, is keyed by its content
    imap.append(message(message_id="", subject="没有 Message-ID"))
    fetched(channel)
    MailChannel.objects.filter(pk=channel.pk).update(last_uid=0)
    fetched(channel)
    assert Ticket.objects.count() == 2
    assert InboundMail.objects.filter(message_id__startswith="sha256-").count() == 1


def test_a_changed_uidvalidity_fetches_all_again_and_files_nothing_twice(channel, imap, li_lei):
    imap.append(message(), message())
    fetched(channel)
    MailChannel.objects.filter(pk=channel.pk).update(uid_validity=1, last_uid=99)
    again = fetched(channel)
    assert (again.seen, again.filed) == (2, 0)
    assert Ticket.objects.count() == 2


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"Precedence": "bulk"},
    {"X-Autoreply": "yes"},
    {"X-Auto-Response-Suppress": "All"},
], ids=lambda h: next(iter(h)))
def test_an_auto_reply_makes_no_ticket(channel, imap, li_lei, headers):
    imap.append(message(subject="Out of office / 外出", headers=headers))
    fetched(channel)
    assert Ticket.objects.count() == 0
    row = InboundMail.objects.get()
    assert row.state == "ignored"
    assert next(iter(headers)) in row.reason
    assert OutgoingMail.objects.count() == 0  # and nothing answers it


def test_a_delivery_status_notification_makes_no_ticket(channel, imap):
    dsn = (b"From: Mail Delivery System <MAILER-DAEMON@alpha.example.com>\r\nTo: support@desk.example.com\r\n"
           b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@alpha.example.com>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n"
           b"\r\n--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
           b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
           b"Final-Recipient: rfc822; x@y\r\nAction: failed\r\nStatus: 5.1.1\r\n--B--\r\n")
    imap.append(dsn)
    fetched(channel)
    assert Ticket.objects.count() == 0
    assert InboundMail.objects.get().reason.startswith("Delivery or read report")


def test_mail_from_our_own_address_makes_no_ticket(channel, imap):
    imap.append(message(sender="support@desk.example.com", name="Desk"))
    fetched(channel)
    assert Ticket.objects.count() == 0
    assert InboundMail.objects.get().state == "ignored"


def test_gb18030_subject_and_body_are_decoded(channel, imap, li_lei):
    # GB2312 declared, GBK/GB18030-only characters used (镕, 䶮), as Chinese clients do.
    subject = "服务器宕机：朱镕基路机房 䶮"
    raw = ("From: =?GB2312?B?{name}?= <li.lei@alpha.example.com>\r\nTo: support@desk.example.com\r\n"
           "Subject: =?GB2312?B?{subject}?=\r\nMessage-ID: <gb@alpha.example.com>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=GB2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").format(
        name=__import__("base64").b64encode("李雷".encode("gb18030")).decode(),
        subject=__import__("base64").b64encode(subject.encode("gb18030")).decode()).encode()
    raw += "机房的服务器全部宕机，朱镕基路。\r\n".encode("gb18030")
    imap.append(raw)
    fetched(channel)
    ticket = Ticket.objects.get()
    assert ticket.title == subject
    assert "机房的服务器全部宕机，朱镕基路。" in ticket.entries.get(kind="reply").body
    assert ticket.entries.get(kind="reply").author_name == "李雷"


def test_an_undeclared_8bit_gbk_subject_is_decoded(channel, imap, li_lei):
    raw = (b"From: li.lei@alpha.example.com\r\nTo: support@desk.example.com\r\nSubject: "
           + "邮件系统故障".encode("gbk") + b"\r\nMessage-ID: <raw8@alpha.example.com>\r\n\r\nbody\r\n")
    imap.append(raw)
    fetched(channel)
    assert Ticket.objects.get().title == "邮件系统故障"


def test_hostile_html_is_sanitised(channel, imap, li_lei):
    html = ('<p onclick="steal()">请看<b>截图</b></p><script>alert(document.cookie)</script>'
            '<img src="https://tracker.example.net/p.gif"><a href="javascript:alert(1)">点这里</a>'
            '<iframe src="https://evil.example.net"></iframe><style>body{display:none}</style>')
    imap.append(message(html=html, body="请看截图"))
    fetched(channel)
    body = Ticket.objects.get().entries.get(kind="reply").body
    assert "<b>截图</b>" in body
    for bad in ("<script", "onclick", "javascript:", "<iframe", "<img", "<style", "tracker.example.net"):
        assert bad not in body, bad


def test_broken_mime_is_quarantined_and_the_fetch_goes_on(channel, imap, li_lei):
    broken = b"this is not a mail\r\n\r\n\xff\xfe\r\n"  # not one header
    huge_header = (b"From: li.lei@alpha.example.com\r\nSubject: " + b"A" * 200_000 + b"\r\n"
                   b"Message-ID: <huge@alpha.example.com>\r\nContent-Type: multipart/mixed; boundary=\"never\"\r\n"
                   b"\r\n--wrong\r\nContent-Type: text/plain; charset=x-nonsense\r\n"
                   b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n")
    imap.append(message(message_id="<before@alpha.example.com>"), broken, huge_header,
                message(message_id="<after@alpha.example.com>"))
    result = fetched(channel)
    assert result.seen == 4
    states = dict(InboundMail.objects.values_list("message_id", "state"))
    assert states["before@alpha.example.com"] == "ticket"
    assert states["after@alpha.example.com"] == "ticket"
    quarantined = InboundMail.objects.filter(state="quarantined")
    assert quarantined.count() == 1
    assert "cannot be read" in quarantined.get().reason
    # The broken message is kept, so a person can look at it (or retry it).
    from opsdesk.servicedesk.mail.intake import read_raw

    assert read_raw(quarantined.get()) == broken
    # The huge header opened a ticket, its subject cut to the column's size.
    assert states["huge@alpha.example.com"] == "ticket"
    assert len(Ticket.objects.get(inbound_mails__message_id="huge@alpha.example.com").title) == 300


def test_a_failure_while_filing_quarantines_with_the_reason(channel, imap, li_lei, monkeypatch):
    """Whatever goes wrong inside the ticket action (here the action refuses), the message is
    quarantined with the reason, nothing half-written stays, and the next message is filed."""
    from django.core.exceptions import ValidationError

    calls = {"n": 0}
    real = services.open_ticket

    def refuse_first(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValidationError({"title": "refused for the test"})
        return real(**kwargs)

    monkeypatch.setattr(services, "open_ticket", refuse_first)
    imap.append(message(message_id="<m-a@alpha.example.com>"), message(message_id="<m-b@alpha.example.com>"))
    fetched(channel)
    assert InboundMail.objects.get(message_id="m-a@alpha.example.com").reason == "title: refused for the test"
    assert InboundMail.objects.get(message_id="m-b@alpha.example.com").state == "ticket"
    assert Ticket.objects.count() == 1


def test_a_subject_tag_from_another_customers_address_opens_a_new_ticket(channel, imap, li_lei, customer_b):
    imap.append(message(message_id="<a1@alpha.example.com>"))
    fetched(channel)
    theirs = Ticket.objects.get()
    ContactFactory(customer=customer_b, email="mallory@beta.example.com")
    imap.append(message(sender="mallory@beta.example.com", name="Mallory", subject=f"Re: [#{theirs.pk}] 打印机",
                        body="I want to read this ticket."))
    fetched(channel)
    assert theirs.entries.filter(kind="reply").count() == 1
    new = Ticket.objects.exclude(pk=theirs.pk).get()
    assert new.customer == customer_b


def test_a_subject_tag_from_the_same_customer_threads(channel, imap, li_lei):
    imap.append(message(message_id="<t1@alpha.example.com>"))
    fetched(channel)
    ticket = Ticket.objects.get()
    imap.append(message(subject=f"补充 [#{ticket.pk}]", body="附上日志", message_id="<t2@other-client>"))
    fetched(channel)
    assert Ticket.objects.count() == 1
    assert ticket.entries.filter(kind="reply").count() == 2


def test_a_second_opsdesks_message_id_does_not_thread(channel, imap, li_lei):
    imap.append(message(message_id="<o1@alpha.example.com>"))
    fetched(channel)
    ticket = Ticket.objects.get()
    from opsdesk.servicedesk.mail import instance

    ours = instance.new_message_id(ticket.pk, "entry-1")
    theirs = ours.replace(instance.instance_id(), "f" * 32)
    imap.append(message(subject="Re: something else", in_reply_to=f"<{theirs}>", references=f"<{theirs}>"))
    fetched(channel)
    assert Ticket.objects.count() == 2
    # while one of ours (even of a mail whose row is gone) threads by the ticket number in it
    imap.append(message(subject="Re: 打印机", in_reply_to=f"<{ours}>"))
    fetched(channel)
    assert Ticket.objects.count() == 2
    assert ticket.entries.filter(kind="reply").count() == 2


def test_a_reply_to_a_merged_ticket_goes_to_the_ticket_it_was_merged_into(channel, imap, li_lei, admin):
    imap.append(message(message_id="<dup1@alpha.example.com>"), message(message_id="<dup2@alpha.example.com>"))
    fetched(channel)
    first, second = Ticket.objects.order_by("pk")
    services.merge(second, actor=admin, into=first)
    imap.append(message(subject="Re: dup", body="还有问题", in_reply_to="<dup2@alpha.example.com>"))
    fetched(channel)
    assert "还有问题" in first.entries.filter(kind="reply").order_by("pk").last().body
    assert Ticket.objects.count() == 2


def test_a_reply_to_a_closed_ticket_opens_a_linked_follow_up(channel, imap, li_lei, admin):
    imap.append(message(message_id="<c1@alpha.example.com>"))
    fetched(channel)
    ticket = Ticket.objects.get()
    services.take(ticket, actor=admin)
    services.resolve(ticket, actor=admin, solution="已更换硒鼓。")
    services.close(ticket, actor=admin)
    imap.append(message(subject="Re: 打印机", body="又坏了", in_reply_to="<c1@alpha.example.com>"))
    fetched(channel)
    follow_up = Ticket.objects.exclude(pk=ticket.pk).get()
    assert follow_up.links_out.get().target == ticket
    assert "Follow-up" in InboundMail.objects.get(ticket=follow_up).reason


def test_attachments_are_kept_and_a_forbidden_one_is_dropped_with_a_note(channel, imap, li_lei):
    imap.append(message(attachments=[("error.log", "错误日志".encode(), "text/plain"),
                                     ("screen.png", b"\x89PNG\r\n\x1a\nxx", "image/png"),
                                     ("setup.exe", b"MZ\x90\x00", "application/octet-stream")]))
    fetched(channel)
    ticket = Ticket.objects.get()
    assert sorted(ticket.attachments.values_list("name", flat=True)) == ["error.log", "screen.png"]
    assert ticket.attachments.get(name="error.log").file.read() == "错误日志".encode()
    note = ticket.entries.get(kind="note")
    assert "setup.exe" in note.body and not note.public


def test_an_unknown_sender_waits_in_triage_until_a_person_names_the_customer(channel, imap, manager, customer_a):
    imap.append(message(sender="someone@unknown.example.org", name="Someone"))
    fetched(channel)
    row = InboundMail.objects.get()
    assert (row.state, row.customer) == ("triage", None)
    assert Ticket.objects.count() == 0
    from opsdesk.servicedesk.mail import services as mail_services

    mail_services.assign_customer(row, actor=manager, customer=customer_a, remember_domain=True)
    row.refresh_from_db()
    assert row.state == "ticket"
    assert row.ticket.customer == customer_a
    assert row.ticket.requester_email == "someone@unknown.example.org"
    # the domain was remembered: the next mail from it opens a ticket at once
    imap.append(message(sender="other@unknown.example.org"))
    fetched(channel)
    assert Ticket.objects.filter(customer=customer_a).count() == 2


def test_a_mail_domain_and_the_default_customer_match_unknown_senders(channel, imap, customer_a, customer_b):
    from opsdesk.servicedesk.models import CustomerMailDomain

    CustomerMailDomain.objects.create(customer=customer_b, domain="beta.example.com")
    MailChannel.objects.filter(pk=channel.pk).update(default_customer=customer_a)
    imap.append(message(sender="ops@mail.beta.example.com"), message(sender="who@nowhere.example.org"))
    fetched(channel)
    by_sender = {t.requester_email: t.customer for t in Ticket.objects.all()}
    assert by_sender == {"ops@mail.beta.example.com": customer_b, "who@nowhere.example.org": customer_a}


def test_a_customer_users_address_opens_the_ticket_in_their_language(channel, imap, customer_a):
    user = UserFactory(role="customer", customer=customer_a, email="han.meimei@alpha.example.com", language="en")
    imap.append(message(sender="han.meimei@alpha.example.com", subject="VPN 连不上"))
    fetched(channel)
    ticket = Ticket.objects.get()
    assert (ticket.requester_user, ticket.language) == (user, "en")


def test_a_quarantined_mail_can_be_retried(channel, imap, li_lei, admin, monkeypatch):
    from django.core.exceptions import ValidationError

    from opsdesk.servicedesk.mail import services as mail_services

    real = services.open_ticket
    monkeypatch.setattr(services, "open_ticket", lambda **kw: (_ for _ in ()).throw(ValidationError("down")))
    imap.append(message(message_id="<r1@alpha.example.com>"))
    fetched(channel)
    row = InboundMail.objects.get()
    assert row.state == "quarantined"
    monkeypatch.setattr(services, "open_ticket", real)
    mail_services.retry(row, actor=admin)
    row.refresh_from_db()
    assert row.state == "ticket" and row.ticket is not None


def test_the_acknowledgement_mail(channel, imap, smtp, li_lei):
    imap.append(message(subject="邮箱满了", message_id="<ack-me@alpha.example.com>"))
    fetched(channel)
    ticket = Ticket.objects.get()
    row = OutgoingMail.objects.get()
    assert (row.kind, row.to_address, row.language) == ("ack", "li.lei@alpha.example.com", "zh-hans")
    outgoing.sweep()
    assert len(smtp.mailbox.mails) == 1
    mail = smtp.mailbox.parsed()
    assert mail["Subject"] == f"[#{ticket.pk}] 已受理：邮箱满了"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["In-Reply-To"] == "<ack-me@alpha.example.com>"
    assert mail["To"].addresses[0].addr_spec == "li.lei@alpha.example.com"
    assert f"工单 #{ticket.pk}" in mail.get_body(("plain",)).get_content()
    assert f"#{ticket.pk}" in mail.get_body(("html",)).get_content()
    assert OutgoingMail.objects.get(pk=row.pk).state == "sent"


def test_acknowledgements_to_one_sender_are_limited_per_hour(channel, imap, li_lei):
    imap.append(*[message() for _ in range(outgoing.ACKS_PER_HOUR + 3)])
    fetched(channel)
    assert Ticket.objects.count() == outgoing.ACKS_PER_HOUR + 3
    assert OutgoingMail.objects.filter(kind="ack").count() == outgoing.ACKS_PER_HOUR


def test_our_message_id_naming_another_customers_ticket_does_not_thread(channel, imap, li_lei, customer_b):
    """The ticket number in our Message-IDs is readable by anyone we ever wrote to; only the
    ticket's own customer may thread by it (as with the subject tag)."""
    from opsdesk.servicedesk.mail import instance

    imap.append(message(message_id="<secret@alpha.example.com>"))
    fetched(channel)
    theirs = Ticket.objects.get()
    ContactFactory(customer=customer_b, email="mallory@beta.example.com")
    forged = instance.new_message_id(theirs.pk, "entry-1")
    imap.append(message(sender="mallory@beta.example.com", name="Mallory", subject="Re: 打印机",
                        body="Let me in.", in_reply_to=f"<{forged}>", references=f"<{forged}>"))
    fetched(channel)
    assert theirs.entries.filter(kind="reply").count() == 1
    assert Ticket.objects.exclude(pk=theirs.pk).get().customer == customer_b


def test_a_reply_to_our_acknowledgement_threads_by_its_message_id(channel, imap, li_lei, customer_b):
    imap.append(message(message_id="<ask@alpha.example.com>"))
    fetched(channel)
    ticket = Ticket.objects.get()
    ack = OutgoingMail.objects.get(kind="ack")
    # Even from another customer's address: the exact id (with its random part) is the thread.
    ContactFactory(customer=customer_b, email="colleague@beta.example.com")
    imap.append(message(sender="colleague@beta.example.com", subject="Re: 已受理", body="谢谢，补充一下",
                        in_reply_to=f"<{ack.message_id}>", references=f"<{ack.message_id}>"))
    fetched(channel)
    assert Ticket.objects.count() == 1
    assert "补充一下" in ticket.entries.filter(kind="reply").order_by("pk").last().body


def test_filing_a_batch_of_mail_costs_a_fixed_number_of_queries_per_message(channel, imap, li_lei):
    """The budget that keeps email intake fast (bench/email_intake.py): within one fetch the
    lookups every new ticket shares (team, contract, priority matrix, webhooks, the sender) are
    read once; what is left per message is its own writes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    imap.append(message(message_id="<warm@alpha.example.com>"))
    fetched(channel)
    imap.append(*[message(message_id=f"<b{n}@alpha.example.com>") for n in range(3)])
    with CaptureQueriesContext(connection) as three:
        fetched(channel)
    imap.append(*[message(message_id=f"<c{n}@alpha.example.com>") for n in range(8)])
    with CaptureQueriesContext(connection) as eight:
        fetched(channel)
    assert Ticket.objects.count() == 12
    per_message = (len(eight) - len(three)) / 5
    # The ticket, its opening entry, its audit row and the mail's row (the acknowledgements
    # stopped at five an hour for this sender).
    assert per_message <= 4, [q["sql"][:120] for q in eight.captured_queries]


def test_a_raw_message_cut_short_by_a_crash_is_written_again(settings, tmp_path):
    from pathlib import Path

    from opsdesk.servicedesk.mail import intake

    settings.DATA_DIR = str(tmp_path)
    raw = message(message_id="<raw@alpha.example.com>")
    path = Path(tmp_path) / intake.store_raw(raw)
    assert path.read_bytes() == raw
    path.write_bytes(raw[:40])  # what a crash in the middle of the write leaves
    assert Path(tmp_path) / intake.store_raw(raw) == path
    assert path.read_bytes() == raw


def test_the_raw_writer_writes_each_message_before_its_row_asks_and_hands_on_a_failure(settings, tmp_path):
    from pathlib import Path

    from opsdesk.servicedesk.mail import intake

    settings.DATA_DIR = str(tmp_path)
    raws = [message(message_id=f"<w{n}@alpha.example.com>") for n in range(5)]
    writer = intake.RawWriter(raws)
    paths = [writer.path(i) for i in range(5)]
    writer.join()
    assert [(Path(tmp_path) / path).read_bytes() for path in paths] == raws
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    settings.DATA_DIR = str(blocker)
    broken = intake.RawWriter(raws[:1])
    with pytest.raises(OSError):
        broken.path(0)
    broken.join()
