"""What monitoring tells others (alerting, the service desk) without knowing them."""

from django.dispatch import Signal

# Sent after commit with `changes`: the CheckStateChange rows of one filing pass.
check_state_changed = Signal()
