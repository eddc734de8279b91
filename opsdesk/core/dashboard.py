"""Dashboard widgets: each app contributes panels through the registry, so core never imports
the apps to its right."""

from __future__ import annotations

from opsdesk.core.registry import registry


def widgets(request) -> list[dict]:
    out: list[dict] = []
    for panel in registry["dashboard_panels"]:
        out.extend(panel.render(request))
    return out
