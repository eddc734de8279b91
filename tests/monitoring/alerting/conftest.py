"""Alerting tests push samples through the real push API and file them with the real filer;
notifications are rows (sending them is notify's, tested there)."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from opsdesk.core.models.tokens import new_raw_token
from opsdesk.monitoring import filing
from opsdesk.monitoring.alerting import evaluate, rules
from opsdesk.notify.models import Channel
from tests.factories import make_agent

T0 = 1_764_000_000.0


@pytest.fixture(autouse=True)
def _fresh_caches():
    filing._series_ids.clear()
    evaluate._item_kinds.clear()
    rules.forget()
    yield
    filing._series_ids.clear()
    evaluate._item_kinds.clear()
    rules.forget()


class Host:
    """An agent of a host item, pushing with increasing sequence numbers."""

    def __init__(self, customer) -> None:
        raw = new_raw_token()
        self.agent = make_agent(customer, raw=raw)
        self.item = self.agent.configuration_item
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        self.seq = 0

    def push(self, name: str, value: float, ts: float, labels: dict | None = None) -> None:
        self.seq += 1
        body = {"seq": self.seq, "samples": [{"name": name, "labels": labels or {}, "value": value, "ts": ts}]}
        response = self.client.post("/api/monitoring/push/", data=json.dumps(body), content_type="application/json")
        assert response.status_code == 200, response.content

    def file(self, name: str, value: float, ts: float, labels: dict | None = None) -> None:
        self.push(name, value, ts, labels)
        filing.file_pass()


@pytest.fixture
def host(customer_a):
    return Host(customer_a)


@pytest.fixture
def group_channel(customer_a):
    """A customer's chat group (a signed webhook here) that a rule also posts to."""
    return Channel.objects.create(customer=customer_a, name="ops group", kind="webhook",
                                  config={"url": "http://127.0.0.1:9/hook"})
