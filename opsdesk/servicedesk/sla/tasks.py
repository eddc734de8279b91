"""The SLA sweep as a Celery task (beat "servicedesk-sla-sweep", every 30 s). The rows are the
truth: a sweep lost or run twice changes nothing (opsdesk.servicedesk.sla.sweep)."""

from celery import shared_task


@shared_task(name="opsdesk.servicedesk.sla.tasks.sweep_sla", ignore_result=True)
def sweep_sla() -> None:
    from opsdesk.servicedesk.sla import sweep

    sweep.sweep()
