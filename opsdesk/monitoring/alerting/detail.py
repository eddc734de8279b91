"""What the alert's page shows beside its fields: the timeline, and the chart of the alert's series
around the time it fired (shaded, with the threshold as a dashed line)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for
from opsdesk.monitoring import panels
from opsdesk.monitoring.models import Alert, Series

CHART_BEFORE = dt.timedelta(hours=1)
CHART_AFTER = dt.timedelta(minutes=30)


def detail_context(request, alert: Alert) -> dict[str, Any]:
    events = list(alert.events.select_related("actor").order_by("at", "id"))
    context: dict[str, Any] = {"timeline": events, "board": None}
    series = None
    if alert.series_id and can(request.user, "view", Series):
        series = scope_for(request.user, Series.objects.filter(pk=alert.series_id)).first()
    if series is not None:
        chart = panels.Chart(f"alert{alert.pk}", str(series), panels.unit_of(series.name))
        chart.add(series, str(series))
        spec = chart.as_dict()
        spec["mark"] = {"from": alert.started_at.timestamp(),
                        "to": alert.resolved_at.timestamp() if alert.resolved_at else None,
                        "threshold": alert.threshold}
        board = panels.chart_context([], f"alert{alert.pk}")
        import json

        board.update({"charts": [spec], "charts_json": json.dumps([spec], ensure_ascii=False),
                      "start": int((alert.started_at - CHART_BEFORE).timestamp()),
                      "end": int(((alert.resolved_at or alert.last_seen_at) + CHART_AFTER).timestamp())})
        context["board"] = board
    return context
