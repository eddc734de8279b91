"""Thin Celery wrappers around notify's delivery (opsdesk.notify.delivery). Tasks carry ids, not
objects, and re-read the rows: a task that comes twice finds the work done and does nothing."""

from celery import shared_task


@shared_task(name="opsdesk.notify.tasks.send_notifications", ignore_result=True)
def send_notifications(ids: list[int]) -> None:
    """Send these notifications (and whatever else is due for their destinations)."""
    from opsdesk.notify import delivery

    delivery.send(ids)


@shared_task(name="opsdesk.notify.tasks.sweep_notifications", ignore_result=True)
def sweep_notifications() -> None:
    """Every 10 s (beat "notify-sweep"): wake a sender for due rows and rows whose lease ran out,
    which a lost wake-up or a killed worker left behind."""
    from opsdesk.notify import delivery

    delivery.sweep()
