"""Thin Celery wrappers around the mail machinery. Tasks carry ids and re-read the rows: one that
comes twice finds the work done (the mailbox's lease, the message's Message-ID, the mail's state)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="opsdesk.servicedesk.mail.tasks.fetch_mailbox", ignore_result=True)
def fetch_mailbox(channel_id: int) -> None:
    """Fetch one mailbox (woken by the beat, by IDLE, or by "fetch now")."""
    from opsdesk.servicedesk.mail import fetch

    result = fetch.fetch(channel_id)
    if result is not None and result.more:
        fetch_mailbox.delay(channel_id)


@shared_task(name="opsdesk.servicedesk.mail.tasks.fetch_all", ignore_result=True)
def fetch_all() -> None:
    """Every 60 s (beat "servicedesk-mail-fetch"): a fetch of each enabled mailbox."""
    from opsdesk.servicedesk.models import MailChannel

    for channel_id in MailChannel.objects.filter(enabled=True).values_list("pk", flat=True):
        fetch_mailbox.delay(channel_id)


@shared_task(name="opsdesk.servicedesk.mail.tasks.send_outgoing", ignore_result=True)
def send_outgoing(ids: list[int]) -> None:
    from opsdesk.servicedesk.mail import outgoing

    outgoing.send(ids)


@shared_task(name="opsdesk.servicedesk.mail.tasks.sweep_outgoing", ignore_result=True)
def sweep_outgoing() -> None:
    """Every 30 s (beat "servicedesk-mail-sweep"): mail whose wake-up was lost, whose retry is
    due or whose sender died is sent again."""
    from opsdesk.servicedesk.mail import outgoing

    outgoing.sweep()
