"""Connections to a mailbox's servers: IMAP (imaplib) and SMTP (smtplib), with its security
setting and its passwords, which are decrypted here in memory and never logged."""

from __future__ import annotations

import imaplib
import json
import smtplib
import ssl

from opsdesk.core import crypto
from opsdesk.servicedesk.models import MailChannel
from opsdesk.servicedesk.models.mail import MailSecurity

TIMEOUT = 30.0  # seconds for connecting and for each answer
IMAP_PORT = {MailSecurity.SSL: 993, MailSecurity.STARTTLS: 143, MailSecurity.NONE: 143}
SMTP_PORT = {MailSecurity.SSL: 465, MailSecurity.STARTTLS: 587, MailSecurity.NONE: 25}
SECRET_NAMES = ("imap_password", "smtp_password")


def secrets_of(channel: MailChannel) -> dict[str, str]:
    """For the fetcher, the sender and for keeping secrets on a change; never for a page."""
    if not channel.secrets_encrypted:
        return {}
    return json.loads(crypto.decrypt(channel.secrets_encrypted))


def _context(channel: MailChannel) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not channel.verify_tls:  # an intranet server with a self-signed certificate
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def imap(channel: MailChannel) -> imaplib.IMAP4:
    """Connected and logged in (the caller selects the folder and logs out)."""
    security = channel.imap_security
    port = channel.imap_port or IMAP_PORT.get(security, 993)
    if security == MailSecurity.SSL:
        conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(channel.imap_host, port, ssl_context=_context(channel),
                                                timeout=TIMEOUT)
    else:
        conn = imaplib.IMAP4(channel.imap_host, port, timeout=TIMEOUT)
        if security == MailSecurity.STARTTLS:
            conn.starttls(ssl_context=_context(channel))
    try:
        login(conn, channel.imap_username, secrets_of(channel).get("imap_password", ""))
    except Exception:
        _close(conn)
        raise
    return conn


def login(conn: imaplib.IMAP4, username: str, password: str) -> None:
    """LOGIN, or AUTHENTICATE PLAIN (UTF-8) when the name or password is not ASCII: imaplib's
    LOGIN can only send ASCII, and Chinese passwords exist."""
    if (username + password).isascii():
        conn.login(username, password)
    else:
        conn.authenticate("PLAIN", lambda _challenge: f"\0{username}\0{password}".encode())


def _close(conn: imaplib.IMAP4) -> None:
    try:
        conn.shutdown()
    except OSError:
        pass


def logout(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (imaplib.IMAP4.error, OSError):
        _close(conn)


def smtp(channel: MailChannel) -> smtplib.SMTP:
    """Connected (and logged in when the mailbox has an SMTP user)."""
    security = channel.smtp_security
    port = channel.smtp_port or SMTP_PORT.get(security, 587)
    if security == MailSecurity.SSL:
        conn: smtplib.SMTP = smtplib.SMTP_SSL(channel.smtp_host, port, timeout=TIMEOUT, context=_context(channel))
    else:
        conn = smtplib.SMTP(channel.smtp_host, port, timeout=TIMEOUT)
        if security == MailSecurity.STARTTLS:
            conn.starttls(context=_context(channel))
    if channel.smtp_username:
        try:
            conn.login(channel.smtp_username, secrets_of(channel).get("smtp_password", ""))
        except Exception:
            conn.close()
            raise
    return conn


def scrub(text: str, channel: MailChannel) -> str:
    """An error message without the mailbox's passwords (a server may echo what it was sent)."""
    for secret in secrets_of(channel).values():
        if secret:
            text = text.replace(secret, "***")
    return text
