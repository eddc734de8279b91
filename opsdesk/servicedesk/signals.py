"""What the service desk tells its listeners (mail out, chat out, webhooks, the SLA engine).

`ticket_event` is sent *inside* the action's transaction, with sender=Ticket and `ticket`,
`event` ("opened", "reply", "note", "status", "assigned", "priority", "merged", "sla_warning",
"sla_breached"), `entry` (the TicketEntry or None) and the event's own keys. A listener that
must not lose its work writes its row there (it commits with the cause); one that talks to the
outside does it in `transaction.on_commit`."""

from django.dispatch import Signal

ticket_event = Signal()
