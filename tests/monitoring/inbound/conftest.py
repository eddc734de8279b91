"""Inbound integrations made through their domain function (the raw token is shown once), and a
sender posting to the real endpoints."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from opsdesk.monitoring.inbound import services
from opsdesk.monitoring.models import InboundIntegration


class Sender:
    def __init__(self, integration: InboundIntegration) -> None:
        self.integration = integration
        self.token = integration.raw_token
        self.client = APIClient()

    def post(self, body: Any, *, kind: str | None = None, token: str | None = None, query: bool = False):
        url = f"/api/monitoring/inbound/{kind or self.integration.kind}/"
        raw = body if isinstance(body, bytes | str) else json.dumps(body)
        if query:
            return self.client.post(f"{url}?token={token or self.token}", data=raw, content_type="application/json")
        return self.client.post(url, data=raw, content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {token or self.token}")


def make_integration(customer, kind: str, **data: Any) -> InboundIntegration:
    return services.create_integration({"customer": customer, "name": data.pop("name", f"{kind} in"), "kind": kind,
                                        **data}, actor=None)


@pytest.fixture
def sender_for():
    def make(customer, kind: str, **data: Any) -> Sender:
        return Sender(make_integration(customer, kind, **data))
    return make
