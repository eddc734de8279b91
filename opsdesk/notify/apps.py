from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "opsdesk.notify"
    label = "notify"
    verbose_name = _("Notification")

    def ready(self) -> None:
        from opsdesk.notify import registrations  # noqa: F401
