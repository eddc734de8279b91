"""The generated pages of schedules and escalation policies (and of their rotations, members,
overrides and steps), narrowed to what the person may see: an engineer the schedules and
policies of their teams (and those of no team), administrators and managers every one."""

from __future__ import annotations

from django.db.models import QuerySet

from opsdesk.core.views.generic import GENERATED_VIEWS
from opsdesk.notify.oncall_services import visible_policies, visible_schedules


def _narrowed(kind: str, path: str, of_policy: bool):
    base = GENERATED_VIEWS[kind]

    def base_queryset(self) -> QuerySet:
        qs = base.base_queryset(self)
        visible = (visible_policies if of_policy else visible_schedules)(self.request.user)
        if path == "pk":
            return qs.filter(pk__in=visible.values("pk"))
        return qs.filter(**{f"{path}__in": visible.values("pk")})

    return type(f"Team{base.__name__}", (base,), {"base_queryset": base_queryset})


def team_views(path: str, *, of_policy: bool = False) -> dict[str, type]:
    """Every generated view of a model, its queryset narrowed through `path` (the lookup from the
    model to its schedule, or to its policy with of_policy)."""
    return {kind: _narrowed(kind, path, of_policy) for kind in GENERATED_VIEWS}
