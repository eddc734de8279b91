"""Thin Celery wrappers around the chat outbox: tasks carry ids and re-read the rows, so a task
that comes twice finds the work done."""

from celery import shared_task


@shared_task(name="opsdesk.servicedesk.chat.tasks.send_chat_outbox", ignore_result=True)
def send_chat_outbox(ids: list[int]) -> None:
    from opsdesk.servicedesk.chat import outbox

    outbox.send(ids)


@shared_task(name="opsdesk.servicedesk.chat.tasks.sweep_chat_outbox", ignore_result=True)
def sweep_chat_outbox() -> None:
    """Every 10 s (beat "servicedesk-chat-sweep"): rows whose wake-up was lost, whose retry is
    due, or whose sender died."""
    from opsdesk.servicedesk.chat import outbox

    outbox.sweep()
