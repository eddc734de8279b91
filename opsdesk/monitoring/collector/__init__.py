"""The monitoring collector: an asyncio engine that runs the checks of opsdesk.monitoring.checks on
their schedules and hands the results to a sink. Free of Django, so that it also runs inside a
customer's network and pushes over HTTP."""

from __future__ import annotations

from .engine import Collector, RunRecord, Stats

__all__ = ["Collector", "RunRecord", "Stats"]
