"""The Celery application. The broker is only a wake-up: work that must not be lost is first a
database row with a state and a lease (docs/architecture.md), so any broker will do."""

import os

from celery import Celery
from celery.signals import after_setup_logger, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdesk.settings")

app = Celery("opsdesk")
# Everything, the beat schedule included (CELERY_BEAT_SCHEDULE), comes from the Django settings,
# where each environment variable has been through opsdesk.env's strict parsers.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _first_heartbeat(sender=None, **kwargs) -> None:
    # /healthz reports the worker as soon as it can take tasks, not only after the first beat.
    from opsdesk.core import services

    services.beat("worker", detail=str(getattr(sender, "hostname", "")))


@after_setup_logger.connect
def _quiet_routine_tasks(**kwargs) -> None:
    from django.conf import settings

    from opsdesk.core.task_logging import quiet_routine_tasks

    quiet_routine_tasks(settings.CELERY_BEAT_SCHEDULE, settings.LOGGING["root"]["level"])
