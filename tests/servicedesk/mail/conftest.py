"""Fixtures of the mail tests: a Dovecot per test module, an empty INBOX per test, an SMTP server,
and a mailbox (MailChannel) pointing at both; `message()` builds the mails customers send."""

from __future__ import annotations

import email.utils
import itertools
from email.message import EmailMessage

import pytest

from opsdesk.servicedesk.mail import services as mail_services
from tests.servicedesk.mail.peers import Dovecot, Smtp

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def dovecot():
    server = Dovecot()
    yield server
    server.stop()


@pytest.fixture
def imap(dovecot):
    """The Dovecot with an empty INBOX (what earlier tests appended is expunged)."""
    conn = dovecot.connect()
    try:
        conn.select("INBOX")
        conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
        conn.expunge()
    except Exception:  # an empty folder answers "1:*" with an error on some servers
        pass
    finally:
        conn.logout()
    return dovecot


@pytest.fixture
def smtp():
    server = Smtp()
    yield server
    server.stop()


@pytest.fixture
def channel(db, imap, smtp):
    return mail_services.create_channel({
        "name": "support", "imap_host": "127.0.0.1", "imap_port": imap.port, "imap_security": "none",
        "imap_username": imap.user, "imap_password": imap.password, "folder": "INBOX",
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
        "from_address": "support@desk.example.com", "from_name": "Desk 服务台"}, actor=None)


def message(*, sender: str = "li.lei@alpha.example.com", name: str = "李雷", subject: str = "打印机不能打印",
            body: str = "三楼的打印机卡纸了。", message_id: str | None = None, in_reply_to: str = "",
            references: str = "", html: str = "", headers: dict | None = None, charset: str = "utf-8",
            attachments: list[tuple[str, bytes, str]] = ()) -> bytes:
    mail = EmailMessage()
    mail["From"] = email.utils.formataddr((name, sender))
    mail["To"] = "support@desk.example.com"
    mail["Subject"] = subject
    mail["Date"] = email.utils.formatdate(localtime=False)
    mail["Message-ID"] = message_id if message_id is not None else f"<m{next(_numbers)}.test@alpha.example.com>"
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = references
    for key, value in (headers or {}).items():
        mail[key] = value
    mail.set_content(body, charset=charset)
    if html:
        mail.add_alternative(html, subtype="html", charset=charset)
    for filename, data, ctype in attachments:
        maintype, _slash, subtype = ctype.partition("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    if message_id == "":
        del mail["Message-ID"]
    return bytes(mail)
