"""Availability of checks and configuration items (Zabbix's SLA report, Nagios' availability
report): time in each state over a period, maintenance counted apart, the share of measured time
that was not critical. compute.py is the arithmetic, load.py reads the history, panels.py and
api.py show it."""

from opsdesk.monitoring.availability.compute import Availability, Segment
from opsdesk.monitoring.availability.load import History, history

__all__ = ["Availability", "History", "Segment", "history"]
