"""The series' last values: written by each pass, or, while ingest goes on, kept by a pass and
written by the first pass LAST_VALUES_SECONDS after the last write, or at the end of filing."""

from __future__ import annotations

import pytest
from django.db import transaction

from opsdesk.monitoring import last_values
from opsdesk.monitoring.models import Series
from tests.factories import make_series

pytestmark = pytest.mark.django_db

T0 = 1_764_000_000.0


def _last(series: Series) -> tuple[float | None, float | None]:
    series.refresh_from_db()
    return series.last_ts, series.last_value


def _pass(newest: last_values.Newest, *, defer: bool, capture) -> None:
    """As a filing pass records them: inside its transaction, the hooks run once it commits."""
    with capture(execute=True), transaction.atomic():
        last_values.record(newest, defer=defer)


def test_a_deferring_pass_keeps_them_until_the_pace_allows_a_write(django_capture_on_commit_callbacks, monkeypatch):
    cpu = make_series(points=[(T0, 1.0)])
    load = make_series(name="load1", points=[(T0, 1.0)])
    _pass({cpu.id: (T0 + 30, 2.0)}, defer=False, capture=django_capture_on_commit_callbacks)
    assert _last(cpu) == (T0 + 30, 2.0)  # written at once

    # Within the pace: kept, not written.
    _pass({cpu.id: (T0 + 60, 3.0), load.id: (T0 + 60, 5.0)}, defer=True, capture=django_capture_on_commit_callbacks)
    _pass({cpu.id: (T0 + 90, 4.0)}, defer=True, capture=django_capture_on_commit_callbacks)
    assert _last(cpu) == (T0 + 30, 2.0)
    assert _last(load) == (T0, 1.0)

    # The pace is up: the pass writes its own and all that was kept, the newest of each.
    monkeypatch.setattr(last_values, "LAST_VALUES_SECONDS", 0.0)
    _pass({load.id: (T0 + 45, 9.0)}, defer=True, capture=django_capture_on_commit_callbacks)
    assert _last(cpu) == (T0 + 90, 4.0)
    assert _last(load) == (T0 + 60, 5.0)  # the kept sample is newer than the pass's own
    assert last_values._deferred == {}


def test_the_end_of_filing_writes_what_was_kept(django_capture_on_commit_callbacks):
    cpu = make_series(points=[(T0, 1.0)])
    _pass({cpu.id: (T0 + 10, 1.5)}, defer=False, capture=django_capture_on_commit_callbacks)
    _pass({cpu.id: (T0 + 60, 3.0)}, defer=True, capture=django_capture_on_commit_callbacks)
    assert _last(cpu) == (T0 + 10, 1.5)
    with django_capture_on_commit_callbacks(execute=True):
        last_values.flush()
    assert _last(cpu) == (T0 + 60, 3.0)
    assert last_values._deferred == {}


def test_a_pass_that_rolls_back_keeps_nothing(django_capture_on_commit_callbacks):
    cpu = make_series(points=[(T0, 1.0)])
    _pass({cpu.id: (T0 + 10, 1.5)}, defer=False, capture=django_capture_on_commit_callbacks)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        last_values.record({cpu.id: (T0 + 60, 3.0)}, defer=True)
        raise RuntimeError("the pass failed")
    assert last_values._deferred == {}


def test_an_older_sample_never_replaces_a_newer_last_value(django_capture_on_commit_callbacks):
    cpu = make_series(points=[(T0 + 100, 7.0)])
    _pass({cpu.id: (T0 + 50, 1.0)}, defer=False, capture=django_capture_on_commit_callbacks)
    assert _last(cpu) == (T0 + 100, 7.0)
