"""Celery tasks of on-call: thin wrappers around escalation.py and ical.py (the rows are the truth;
a task only says "look now")."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="opsdesk.notify.tasks_oncall.advance_escalations", ignore_result=True)
def advance_escalations() -> int:
    """Move every page whose next step is due (beat entry "notify-escalations", every 15 s)."""
    from opsdesk.notify.escalation import advance_due_pages

    return advance_due_pages()


@shared_task(name="opsdesk.notify.tasks_oncall.refresh_ical_feeds", ignore_result=True)
def refresh_ical_feeds() -> int:
    """Read every schedule's iCalendar feed again (its events become overrides)."""
    from opsdesk.notify.ical import refresh_all_feeds

    return refresh_all_feeds()
