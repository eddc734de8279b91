from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceDeskConfig(AppConfig):
    name = "opsdesk.servicedesk"
    label = "servicedesk"
    verbose_name = _("Service desk")

    def ready(self) -> None:
        # Each file registers its own models, pages and listeners.
        import opsdesk.servicedesk.registrations_portal  # noqa: F401  (the customer portal)
        from opsdesk.servicedesk import hooks, registrations  # noqa: F401
