"""Where notifications go: configured channels (a DingTalk robot, an SMTP relay, a webhook…) and
the ways each person chose to be reached."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models.base import TimestampedModel


class Channel(TimestampedModel):
    """One configured destination of a channel type (opsdesk.notify.channels): a customer's chat
    group robot, the team's webhook, the SMTP relay. Secrets (robot secrets, tokens, passwords)
    are kept encrypted in `secrets_encrypted` (a Fernet token of a JSON object), never shown."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+", verbose_name=_("customer"),
                                 help_text=_("Empty: a channel of the service provider, for any customer."))
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("type"), max_length=30)
    config = models.JSONField(_("settings"), default=dict, blank=True)
    secrets_encrypted = models.TextField(editable=False, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Written by deliveries only: since when every attempt failed (an alert on opsdesk itself
    # fires when a channel keeps failing).
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)
    last_error = models.CharField(_("last error"), max_length=500, blank=True, editable=False)
    # What the vendor's rate limit counts (a fingerprint of the robot, not the secret itself): two
    # channels set up for one DingTalk robot share its 20 messages a minute. Empty: the channel.
    limit_key = models.CharField(max_length=64, blank=True, editable=False, db_index=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["customer", "name"], name="unique_channel_name")]
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")

    def __str__(self) -> str:
        return self.name


class ContactKind(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Voice call")
    CHANNEL = "channel", _("Channel")


class ContactMethod(models.Model):
    """How a person is reached when paged: their email, phone (SMS, voice) or a channel (their own
    DingTalk robot, a webhook). Severities below `min_severity` do not use this method."""

    user = models.ForeignKey("core.User", on_delete=models.CASCADE, related_name="contact_methods",
                             verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=10, choices=ContactKind.choices)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                verbose_name=_("channel"),
                                help_text=_("For email, SMS and voice: the channel that sends them "
                                            "(empty: the first enabled one of its type)."))
    address = models.CharField(_("address"), max_length=200, blank=True,
                               help_text=_("Email address or phone number; empty takes the user's own."))
    min_severity = models.CharField(_("from severity"), max_length=10, default="info",
                                    choices=[("critical", _("Critical")), ("major", _("Major")),
                                             ("minor", _("Minor")), ("info", _("Info"))])
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["user", "id"]
        verbose_name = _("contact method")
        verbose_name_plural = _("contact methods")

    def __str__(self) -> str:
        return f"{self.user}: {self.get_kind_display()} {self.address or self.channel or ''}".strip()
