"""Schemathesis generates requests from /api/schema/ for every operation: none may answer 5xx,
every status answered is one the schema documents for the operation, and every body matches
the documented schema.
A bounded number of examples per operation keeps `make test` fast; raise OPSDESK_SCHEMATHESIS_EXAMPLES
for a deeper run."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from opsdesk.core import services
from opsdesk.wsgi import application
from tests.factories import ConfigurationItemFactory, ContractFactory, CredentialFactory, SiteFactory

EXAMPLES = int(os.environ.get("OPSDESK_SCHEMATHESIS_EXAMPLES", "4"))
# The coverage phase sends thousands of boundary-value requests (80+ s here): `make test` runs the
# schema's examples and bounded fuzzing; OPSDESK_SCHEMATHESIS_COVERAGE=1 adds the coverage phase.
CONFIG = schemathesis.Config()
CONFIG.projects.default.phases.update(
    phases=["examples", "fuzzing", *(["coverage"] if os.environ.get("OPSDESK_SCHEMATHESIS_COVERAGE") else [])])


@pytest.fixture
def api_schema(db):
    # Requests go straight into the WSGI app, inside the test's transaction. Django's own test
    # client stops request signals from closing the connection; do the same, or PostgreSQL's
    # connection is closed under the open transaction after the first request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def token(admin, customer_a):
    # Some data, so that generated ids and filters sometimes hit real rows.
    site = SiteFactory(customer=customer_a)
    ConfigurationItemFactory(customer=customer_a, site=site)
    ContractFactory(customer=customer_a)
    CredentialFactory(customer=customer_a)
    return services.create_token(admin, name="schemathesis", write=True)[1]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_every_answer_is_documented_and_none_is_5xx(case, token):
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                           checks=[not_a_server_error, status_code_conformance, response_schema_conformance])
