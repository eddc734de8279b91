"""Check results as the push API takes them (Django-free: the remote collector uses it too)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MAX_SAMPLES_PER_BATCH = 10_000


def record_to_result(record: Any) -> dict[str, Any]:
    """One engine RunRecord as an entry of a push's `checks` list."""
    result = record.result
    return {"id": record.spec_id, "state": result.state, "ts": record.finished_at, "code": result.code[:40],
            "message": result.message[:500], "params": result.params or {},
            "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in result.samples]}


def batches_of(results: list[dict[str, Any]], limit: int = MAX_SAMPLES_PER_BATCH) -> Iterator[dict[str, Any]]:
    """Results in push-sized bodies (at most `limit` samples each)."""
    body: list[dict[str, Any]] = []
    count = 0
    for result in results:
        size = len(result["samples"])
        if body and count + size > limit:
            yield {"checks": body}
            body, count = [], 0
        body.append(result)
        count += size
    if body:
        yield {"checks": body}
