"""Several actions in one transaction (opsdesk.core.actions.unit_of_work): no savepoint per
action, and an error anywhere rolls back the whole unit."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opsdesk.core.actions import domain_action, unit_of_work
from opsdesk.core.models import Customer

pytestmark = pytest.mark.django_db


def add_customer(code: str) -> None:
    with domain_action(None, "add", Customer):
        Customer.objects.create(code=code, name=code)


def savepoints(ctx: CaptureQueriesContext) -> int:
    return sum(1 for q in ctx.captured_queries if q["sql"].startswith("SAVEPOINT"))


def test_an_action_inside_a_unit_takes_no_savepoint_of_its_own():
    with CaptureQueriesContext(connection) as alone:
        add_customer("ALONE")
    with CaptureQueriesContext(connection) as inside, unit_of_work():
        add_customer("IN1")
        add_customer("IN2")
    # The test's own transaction makes each atomic block a savepoint: one for the action alone,
    # one for the whole unit of two actions.
    assert (savepoints(alone), savepoints(inside)) == (1, 1)
    assert Customer.objects.filter(code__in=["ALONE", "IN1", "IN2"]).count() == 3


def test_an_error_in_a_later_action_rolls_back_the_earlier_ones():
    with pytest.raises(RuntimeError), unit_of_work():
        add_customer("FIRST")
        with domain_action(None, "add", Customer):
            raise RuntimeError("the second action fails")
    assert not Customer.objects.filter(code="FIRST").exists()
    add_customer("AFTER")  # the connection is usable again
    assert Customer.objects.filter(code="AFTER").exists()
