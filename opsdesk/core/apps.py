from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "opsdesk.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        # The Celery app must be the current one before any task is sent, or shared_task falls
        # back to Celery's default app (and its default broker).
        import opsdesk.celery  # noqa: F401
        from opsdesk.core import audit, registrations  # noqa: F401  (registers models)
