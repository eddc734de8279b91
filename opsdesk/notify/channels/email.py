"""Email over SMTP (smtplib): one mail with a plain-text and an HTML part, a digest as one mail.

The text part is the Markdown the chat channels send (it reads as plain text); the HTML part is
that Markdown rendered by markdown-it-py with raw HTML switched off, so whatever a title or a
value holds arrives escaped, and links other than http(s)/mailto are dropped by its validator.
The subject is UTF-8 (RFC 2047 encoded-words by the email package). `Auto-Submitted:
auto-generated` (RFC 3834) and `X-Auto-Response-Suppress` keep service desks and out-of-office
robots from answering, so an alert never opens a ticket that mails back.

The recipient arrives as `config["to"]` (merged in by the delivery engine: one person's address,
or several separated by commas). `send()` ignores `client`: SMTP is not HTTP. The SendResult's
`status` is the SMTP reply code (0 when no server answered).
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses, make_msgid
from typing import TYPE_CHECKING

import httpx

from .base import (
    TIMEOUT,
    Build,
    ChannelType,
    Message,
    SendResult,
    digest_markdown,
    fingerprint,
    fit,
    gettext_noop,
    schema,
    scrub,
    setting,
    string,
    title_of,
)

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

MAX_TEXT = 200_000  # bytes of the digest's text: more goes as "and N more" in the next mail
SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORT = {"starttls": 587, "ssl": 465, "none": 25}

SCHEMA = schema({
    "host": string(gettext_noop("SMTP server")),
    "port": {"type": "integer", "minimum": 1, "maximum": 65535, "title": gettext_noop("Port"),
             "description": gettext_noop("Empty: 587 with STARTTLS, 465 with SSL, 25 without encryption.")},
    "security": string(gettext_noop("Encryption"), "starttls", enum=list(SECURITY)),
    "verify_tls": {"type": "boolean", "default": True, "title": gettext_noop("Verify the server's certificate")},
    "username": string(gettext_noop("User name"), ""),
    "password": string(gettext_noop("Password"), ""),
    "from_address": string(gettext_noop("Sender address"), format="email"),
    "from_name": string(gettext_noop("Sender name"), "opsdesk"),
}, required=["host", "from_address"])


@functools.cache
def _markdown() -> MarkdownIt:  # imported on first use: not every process sends mail
    from markdown_it import MarkdownIt

    # CommonMark without raw HTML (escaped instead); single line breaks kept as <br>, because the
    # chat vendors' Markdown treats a newline as a line break too.
    return MarkdownIt("commonmark", {"html": False, "breaks": True})


def recipients(config: dict) -> list[str]:
    to = config.get("to") or ""
    values = to if isinstance(to, list) else [to]
    return [address for _, address in getaddresses([str(v) for v in values]) if address]


def render_html(subject: str, markdown: str) -> str:
    body = _markdown().render(markdown)
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f"<title>{html.escape(subject)}</title></head>\n"
            '<body style="font-family: sans-serif; font-size: 14px; line-height: 1.5">\n'
            f"{body}</body></html>\n")


def build_mail(config: dict, messages: Sequence[Message], *, now: float) -> tuple[EmailMessage, int]:
    """The mail for `messages` (as many as fit in MAX_TEXT, the rest named "and N more") and how
    many it carries."""
    def build(items: Sequence[Message], omitted: int) -> dict:
        return {"subject": title_of(items, omitted), "text": digest_markdown(items, omitted)}

    payload, delivered = _fitted(messages, build)
    sender = str(config["from_address"])
    mail = EmailMessage()
    mail["Subject"] = payload["subject"]
    mail["From"] = formataddr((str(setting(config, "from_name", SCHEMA)), sender))
    mail["To"] = ", ".join(recipients(config))
    mail["Date"] = format_datetime(dt.datetime.fromtimestamp(now, dt.UTC))
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office or delivery answers
    mail.set_content(payload["text"], subtype="plain", charset="utf-8")
    mail.add_alternative(render_html(payload["subject"], payload["text"]), subtype="html", charset="utf-8")
    return mail, delivered


def _fitted(messages: Sequence[Message], build: Build) -> tuple[dict, int]:
    body, delivered = fit(messages, build, limit=MAX_TEXT)
    return json.loads(body), delivered


def _connect(config: dict) -> smtplib.SMTP:
    security = str(setting(config, "security", SCHEMA))
    if security not in SECURITY:
        raise ValueError(f"security must be one of {', '.join(SECURITY)}")
    host = str(config["host"])
    port = int(config.get("port") or DEFAULT_PORT[security])
    context = ssl.create_default_context()
    if config.get("verify_tls") is False:  # an intranet relay with a self-signed certificate
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if security == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=context)
    smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
    if security == "starttls":
        smtp.starttls(context=context)
    return smtp


def _answer(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"


def send(config: dict, messages: list[Message], *, client: httpx.Client | None = None, now: float) -> SendResult:
    to = recipients(config)
    if not to:
        return SendResult(ok=False, status=0, detail="no recipient address (config['to'])")
    mail, delivered = build_mail(config, messages, now=now)
    hide = (str(config.get("password") or ""),)
    try:
        with _connect(config) as smtp:
            if config.get("username"):
                smtp.login(str(config["username"]), str(config.get("password") or ""))
            refused = smtp.send_message(mail, from_addr=str(config["from_address"]), to_addrs=to)
    except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused: the server's answer per address
        code, text = next(iter(exc.recipients.values()))
        detail = "; ".join(f"{address}: {_answer(c, t)}" for address, (c, t) in exc.recipients.items())
        return SendResult(ok=False, status=code, vendor_code=code, detail=scrub(detail, hide))
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, login refused…
        return SendResult(ok=False, status=exc.smtp_code, vendor_code=exc.smtp_code,
                          detail=scrub(_answer(exc.smtp_code, exc.smtp_error), hide))
    except (smtplib.SMTPException, OSError, ValueError) as exc:  # refused, timed out, TLS failed, no such host
        return SendResult(ok=False, status=0, detail=scrub(f"{type(exc).__name__}: {exc}", hide))
    # Some recipients refused but not all: the mail went; the refused ones are named.
    detail = "; ".join(f"{address}: {_answer(c, t)}" for address, (c, t) in refused.items())
    return SendResult(ok=True, status=250, vendor_code=250, detail=scrub(detail, hide), delivered=delivered)


def destination(config: dict) -> str:
    # Messages for one person's address through one relay go as one digest mail.
    return fingerprint("email", f"{config.get('host', '')}|{','.join(sorted(recipients(config)))}")


CHANNEL = ChannelType(
    name="email",
    label=gettext_noop("Email (SMTP)"),
    send=send,
    config_schema=SCHEMA,
    destination=destination,
    secrets=("password",),
)
