"""What the service desk listens to in the apps to its left (alerts), and adds to their pages."""

from opsdesk.monitoring.models import Alert
from opsdesk.monitoring.signals import alert_notified, alert_resolved
from opsdesk.servicedesk import alert_tickets

alert_notified.connect(alert_tickets.on_alert_notified, sender=Alert, dispatch_uid="servicedesk.alert_notified")
alert_resolved.connect(alert_tickets.on_alert_resolved, sender=Alert, dispatch_uid="servicedesk.alert_resolved")

from opsdesk.servicedesk import webhooks  # noqa: E402
from opsdesk.servicedesk.models import Ticket  # noqa: E402
from opsdesk.servicedesk.signals import ticket_event  # noqa: E402

ticket_event.connect(webhooks.on_ticket_event, sender=Ticket, dispatch_uid="servicedesk.webhooks")

from opsdesk.servicedesk.desk import notices  # noqa: E402

ticket_event.connect(notices.on_ticket_event, sender=Ticket, dispatch_uid="servicedesk.notices")

from opsdesk.servicedesk import surveys  # noqa: E402

# Before the mail's listener (registrations_mail), so the resolved mail finds the survey to link.
ticket_event.connect(surveys.on_ticket_event, sender=Ticket, dispatch_uid="servicedesk.surveys")
