from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "opsdesk.notify"
    label = "notify"
    verbose_name = _("Notification")

    def ready(self) -> None:
        # Channels and deliveries; on-call and escalation: each file registers its own models.
        # senders: a worker's sender threads, switched on by Celery's worker signals.
        from opsdesk.notify import hooks, registrations, registrations_oncall, senders  # noqa: F401
