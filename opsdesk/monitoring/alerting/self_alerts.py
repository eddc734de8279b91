"""Alerts on opsdesk itself: a notification channel that keeps failing (notify tells, through its
signals; it never imports monitoring) raises an alert for the internal customer, so the people
who would miss its messages hear of it on their other channels."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from opsdesk.core.models import Customer
from opsdesk.monitoring.alerting.lifecycle import Candidate, Recovery, apply, fingerprint
from opsdesk.monitoring.models import AlertSource, Severity
from opsdesk.notify.signals import channel_failing, channel_recovered


def _customer(channel) -> Customer | None:
    from opsdesk.monitoring.local import INTERNAL_CODE

    return Customer.objects.filter(code=INTERNAL_CODE).first() or channel.customer


@receiver(channel_failing)
def channel_keeps_failing(sender, channel, since=None, error: str = "", **kwargs) -> None:
    customer = _customer(channel)
    if customer is None:
        return
    # Stored once, in the site's language (an alert's title is data, like a rule's name).
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Notification channel failing: %(name)s") % {"name": channel.name}
    with transaction.atomic():
        apply([Candidate(fingerprint=fingerprint("self", "channel", channel.pk), customer_id=customer.pk,
                         source=AlertSource.SELF, title=title, severity=Severity.MAJOR,
                         at=timezone.now(), started_at=since, description=str(error)[:500],
                         labels={"channel": channel.name, "type": channel.kind})])


@receiver(channel_recovered)
def channel_works_again(sender, channel, at=None, **kwargs) -> None:
    with transaction.atomic():
        apply([], [Recovery(fingerprint=fingerprint("self", "channel", channel.pk), at=at or timezone.now())])
