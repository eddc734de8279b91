"""The Celery application. The broker is only a wake-up: work that must not be lost is first a
database row with a state and a lease (design.md), so any broker will do."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdesk.settings")

app = Celery("opsdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    "worker-heartbeat": {
        "task": "opsdesk.core.tasks.heartbeat",
        "schedule": float(os.environ.get("OPSDESK_WORKER_HEARTBEAT_SECONDS", "30") or 30),
    },
    # Jobs whose worker died, or whose wake-up was lost, are sent again (design.md, "nothing lost").
    "sweep-import-jobs": {"task": "opsdesk.cmdb.tasks.sweep_import_jobs", "schedule": 60.0},
}


@worker_ready.connect
def _first_heartbeat(sender=None, **kwargs) -> None:
    # /healthz reports the worker as soon as it can take tasks, not only after the first beat.
    from opsdesk.core import services

    services.beat("worker", detail=str(getattr(sender, "hostname", "")))
