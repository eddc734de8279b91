"""What notify tells the apps to its right (which it never imports)."""

from django.dispatch import Signal

# A channel has failed every attempt for a while (sender=Channel, channel=..., since=..., error=...);
# monitoring raises an alert on opsdesk itself. `channel_recovered` when it delivers again.
channel_failing = Signal()
channel_recovered = Signal()
