"""The email channel against a real SMTP server (aiosmtpd) on 127.0.0.1: plain, STARTTLS with a
login, implicit TLS, and the server's refusals."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from opsdesk.notify import channels
from opsdesk.notify.channels import Message

NOW = 1718000000.0
EMAIL = channels.get("email")


class Mailbox:
    """An aiosmtpd handler that keeps what arrived and refuses the addresses it is told to."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"

    def parsed(self, i: int = -1) -> email.message.EmailMessage:
        return email.message_from_bytes(self.mails[i][2], policy=email.policy.default)

    def part(self, subtype: str, i: int = -1) -> str:
        """A body part as text, with the wire's CRLF line ends read as newlines."""
        return self.parsed(i).get_body((subtype,)).get_content().replace("\r\n", "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, as an intranet relay often has."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"ops", b"p@ss-word")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


@pytest.fixture
def smtp_starttls(certificate):
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), tls_context=server_context(certificate),
                            require_starttls=True, auth_required=True, authenticator=authenticator)
    controller.start()
    yield mailbox, controller.port
    controller.stop()


@pytest.fixture
def smtp_ssl(certificate):
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), ssl_context=server_context(certificate))
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def alert(i: int = 1, severity: str = "critical", **extra) -> Message:
    return Message(title=f"数据库 db-{i:02d} 连接数过高", text="连接数 **980** / 1000\n持续 5 分钟", severity=severity,
                   url=f"https://ops.example.com/alerts/{i}/ack", url_label="确认", **extra)


def config(port: int, **extra) -> dict:
    return {"host": "127.0.0.1", "port": port, "security": "none", "from_address": "alerts@ops.example.com",
            "from_name": "运维告警", "to": "张三 <zhang.san@example.com>", **extra}


def test_a_mail_arrives_with_a_utf8_subject_both_parts_and_the_auto_submitted_header(smtp):
    mailbox, port = smtp
    message = alert(fields={"客户": "华东物流", "CI": "db-01"})
    result = EMAIL.send(config(port), [message], client=None, now=NOW)
    assert (result.ok, result.status, result.delivered) == (True, 250, 1)

    [(mail_from, rcpt_tos, raw)] = mailbox.mails
    assert mail_from == "alerts@ops.example.com" and rcpt_tos == ["zhang.san@example.com"]
    assert b"=?utf-8?" in raw.lower()  # the subject travels RFC 2047-encoded, and decodes intact:
    mail = mailbox.parsed()
    assert mail["Subject"] == "🔴 数据库 db-01 连接数过高"
    assert mail["From"] == "运维告警 <alerts@ops.example.com>"
    assert mail["To"] == "zhang.san@example.com"
    assert mail["Auto-Submitted"] == "auto-generated" and mail["X-Auto-Response-Suppress"] == "All"
    assert mail["Message-ID"].startswith("<") and mail["Message-ID"].endswith("@ops.example.com>")
    assert mail["Date"] == "Mon, 10 Jun 2024 06:13:20 +0000"
    assert mail.get_content_type() == "multipart/alternative"

    text = mailbox.part("plain")
    assert text == ("**🔴 数据库 db-01 连接数过高**\n\n连接数 **980** / 1000\n持续 5 分钟\n\n"
                    "- **客户**: 华东物流\n- **CI**: db-01\n\n[确认](https://ops.example.com/alerts/1/ack)\n")
    page = mailbox.part("html")
    assert "<title>🔴 数据库 db-01 连接数过高</title>" in page
    assert "<p><strong>🔴 数据库 db-01 连接数过高</strong></p>" in page
    assert "<p>连接数 <strong>980</strong> / 1000<br />\n持续 5 分钟</p>" in page
    assert "<li><strong>客户</strong>: 华东物流</li>" in page
    assert '<a href="https://ops.example.com/alerts/1/ack">确认</a>' in page


def test_html_in_a_message_arrives_escaped_and_a_javascript_link_is_not_a_link(smtp):
    mailbox, port = smtp
    message = Message(title="<script>alert(1)</script>",
                      text='<img src=x onerror="steal()"> [click](javascript:steal())')
    assert EMAIL.send(config(port), [message], client=None, now=NOW).ok
    page = mailbox.part("html")
    assert "<script>" not in page and "<img" not in page and 'href="javascript' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;steal()&quot;&gt;" in page


def test_a_digest_is_one_mail(smtp):
    mailbox, port = smtp
    messages = [alert(1, "minor"), alert(2, "critical"), alert(3, "info")]
    result = EMAIL.send(config(port, to="a@example.com, b@example.com"), messages, client=None, now=NOW)
    assert result.ok and result.delivered == 3
    [(_, rcpt_tos, _)] = mailbox.mails
    assert rcpt_tos == ["a@example.com", "b@example.com"]
    mail = mailbox.parsed()
    assert mail["Subject"] == "🔴 3 notifications"
    text = mailbox.part("plain")
    assert text.count("\n\n---\n\n") == 2 and "db-01" in text and "db-03" in text
    assert mailbox.part("html").count("<hr />") == 2


def test_a_refused_recipient_is_a_failure_with_the_servers_answer(smtp):
    mailbox, port = smtp
    mailbox.refuse["nobody@example.com"] = "550 5.1.1 <nobody@example.com>: Recipient address rejected"
    result = EMAIL.send(config(port, to="nobody@example.com"), [alert()], client=None, now=NOW)
    assert (result.ok, result.status, result.vendor_code) == (False, 550, 550)
    assert result.detail == "nobody@example.com: 550 5.1.1 <nobody@example.com>: Recipient address rejected"
    assert mailbox.mails == []

    # One of two refused: the mail went to the other, and the refused one is named.
    result = EMAIL.send(config(port, to="nobody@example.com, ok@example.com"), [alert()], client=None, now=NOW)
    assert result.ok and "nobody@example.com: 550" in result.detail
    assert mailbox.mails[0][1] == ["ok@example.com"]


def test_starttls_with_a_login(smtp_starttls):
    mailbox, port = smtp_starttls
    settings = config(port, security="starttls", verify_tls=False, username="ops", password="p@ss-word")
    result = EMAIL.send(settings, [alert()], client=None, now=NOW)
    assert result.ok, result.detail
    assert mailbox.parsed()["Subject"] == "🔴 数据库 db-01 连接数过高"


def test_a_wrong_password_is_refused_and_not_repeated_in_the_result(smtp_starttls):
    mailbox, port = smtp_starttls
    settings = config(port, security="starttls", verify_tls=False, username="ops", password="wrong-secret")
    result = EMAIL.send(settings, [alert()], client=None, now=NOW)
    assert (result.ok, result.status) == (False, 535), result.detail
    assert "wrong-secret" not in result.detail and mailbox.mails == []


def test_the_server_refuses_mail_without_starttls_and_login(smtp_starttls):
    _, port = smtp_starttls
    result = EMAIL.send(config(port), [alert()], client=None, now=NOW)
    assert not result.ok and result.status == 530  # "Must issue a STARTTLS command first"


def test_a_self_signed_certificate_is_refused_unless_verification_is_off(smtp_ssl):
    mailbox, port = smtp_ssl
    refused = EMAIL.send(config(port, security="ssl"), [alert()], client=None, now=NOW)
    assert (refused.ok, refused.status) == (False, 0) and "CERTIFICATE_VERIFY_FAILED" in refused.detail
    assert mailbox.mails == []
    accepted = EMAIL.send(config(port, security="ssl", verify_tls=False), [alert()], client=None, now=NOW)
    assert accepted.ok and len(mailbox.mails) == 1


def test_no_server_and_no_recipient_are_failures():
    result = EMAIL.send(config(free_port()), [alert()], client=None, now=NOW)
    assert (result.ok, result.status) == (False, 0) and "ConnectionRefusedError" in result.detail
    assert not EMAIL.send(config(free_port(), to=""), [alert()], client=None, now=NOW).ok


def test_the_destination_is_the_relay_and_the_recipient():
    one = EMAIL.destination(config(25, to="a@example.com"))
    assert one == EMAIL.destination(config(25, to="A <a@example.com>"))
    assert one != EMAIL.destination(config(25, to="b@example.com"))
    assert "a@example.com" not in one
    assert EMAIL.secrets == ("password",)
