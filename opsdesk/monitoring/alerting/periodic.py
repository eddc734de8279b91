"""The alerting pass every 15 s (beat "alerting-pass"): what the filing of data cannot see."""

from __future__ import annotations

import logging
from importlib import import_module

from django.db import transaction
from django.utils import timezone

from opsdesk.monitoring.alerting import evaluate, holds, silences

log = logging.getLogger(__name__)


def run() -> dict[str, int]:
    now = timezone.now()
    done: dict[str, int] = {}
    # Each part in its own transaction: one failing does not hold back the others.
    for name, step in (("absence", lambda: len(evaluate.absence(now))),
                       ("released", lambda: holds.release_held(now)),
                       ("silence_notices", lambda: silences.send_notices(now)),
                       ("late_heartbeats", lambda: import_module("opsdesk.monitoring.inbound.heartbeat").late(now))):
        try:
            with transaction.atomic():
                done[name] = step()
        except Exception:
            log.exception("alerting pass: %s failed", name)
    return done
