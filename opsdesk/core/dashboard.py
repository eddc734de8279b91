"""Dashboard widgets: each app contributes through a registered provider, so core never
imports the apps to its right."""

from __future__ import annotations

from collections.abc import Callable

_providers: list[Callable] = []


def provider(func: Callable) -> Callable:
    _providers.append(func)
    return func


def widgets(request) -> list[dict]:
    out: list[dict] = []
    for func in _providers:
        out.extend(func(request))
    return out
