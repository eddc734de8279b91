from celery import shared_task


@shared_task(name="opsdesk.notify.tasks.send_notifications", ignore_result=True)
def send_notifications(ids: list[int]) -> None:
    """Send these notifications (and whatever else is due for their destinations)."""
    from opsdesk.notify import delivery

    delivery.send(ids)
