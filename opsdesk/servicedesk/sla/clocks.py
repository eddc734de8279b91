"""The ticket's SLA clocks, driven by the ticket actions (opsdesk.servicedesk.services), always in
the action's transaction: each function updates the clocks and the ticket's `sla_due_at` and
`sla_state` columns (the caller saves nothing of them)."""

from __future__ import annotations

import datetime as dt

from opsdesk.servicedesk.models import Ticket


def start(ticket: Ticket, at: dt.datetime) -> None:
    """A ticket was opened: start its first-response and resolution clocks from its contract."""


def responded(ticket: Ticket, at: dt.datetime) -> None:
    """The first public reply from the service desk: the response clock is met (or breached)."""


def status_changed(ticket: Ticket, old: str, new: str, at: dt.datetime) -> None:
    """Pause on waiting for the customer, resume on leaving it, stop on resolved, restart on reopen."""


def priority_changed(ticket: Ticket, at: dt.datetime) -> None:
    """New targets for the new priority, counted from the same start, keeping the paused time."""
