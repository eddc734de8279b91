"""Discovery's Celery tasks: thin wrappers around discovery.services, found by Celery because
monitoring's registrations import this module (opsdesk/monitoring/tasks.py is the app's other
tasks). The names keep the app's task namespace."""

from celery import shared_task


@shared_task(name="opsdesk.monitoring.tasks.run_discovery", ignore_result=True, acks_late=True)
def run_discovery(run_id: int) -> None:
    from opsdesk.monitoring.discovery import services

    services.run(run_id)


@shared_task(name="opsdesk.monitoring.tasks.sweep_discovery", ignore_result=True)
def sweep_discovery() -> None:
    """Runs whose worker died or whose wake-up was lost are sent again (CELERY_BEAT_SCHEDULE)."""
    from opsdesk.monitoring.discovery import services

    services.sweep()
