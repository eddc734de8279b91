"""What monitoring tells others (alerting, the service desk) without knowing them."""

from django.dispatch import Signal

# Sent after commit with `changes`: the CheckStateChange rows of one filing pass.
check_state_changed = Signal()

# Sent inside the transaction that writes them, sender=Alert, with `alert`: an alert whose
# notifications went out (fired and not held back: no upstream fault, silence, maintenance or
# flapping), and an alert that resolved. The service desk opens and annotates incidents on them,
# so what it writes commits with the alert.
alert_notified = Signal()
alert_resolved = Signal()
