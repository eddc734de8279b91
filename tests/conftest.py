"""Named people (Healthchecks' personas) and clients for them."""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

from opsdesk.core import services
from opsdesk.core.models import Role
from tests.factories import CustomerFactory, TeamFactory, UserFactory
from tests.queue_later import later  # noqa: F401 (a fixture: forwarded digests held until the test inserts them)
from tests.victoria import victoria  # noqa: F401 (a fixture, for the tests of both back ends and the agent)


def pytest_configure(config) -> None:
    # Compile the zh-Hans catalogue once, in the controller, before xdist workers start (two
    # workers writing the same .mo at once could corrupt it).
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        import django

        django.setup()
        from opsdesk.core.i18n import compile_translations

        compile_translations()


@pytest.fixture(autouse=True)
def _nothing_remembered_from_the_last_test():
    """The push's back-pressure look-up is remembered for a quarter second per process: one test's
    backlog must not refuse the next test's pushes."""
    from django.core.cache import cache

    from opsdesk.monitoring import filing, forwarding, last_values, pushing_agents, services

    services._backlog_seen = (-1e9, False)
    pushing_agents.forget_pushing_agents()  # nor the pushing agents (ids and tokens of another test)
    cache.clear()  # nor may a page kept in the cache (ids repeat from one test to the next)
    filing._series_ids.clear()  # nor the filer's series ids (the same)
    forwarding.forget()  # nor the push's (the same), nor the sequence numbers it queued
    last_values.forget()  # nor last values kept by an earlier test's filing
    yield
    services._backlog_seen = (-1e9, False)
    filing._series_ids.clear()
    forwarding.forget()


@pytest.fixture(autouse=True)
def _the_default_language_after_each_test():
    """A request through the test client runs in the test's thread, and the locale middleware
    leaves the language it chose active there: a test that asks for a page in Chinese must not
    make the next test in that process read Chinese messages."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture
def customer_a(db):
    return CustomerFactory(code="ALPHA", name="Alpha 阿尔法")


@pytest.fixture
def customer_b(db):
    return CustomerFactory(code="BETA", name="Beta 贝塔")


@pytest.fixture
def admin(db):
    return UserFactory(username="alice", role=Role.ADMIN)


@pytest.fixture
def manager(db):
    return UserFactory(username="mona", role=Role.MANAGER)


@pytest.fixture
def engineer(customer_a):
    """An engineer of the team that serves customer A (and no other customer)."""
    user = UserFactory(username="eric", role=Role.ENGINEER)
    team = TeamFactory(name="Team A")
    team.members.add(user)
    team.customers.add(customer_a)
    return user


@pytest.fixture
def engineer_of_b(customer_b):
    user = UserFactory(username="bea", role=Role.ENGINEER)
    team = TeamFactory(name="Team B")
    team.members.add(user)
    team.customers.add(customer_b)
    return user


@pytest.fixture
def customer_user(customer_a):
    return UserFactory(username="carl", role=Role.CUSTOMER, customer=customer_a)


@pytest.fixture
def other_customer_user(customer_b):
    return UserFactory(username="bob", role=Role.CUSTOMER, customer=customer_b)


def _client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(client, admin):
    return _client_for(client, admin)


@pytest.fixture
def engineer_client(client, engineer):
    return _client_for(client, engineer)


@pytest.fixture
def customer_client(client, customer_user):
    return _client_for(client, customer_user)


def api_client_for(user, *, write: bool = True) -> APIClient:
    _token, raw = services.create_token(user, name="test", write=write and user.role != Role.CUSTOMER)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


@pytest.fixture
def admin_api(admin):
    return api_client_for(admin)


@pytest.fixture
def customer_api(customer_user):
    return api_client_for(customer_user, write=False)


def pytest_collection_modifyitems(items) -> None:
    """A test that uses the database may use the queue of pushed metrics too: on SQLite that is a
    database of its own (opsdesk/monitoring/routers.py), which Django's test case otherwise keeps
    out of reach of a test that names no databases."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None:
            if "databases" not in marker.kwargs:
                item.add_marker(pytest.mark.django_db(*marker.args, databases="__all__", **marker.kwargs), append=False)
        elif "transactional_db" in item.fixturenames:
            item.add_marker(pytest.mark.django_db(transaction=True, databases="__all__"), append=False)
        elif "db" in item.fixturenames:
            item.add_marker(pytest.mark.django_db(databases="__all__"), append=False)
