"""The worker's log leaves out the routine tasks' received/succeeded lines, and only those."""

from __future__ import annotations

import logging

from django.conf import settings

from opsdesk.core.task_logging import CELERY_LOGGERS, RoutineTaskLines, quiet_routine_tasks


def record(message: str, *args, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("celery.app.trace", level, __file__, 1, message, args, None)


def test_routine_lines_are_left_out_and_everything_else_kept():
    quiet = RoutineTaskLines(["opsdesk.monitoring.tasks.file_batches"])
    # Celery's own formats: the trace's success line takes a dict, the strategy's a tuple.
    succeeded = record("Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
                       {"name": "opsdesk.monitoring.tasks.file_batches", "id": "a1", "runtime": 0.1,
                        "return_value": 1000})
    received = record("Task %s[%s] received", "opsdesk.monitoring.tasks.file_batches", "a1")
    assert not quiet.filter(succeeded) and not quiet.filter(received)
    failed = record("Task %s[%s] raised unexpected: %r", "opsdesk.monitoring.tasks.file_batches", "a1",
                    ValueError("x"), level=logging.ERROR)
    other = record("Task %s[%s] received", "opsdesk.notify.tasks.send_now", "b2")
    similar = record("Task %s[%s] received", "opsdesk.monitoring.tasks.file_batches_again", "c3")
    assert quiet.filter(failed) and quiet.filter(other) and quiet.filter(similar)


def test_the_worker_quiets_every_task_on_the_beats_schedule_once_but_not_at_debug():
    try:
        quiet_routine_tasks(settings.CELERY_BEAT_SCHEDULE, "INFO")
        attached = quiet_routine_tasks(settings.CELERY_BEAT_SCHEDULE, "INFO")  # set up again: one filter
        for name in CELERY_LOGGERS:
            filters = [f for f in logging.getLogger(name).filters if isinstance(f, RoutineTaskLines)]
            assert filters == [attached]
        assert "Task opsdesk.monitoring.tasks.file_batches[" in attached.prefixes
        assert "Task opsdesk.notify.tasks.sweep_notifications[" in attached.prefixes
        assert quiet_routine_tasks(settings.CELERY_BEAT_SCHEDULE, "DEBUG") is None
    finally:
        for name in CELERY_LOGGERS:
            logger = logging.getLogger(name)
            for f in [f for f in logger.filters if isinstance(f, RoutineTaskLines)]:
                logger.removeFilter(f)
