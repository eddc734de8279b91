"""The worker's log without a line for every routine run.

Celery logs two INFO lines per task ("received", "succeeded"). The beat starts a dozen sweeps every
10 to 60 s, and each push wakes the filer once a second per web process. Under a fleet's ingest,
those lines were most of the worker's log, with the lines that matter buried in them. The
lines of routine tasks (those on the beat's schedule) are left out at INFO. Their failures,
retries and everything the tasks log themselves stay, and `OPSDESK_LOG_LEVEL=DEBUG` shows all
of them again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

CELERY_LOGGERS = ("celery.app.trace", "celery.worker.strategy")


class RoutineTaskLines(logging.Filter):
    def __init__(self, task_names: Iterable[str]) -> None:
        super().__init__()
        self.prefixes = tuple(f"Task {name}[" for name in sorted(set(task_names)))

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not self.prefixes:
            return True
        return not record.getMessage().startswith(self.prefixes)


def quiet_routine_tasks(schedule: dict, level: str) -> RoutineTaskLines | None:
    """Attach the filter to Celery's task loggers (the worker calls this once its logging is set
    up); nothing at DEBUG. Answers the filter attached."""
    if level.upper() == "DEBUG":
        return None
    quiet = RoutineTaskLines(entry["task"] for entry in schedule.values())
    for name in CELERY_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RoutineTaskLines)]:
            logger.removeFilter(old)
        logger.addFilter(quiet)
    return quiet
