"""Measured values on detail pages are read as a person writes them, not as floats print."""

from __future__ import annotations

import pytest

from opsdesk.core.views.generic import readable_number


@pytest.mark.parametrize(("value", "shown"), [
    (96.50538128975266, "96.51"), (85.0, "85"), (0.000123, "0.000123"), (0.5, "0.5"), (-12.3456, "-12.35"),
    (1234567.891, "1234567.89"), (1e20, "1e+20"), (0.0, "0"), (float("nan"), "nan"),
])
def test_readable_number(value, shown):
    assert readable_number(value) == shown
