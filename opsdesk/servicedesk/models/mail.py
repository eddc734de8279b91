"""Email in and out of the service desk: the mailboxes (one IMAP folder + one SMTP relay each),
the customers' mail domains, every message fetched (the exactly-once key, the raw message kept)
and every message sent (a row with a lease: written in the ticket action's transaction, sent
after the commit, resent by the sweep when a sender died).

The mail machinery lives in opsdesk.servicedesk.mail; these are its rows."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from opsdesk.core.models.base import TimestampedModel

DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")


class MailSecurity(models.TextChoices):
    SSL = "ssl", _("SSL/TLS")
    STARTTLS = "starttls", _("STARTTLS")
    NONE = "none", _("None (plain text)")


class MailChannel(TimestampedModel):
    """A mailbox the service desk reads (IMAP) and answers from (SMTP). Passwords are kept in
    `secrets_encrypted` (a Fernet token of {"imap_password", "smtp_password"}), never shown."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    imap_host = models.CharField(_("IMAP server"), max_length=255)
    imap_port = models.PositiveIntegerField(_("IMAP port"), null=True, blank=True,
                                            help_text=_("Empty: 993 with SSL/TLS, 143 otherwise."))
    imap_security = models.CharField(_("IMAP encryption"), max_length=10, choices=MailSecurity.choices,
                                     default=MailSecurity.SSL)
    imap_username = models.CharField(_("IMAP user name"), max_length=255)
    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    smtp_host = models.CharField(_("SMTP server"), max_length=255, blank=True,
                                 help_text=_("Empty: this mailbox only receives."))
    smtp_port = models.PositiveIntegerField(_("SMTP port"), null=True, blank=True,
                                            help_text=_("Empty: 465 with SSL/TLS, 587 with STARTTLS, 25 without."))
    smtp_security = models.CharField(_("SMTP encryption"), max_length=10, choices=MailSecurity.choices,
                                     default=MailSecurity.STARTTLS)
    smtp_username = models.CharField(_("SMTP user name"), max_length=255, blank=True)
    verify_tls = models.BooleanField(_("verify the servers' certificates"), default=True)
    secrets_encrypted = models.TextField(editable=False, blank=True)
    from_address = models.EmailField(_("sender address"))
    from_name = models.CharField(_("sender name"), max_length=100, default="opsdesk")
    default_customer = models.ForeignKey(
        "core.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("default customer"),
        help_text=_("For mail whose sender no contact, customer user or mail domain matches; empty: such mail "
                    "waits in triage."))
    default_team = models.ForeignKey("core.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                     verbose_name=_("default team"))
    category = models.ForeignKey("servicedesk.Category", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+", verbose_name=_("category"))
    # The fetcher's bookkeeping (written by the fetcher only).
    uid_validity = models.BigIntegerField(_("UIDVALIDITY"), null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(_("last UID fetched"), default=0, editable=False)
    last_fetch_at = models.DateTimeField(_("last fetch"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    # One fetcher at a time per mailbox (a lease, so a killed one does not block it for ever).
    fetch_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_test = models.TextField(_("last connection test"), blank=True, editable=False)
    last_test_at = models.DateTimeField(_("tested"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mail channel")
        verbose_name_plural = _("mail channels")

    def __str__(self) -> str:
        return f"{self.name} <{self.from_address}>"


class CustomerMailDomain(models.Model):
    """Mail from an unknown address at this domain (or a subdomain) belongs to the customer."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="mail_domains",
                                 verbose_name=_("customer"))
    domain = models.CharField(_("mail domain"), max_length=253, unique=True,
                              help_text=_("Such as example.com.cn: mail from any address there opens tickets of the "
                                          "customer."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["domain"]
        verbose_name = _("customer mail domain")
        verbose_name_plural = _("customer mail domains")

    def __str__(self) -> str:
        return self.domain

    def clean(self) -> None:
        domain = (self.domain or "").strip().lower().lstrip("@").rstrip(".")
        try:
            domain = domain.encode("idna").decode("ascii")  # 例子.中国 is kept as its xn-- form
        except UnicodeError:
            pass
        if not DOMAIN.fullmatch(domain):
            raise ValidationError({"domain": _("Enter a mail domain such as example.com.cn.")})
        self.domain = domain


class InboundState(models.TextChoices):
    TICKET = "ticket", pgettext_lazy("inbound mail", "Opened a ticket")
    REPLY = "reply", pgettext_lazy("inbound mail", "Added to a ticket")
    IGNORED = "ignored", pgettext_lazy("inbound mail", "Ignored")
    TRIAGE = "triage", pgettext_lazy("inbound mail", "Waiting in triage")
    QUARANTINED = "quarantined", pgettext_lazy("inbound mail", "Quarantined")


class InboundMail(models.Model):
    """One message fetched from a mailbox, kept whatever became of it. `message_id` (its
    Message-ID, or a hash of its headers and body when it has none) is the exactly-once key:
    a message fetched again finds its row and is skipped."""

    channel = models.ForeignKey(MailChannel, on_delete=models.CASCADE, related_name="messages",
                                verbose_name=_("mail channel"))
    message_id = models.CharField(_("Message-ID"), max_length=300)
    uid = models.BigIntegerField(_("IMAP UID"), null=True, blank=True)
    from_address = models.CharField(_("from address"), max_length=254, blank=True)
    from_name = models.CharField(_("from"), max_length=200, blank=True)
    subject = models.CharField(pgettext_lazy("mail", "subject"), max_length=300, blank=True)
    received_at = models.DateTimeField(_("sent"), null=True, blank=True)
    fetched_at = models.DateTimeField(_("fetched"), default=timezone.now)
    state = models.CharField(_("state"), max_length=12, choices=InboundState.choices)
    reason = models.TextField(_("reason"), blank=True)
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                 verbose_name=_("customer"))
    ticket = models.ForeignKey("servicedesk.Ticket", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="inbound_mails", verbose_name=_("ticket"))
    # The whole message as it arrived, under the data directory (mail/<sha256>.eml).
    raw_path = models.CharField(_("raw message"), max_length=300)
    size = models.PositiveBigIntegerField(_("size"), default=0)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["channel", "message_id"], name="unique_inbound_message")]
        indexes = [models.Index(fields=["state", "-id"], name="inbound_state"),
                   models.Index(fields=["ticket"], name="inbound_ticket")]
        verbose_name = _("inbound mail")
        verbose_name_plural = _("inbound mail")

    def __str__(self) -> str:
        return self.subject or self.message_id


class OutgoingKind(models.TextChoices):
    REPLY = "reply", pgettext_lazy("outgoing mail", "Reply")
    ACKNOWLEDGEMENT = "ack", pgettext_lazy("outgoing mail", "Acknowledgement")
    RESOLVED = "resolved", pgettext_lazy("outgoing mail", "Resolution notice")


class OutgoingState(models.TextChoices):
    PENDING = "pending", pgettext_lazy("outgoing mail", "Waiting")
    SENDING = "sending", pgettext_lazy("outgoing mail", "Sending")
    SENT = "sent", pgettext_lazy("outgoing mail", "Sent")
    FAILED = "failed", pgettext_lazy("outgoing mail", "Failed")


class OutgoingMail(models.Model):
    """A mail to a ticket's requester, rendered and written in the ticket action's transaction
    (so it exists exactly when the reply does) and sent after the commit under a lease."""

    ticket = models.ForeignKey("servicedesk.Ticket", on_delete=models.CASCADE, related_name="outgoing_mails",
                               verbose_name=_("ticket"))
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("customer"))
    channel = models.ForeignKey(MailChannel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                verbose_name=_("mail channel"))
    entry = models.ForeignKey("servicedesk.TicketEntry", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("entry"))
    kind = models.CharField(_("kind"), max_length=10, choices=OutgoingKind.choices)
    to_address = models.CharField(_("to"), max_length=254)
    subject = models.CharField(pgettext_lazy("mail", "subject"), max_length=400)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=300)
    in_reply_to = models.CharField(max_length=300, blank=True)
    references = models.TextField(blank=True)
    language = models.CharField(_("language"), max_length=10)
    # Written by opsdesk without a person (acknowledgement, notices): marked Auto-Submitted.
    automatic = models.BooleanField(default=False)
    state = models.CharField(_("state"), max_length=8, choices=OutgoingState.choices, default=OutgoingState.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    due_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "due_at"], name="outgoing_due",
                                condition=Q(state__in=["pending", "sending"])),
                   models.Index(fields=["to_address", "kind", "created_at"], name="outgoing_rate"),
                   # The customer's answer names it in In-Reply-To: threading looks it up.
                   models.Index(fields=["message_id"], name="outgoing_message_id")]
        verbose_name = _("outgoing mail")
        verbose_name_plural = _("outgoing mail")

    def __str__(self) -> str:
        return self.subject


class MailInstance(models.Model):
    """The id of this opsdesk, made once and kept in the database (so every web and worker
    process agrees): it is in the domain of each Message-ID we send, so a reply to another
    opsdesk's mail is never taken for a reply to ours."""

    instance_id = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("mail instance id")
