"""Ticket events sent to a customer's own systems (their ITSM, a chat bridge) as signed webhooks."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models.base import TimestampedModel

# What a subscriber may receive: never internal notes or anything else the customer may not see.
WEBHOOK_EVENTS = [
    ("opened", _("Ticket opened")), ("reply", _("Public reply")), ("status", _("Status changed")),
    ("assigned", _("Assigned")), ("priority", _("Priority changed")), ("merged", _("Merged")),
    ("sla_warning", _("SLA warning")), ("sla_breached", _("SLA breached")),
]


class TicketWebhook(TimestampedModel):
    """Ticket events of one customer (or of all, for the service provider's own systems) POSTed
    through a notify webhook channel: signed, retried, never lost (notify's delivery)."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+", verbose_name=_("customer"),
                                 help_text=_("Empty: the events of every customer (the provider's own systems)."))
    name = models.CharField(_("name"), max_length=100)
    channel = models.ForeignKey("notify.Channel", on_delete=models.CASCADE, related_name="+",
                                verbose_name=_("webhook channel"), limit_choices_to={"kind": "webhook"},
                                help_text=_("A notification channel of type webhook: its address and secret."))
    events = models.JSONField(_("events"), default=list, blank=True,
                              help_text=_("Empty: every event."))
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["customer", "name"]
        verbose_name = _("ticket webhook")
        verbose_name_plural = _("ticket webhooks")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from opsdesk.servicedesk.models.webhooks import WEBHOOK_EVENTS

        if self.channel_id:
            if self.channel.kind != "webhook":
                raise ValidationError({"channel": _("Choose a channel of type webhook.")})
            if self.channel.customer_id not in (None, self.customer_id):
                raise ValidationError({"channel": _("This channel belongs to another customer.")})
        known = {key for key, _label in WEBHOOK_EVENTS}
        if not isinstance(self.events, list) or any(e not in known for e in self.events):
            raise ValidationError({"events": _("Choose among: %(events)s.") % {"events": ", ".join(sorted(known))}})
