"""Heartbeats (healthchecks.io's idea): a cron job or backup script pings its URL when it has run.

- a ping (`GET` or `POST` …/heartbeat/<token>/) is a good run: the clock starts again, and an open
  alert of the heartbeat resolves;
- `…/fail` is a failed run: the alert fires at once (the body, such as the script's log, is its
  description);
- `…/start` says a run began (scripts written for healthchecks.io send it): the run must then
  ping within the grace, or it is late (a job that hangs is found before its next period is up);
- late: no good ping for `period + grace` since the last one (or since the heartbeat was made),
  or none within the grace after a start, fires the alert from the periodic alerting pass
  (`late`, every 15 s).

Late and failed are one fault of the job: one fingerprint per heartbeat, one open alert."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from opsdesk.monitoring.alerting import lifecycle
from opsdesk.monitoring.alerting.lifecycle import Candidate, Recovery
from opsdesk.monitoring.inbound.base import Inbound, Parsed, Source, invalid
from opsdesk.monitoring.models import AlertSource, InboundIntegration, IntegrationKind

SIGNALS = ("ping", "start", "fail")
MAX_LOG = 10_000


def heartbeat_fingerprint(integration: InboundIntegration) -> str:
    return lifecycle.fingerprint(AlertSource.HEARTBEAT, integration.id)


def _candidate(integration: InboundIntegration, *, title: str, description: str, at: dt.datetime,
               started: dt.datetime) -> Candidate:
    return Candidate(fingerprint=heartbeat_fingerprint(integration), customer_id=integration.customer_id,
                     source=AlertSource.HEARTBEAT, title=title, severity=integration.severity, at=at,
                     started_at=min(started, at), description=description, integration_id=integration.id,
                     item_id=integration.configuration_item_id, labels={"heartbeat": integration.name[:200]})


def parse(integration: InboundIntegration, inbound: Inbound) -> Parsed:
    if inbound.signal not in SIGNALS:
        raise invalid("signal", _("Must be one of: %(signals)s.") % {"signals": ", ".join(SIGNALS)})
    parsed = Parsed()
    if inbound.signal == "start":
        parsed.ignored = 1
        parsed.started_at = inbound.now
    elif inbound.signal == "ping":
        parsed.pinged_at = inbound.now
        parsed.recoveries.append(Recovery(fingerprint=heartbeat_fingerprint(integration), at=inbound.now,
                                          text=_("Pinged")))
    else:
        log = inbound.body if isinstance(inbound.body, str) else ""
        with translation.override(settings.LANGUAGE_CODE):
            title = _("%(name)s reported a failure") % {"name": integration.name}
        parsed.candidates.append(_candidate(integration, title=title, description=log[:MAX_LOG], at=inbound.now,
                                            started=inbound.now))
    return parsed


def due(integration: InboundIntegration) -> dt.datetime | None:
    """When the heartbeat goes late without a good ping (None: it has no period)."""
    if not integration.period_seconds:
        return None
    since = integration.last_ping_at or integration.created_at
    deadline = since + dt.timedelta(seconds=integration.period_seconds + integration.grace_seconds)
    started = integration.last_start_at
    if started is not None and (integration.last_ping_at is None or started > integration.last_ping_at):
        # A run began and has not finished: it has the grace to do so.
        deadline = min(deadline, started + dt.timedelta(seconds=integration.grace_seconds))
    return deadline


def late(now: dt.datetime | None = None) -> int:
    """The periodic pass's step: fire (once: de-duplicated by fingerprint) for every enabled
    heartbeat past its due time; answers how many fired now. Only a ping resolves it."""
    now = now or timezone.now()
    candidates = []
    heartbeats = InboundIntegration.objects.filter(kind=IntegrationKind.HEARTBEAT, enabled=True,
                                                   period_seconds__gt=0)
    with translation.override(settings.LANGUAGE_CODE):
        for integration in heartbeats.iterator():
            deadline = due(integration)
            if deadline is None or now <= deadline:
                continue
            last = integration.last_ping_at
            description = (_("Last ping: %(when)s.") % {"when": last.isoformat(timespec="seconds")} if last
                           else _("It has never been pinged."))
            started = integration.last_start_at
            if started is not None and (last is None or started > last):
                description += " " + _("A run started at %(when)s and has not finished.") % {
                    "when": started.isoformat(timespec="seconds")}
            candidates.append(_candidate(integration, title=_("%(name)s is late") % {"name": integration.name},
                                         description=description, at=now, started=deadline))
    return len(lifecycle.apply(candidates))


SOURCE = Source(name="heartbeat", parse=parse)
