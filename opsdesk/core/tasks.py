from celery import shared_task

from opsdesk.core import services


@shared_task(name="opsdesk.core.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Scheduled by the scheduler, run by a worker: both being alive is what /healthz wants."""
    from celery import current_task

    services.beat("worker", detail=str(getattr(current_task.request, "hostname", "") or ""))
