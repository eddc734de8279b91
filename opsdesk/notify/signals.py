"""What notify tells the apps to its right (which it never imports)."""

from django.dispatch import Signal

# A channel has failed every attempt for a while (sender=Channel, channel=..., since=..., error=...);
# monitoring raises an alert on opsdesk itself. `channel_recovered` when it delivers again.
channel_failing = Signal()
channel_recovered = Signal()

# A person acknowledged a page on its own page or in the API (sender=Page, page=..., actor=...),
# after the commit: the app that started it (monitoring for "monitoring.alert:…") acknowledges
# its cause too, so the alert and its page never disagree.
page_acknowledged = Signal()
