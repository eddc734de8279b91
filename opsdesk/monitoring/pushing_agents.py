"""The agent a push comes from, by its token: looked up with one plain query and kept a few
seconds per process (the push's fast route asks for it on every push)."""

from __future__ import annotations

import time
from typing import Any

from django.db import connection

from opsdesk.core.models.tokens import hash_token
from opsdesk.monitoring.models import Agent

_AGENT_ROW = (f"SELECT id, customer_id, configuration_item_id, kind, central, forgotten_up_to "
              f"FROM {Agent._meta.db_table} WHERE key_hash = %s")

# Pushing agents by their token's hash, for a few seconds: the look-up was a query a push (a
# round trip, and about a tenth of the push's CPU, web and database together). The price: an
# agent deleted in another web process pushes for at most this long (in this one it goes at once:
# `forget_pushing_agents`), and a re-send of a batch forgotten within it (filing.forget_filed,
# batches filed a day ago) would be stored again.
AGENT_CACHE_SECONDS = 5.0
AGENT_CACHE_LIMIT = 100_000
_agents_by_token: dict[str, tuple[float, Agent]] = {}


def forget_pushing_agents(**_kwargs: Any) -> None:
    """Let go of the cached agents (an agent was saved or deleted in this process)."""
    _agents_by_token.clear()


def pushing_agent(authorization: str) -> Agent | None:
    """The agent of `Authorization: Bearer <token>`, read with one plain query (the ORM's
    `filter().first()` cost 0.5 ms of CPU a push) and kept for AGENT_CACHE_SECONDS, or None for
    anything else: no header, another scheme, a malformed header or an unknown token are all
    answered by DRF's authentication. The agent answered is shared: never changed by its caller."""
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    key = hash_token(parts[1])
    now = time.monotonic()
    found = _agents_by_token.get(key)
    if found is not None and now - found[0] < AGENT_CACHE_SECONDS:
        return found[1]
    with connection.cursor() as cursor:
        cursor.execute(_AGENT_ROW, [key])
        row = cursor.fetchone()
    if row is None:
        _agents_by_token.pop(key, None)
        return None
    agent_id, customer_id, item_id, kind, central, forgotten_up_to = row
    agent = Agent(id=agent_id, customer_id=customer_id, configuration_item_id=item_id, kind=kind,
                  central=bool(central), forgotten_up_to=forgotten_up_to)
    if len(_agents_by_token) >= AGENT_CACHE_LIMIT:
        _agents_by_token.clear()
    _agents_by_token[key] = (now, agent)
    return agent
