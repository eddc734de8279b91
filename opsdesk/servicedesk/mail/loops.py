"""Mail no person wrote: out-of-office answers, bounces, lists and robots (our own mail coming
back among them). Such mail opens no ticket and is never answered, so no mail loop can start
(RFC 3834; the headers Exchange, Gmail, Postfix and the Chinese providers set)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _

from opsdesk.servicedesk.mail.parsing import ParsedMail

AUTOMATIC_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}
ROBOT_LOCAL_PARTS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
# Subjects out-of-office robots use that set none of the headers (some hosted Chinese mail).
AUTO_SUBJECT_PREFIXES = ("自动回复", "自動回覆", "automatic reply", "auto reply", "autoreply", "out of office",
                         "undeliverable", "delivery status notification", "退信", "系统退信", "undelivered mail")


def automatic_reason(mail: ParsedMail, *, own_addresses: Iterable[str] = (), instance_id: str = "") -> str:
    """Why this mail is not from a person ("" when it is), in the reader's language."""
    h = mail.headers
    auto = h.get("auto-submitted", "").strip().lower()
    if auto and not auto.startswith("no"):
        return _("Auto-Submitted: %(value)s") % {"value": auto}
    precedence = h.get("precedence", "").strip().lower()
    if precedence in AUTOMATIC_PRECEDENCE:
        return _("Precedence: %(value)s") % {"value": precedence}
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if name in h:
            return _("%(header)s header") % {"header": name.title()}
    if h.get("x-auto-response-suppress", "").strip():
        return _("X-Auto-Response-Suppress: %(value)s") % {"value": h["x-auto-response-suppress"].strip()}
    if mail.content_type == "multipart/report":
        return _("Delivery or read report (multipart/report)")
    if "x-failed-recipients" in h or ("return-path" in h and h["return-path"].strip() in ("<>", "")):
        return _("Bounce (empty return path)")
    if "list-id" in h:
        return _("Mailing list (List-Id: %(value)s)") % {"value": h["list-id"][:100]}
    local = mail.from_address.partition("@")[0]
    if local in ROBOT_LOCAL_PARTS:
        return _("Sent by a mail server (%(address)s)") % {"address": mail.from_address}
    own = {a.lower() for a in own_addresses if a}
    if mail.from_address in own:
        return _("Sent from our own address (%(address)s)") % {"address": mail.from_address}
    if instance_id and instance_id in h.get("x-opsdesk-instance", ""):
        return _("Sent by this opsdesk")
    if own and any(a in h.get("x-loop", "").lower() for a in own):
        return _("X-Loop: our own address")
    subject = mail.subject.strip().lower()
    if subject.startswith(AUTO_SUBJECT_PREFIXES):
        return _("Subject of an automatic answer: %(subject)s") % {"subject": mail.subject[:100]}
    return ""
