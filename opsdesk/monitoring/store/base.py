"""The metric store's one interface. Two back ends implement it: `sql` (the default: samples in
the database) and `victoria` (a Prometheus-compatible store: remote write, PromQL over HTTP)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

RAW = 0
FIVE_MINUTES = 300
ONE_HOUR = 3600
# Aim for a chart of at most about this many points, whatever its range: a week of 5-minute
# rollups (2,016) fits, a month takes hourly ones.
MAX_POINTS = 2100
# Raw samples for up to a day (2,880 points at the agent's 30 s), as a chart of 1 h, 6 h or 24 h wants.
RAW_SPAN = 24 * 3600


class MetricStoreError(Exception):
    """The metric store answered an error or could not be reached."""


@dataclass
class Points:
    """Samples of one series to write (the series already has its row and id)."""

    series_id: int
    item_id: int
    customer_id: int
    name: str
    labels: dict[str, str]
    ts: Sequence[float] = field(default_factory=list)
    values: Sequence[float] = field(default_factory=list)
    # The writer knows the samples are in time order (the store need not check).
    ordered: bool = False


@dataclass
class SeriesData:
    """What a query answers for one series: raw values (min = avg = max) or a rollup."""

    step: int                   # 0 for raw samples, else the bucket in seconds
    ts: list[float]
    avg: list[float]
    min: list[float]
    max: list[float]


def choose_step(start: float, end: float, step: int | None = None, raw_interval: float = 60.0) -> int:
    """The coarsest resolution a chart of [start, end] needs: raw samples up to a day, then
    5-minute, then hourly rollups (and multiples of an hour beyond that), for about MAX_POINTS."""
    span = max(end - start, 1.0)
    if step is not None and step > 0:
        wanted = step
    else:
        wanted = span / MAX_POINTS
    if wanted <= raw_interval and span <= RAW_SPAN:
        return RAW
    if wanted <= FIVE_MINUTES:
        return FIVE_MINUTES
    hours = max(1, int(-(-wanted // ONE_HOUR)))
    return ONE_HOUR * hours


class MetricStore(Protocol):
    name: str
    # Whether write() reads Points' name and labels (a Prometheus store's series are named by
    # them; the SQL store's by the series id alone, so a filing pass need not make them).
    needs_labels: bool

    def write(self, points: list[Points]) -> None:
        """Store samples; inside the caller's transaction where the back end is the database."""

    def query(self, series: list[tuple[int, str, dict[str, str]]], start: float, end: float,
              step: int | None = None) -> dict[int, SeriesData]:
        """Samples of the given series (id, name, labels) in [start, end], at the resolution
        choose_step picks (or the step asked for)."""

    def averages(self, series: list[tuple[int, str, dict[str, str]]], start: float, end: float) -> dict[int, float]:
        """Each series' average over [start, end] (for the busiest items)."""

    def housekeeping(self, now: float) -> dict[str, int]:
        """Rollups, compaction and retention (nothing to do where the back end does its own)."""

    def health(self) -> tuple[bool, str]:
        """Whether the store answers, and a short note."""
