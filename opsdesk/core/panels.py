"""Panels on detail pages, declared through the registry so any app can add one to any model's
page (the CMDB adds its items to the customer page without core knowing the CMDB)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.db.models import Model, QuerySet
from django.urls import reverse

from opsdesk.core import registry
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for

LIST_TEMPLATE = "generic/_panel_list.html"


def add_link(request, model: type[Model], label, **initial: Any) -> dict | None:
    """An "add" link to a model's form, pre-filled and coming back to this page, if the person
    may add one."""
    if not can(request.user, "add", model):
        return None
    query = urlencode({**{k: getattr(v, "pk", v) for k, v in initial.items()}, "next": request.get_full_path()})
    return {"url": f"{reverse(registry.get(model).url_name('add'))}?{query}", "label": label, "icon": "bi-plus-lg"}


def related_list(model: type[Model], rows: Callable[[Any, Model], QuerySet], *, describe: Callable[[Model], str],
                 empty, add_label=None, add_initial: Callable[[Model], dict] | None = None,
                 limit: int = 10) -> Callable[[Any, Model], dict | None]:
    """The context function of a panel listing related objects (scoped to the person), with an
    "add" link and a hint when there are none."""

    def context(request, obj: Model) -> dict | None:
        if not can(request.user, "view", model):
            return None
        entry = registry.get(model)
        qs = scope_for(request.user, rows(request, obj))
        items = [{"object": o, "url": reverse(entry.url_name("detail"), args=[o.pk]), "note": describe(o)}
                 for o in qs[:limit]]
        links = []
        if add_label is not None:
            link = add_link(request, model, add_label, **(add_initial(obj) if add_initial else {}))
            if link:
                links.append(link)
        return {"items": items, "empty": empty, "links": links, "more": qs.count() > limit if items else False}

    return context
