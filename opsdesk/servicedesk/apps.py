from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceDeskConfig(AppConfig):
    name = "opsdesk.servicedesk"
    label = "servicedesk"
    verbose_name = _("Service desk")

    def ready(self) -> None:
        # Each file registers its own models, pages and listeners.
        from opsdesk.servicedesk import (  # noqa: F401
            hooks,
            registrations,
            registrations_chat,
            registrations_mail,
            registrations_portal,
            registrations_sla,
            registrations_surveys,
        )
