from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "opsdesk.monitoring"
    label = "monitoring"
    verbose_name = _("Monitoring")

    def ready(self) -> None:
        from opsdesk.monitoring import audit, hooks, registrations  # noqa: F401
        from opsdesk.monitoring import registrations_views  # noqa: F401  # isort: skip
        from opsdesk.monitoring import registrations_alerts  # noqa: F401  # isort: skip
        from opsdesk.monitoring import registrations_inbound  # noqa: F401  # isort: skip
        from opsdesk.monitoring.routers import migrate_the_queue

        post_migrate.connect(migrate_the_queue, sender=self, dispatch_uid="opsdesk-migrate-the-queue")
        from opsdesk.monitoring.models import Agent
        from opsdesk.monitoring.pushing_agents import forget_pushing_agents

        # A pushing agent's token is cached a few seconds per process; a change here is seen at once.
        post_save.connect(forget_pushing_agents, sender=Agent, dispatch_uid="opsdesk-agent-saved")
        post_delete.connect(forget_pushing_agents, sender=Agent, dispatch_uid="opsdesk-agent-deleted")
