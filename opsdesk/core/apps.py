from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "opsdesk.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from opsdesk.core import audit, registrations  # noqa: F401  (registers models)
