"""GET /api/monitoring/items/{id}/availability/ and /api/monitoring/checks/{id}/availability/:
time in each state over a period, maintenance apart, the availability and the down and
maintenance periods.

Scoped like the other monitoring endpoints: an item or check the person may not see answers 404,
as one that does not exist. A bad `start` or `end` is a 400 that names it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import path
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core import registry
from opsdesk.core.scoping import scope_for
from opsdesk.monitoring.api.query import MAX_ID, TIME_HELP, given_times
from opsdesk.monitoring.availability.compute import BUCKETS, Availability, Span, to_datetime
from opsdesk.monitoring.availability.load import history
from opsdesk.monitoring.models import Check

DEFAULT_DAYS = 30
MAX_DAYS = 400


# --- the answer ---------------------------------------------------------------------------------

class SpanSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class SecondsSerializer(serializers.Serializer):
    ok = serializers.FloatField()
    warning = serializers.FloatField()
    critical = serializers.FloatField(help_text=gettext_lazy("Down: critical outside maintenance."))
    unknown = serializers.FloatField()
    no_data = serializers.FloatField(help_text=gettext_lazy("Before the first result, while disabled, or "
                                                            "in the future."))
    maintenance = serializers.FloatField(help_text=gettext_lazy("Inside maintenance windows, whatever the state."))


class AvailabilityFields(serializers.Serializer):
    availability_percent = serializers.FloatField(
        allow_null=True, help_text=gettext_lazy("100 × (1 − critical ÷ (period − maintenance − no data)); null "
                                                "when nothing was measured."))
    seconds = SecondsSerializer(help_text=gettext_lazy("Seconds of the period in each bucket (they add up to "
                                                       "the period)."))
    down = SpanSerializer(many=True, help_text=gettext_lazy("Critical periods outside maintenance."))
    maintenance = SpanSerializer(many=True, help_text=gettext_lazy("Maintenance periods inside the period."))


class CheckAvailabilitySerializer(AvailabilityFields):
    check = serializers.IntegerField()
    name = serializers.CharField()
    item = serializers.IntegerField(help_text=gettext_lazy("The configuration item's id."))
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class ItemCheckSerializer(AvailabilityFields):
    check = serializers.IntegerField()
    name = serializers.CharField()


class ItemAvailabilitySerializer(AvailabilityFields):
    item = serializers.IntegerField()
    name = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    checks = ItemCheckSerializer(many=True, help_text=gettext_lazy("Each check's own availability; the item's is "
                                                                   "the worst of them at each moment."))


def _spans(spans: list[Span]) -> list[dict[str, dt.datetime]]:
    return [{"start": to_datetime(a), "end": to_datetime(b)} for a, b in spans]


def fields_of(result: Availability) -> dict[str, Any]:
    percent = result.percent
    return {"availability_percent": None if percent is None else round(percent, 4),
            "seconds": {bucket: round(result.seconds[bucket], 3) for bucket in BUCKETS},
            "down": _spans(result.down), "maintenance": _spans(result.maintenance)}


# --- the period -----------------------------------------------------------------------------------

def period(params, user) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) from the query (the last 30 days by default), or a 400 naming the field."""
    times, errors = given_times(params, user)
    if errors:
        raise exceptions.ValidationError(errors)
    end = times.get("end", timezone.now().timestamp())
    start = times.get("start", end - DEFAULT_DAYS * 86400)
    if end <= start:
        raise exceptions.ValidationError({"end": [_("The end must be after the start.")]})
    if end - start > MAX_DAYS * 86400:
        raise exceptions.ValidationError({"start": [_("The range may be at most %(days)s days.") % {"days": MAX_DAYS}]})
    return to_datetime(start), to_datetime(end)


PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.STR, description=format_lazy(
        "{} {}", gettext_lazy("The period's start (30 days before the end by default)."), TIME_HELP)),
    OpenApiParameter("end", OpenApiTypes.STR, description=format_lazy(
        "{} {}", gettext_lazy("The period's end (now by default)."), TIME_HELP)),
]


def _visible(user, queryset, pk: int, message: str):
    found = scope_for(user, queryset).filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if found is None:
        raise exceptions.NotFound(message)
    return found


# --- the views ------------------------------------------------------------------------------------

class ItemAvailabilityView(APIView):
    """A configuration item's availability over a period: at each moment the worst state of its
    checks; critical is down, maintenance windows (of the item or of its whole customer) and time
    without data are left out. With each check's own."""

    entry = None  # set by availability_urls(): the check's entry decides who may read

    @extend_schema(parameters=PARAMETERS, responses={200: ItemAvailabilitySerializer},
                   summary=gettext_lazy("Availability of a configuration item"))
    def get(self, request, pk: int):
        start, end = period(request.query_params, request.user)
        item = _visible(request.user, ConfigurationItem.objects.only("id", "name", "customer_id"), pk,
                        _("No configuration item with this id."))
        checks = list(scope_for(request.user, Check.objects.filter(configuration_item=item)).order_by("name"))
        loaded = history(checks, start, end)
        body = {"item": item.pk, "name": item.name, "start": start, "end": end,
                **fields_of(loaded.of_item(item.pk, item.customer_id)),
                "checks": [{"check": c.pk, "name": c.name, **fields_of(loaded.of_check(c))} for c in checks]}
        return Response(ItemAvailabilitySerializer(body).data)


class CheckAvailabilityView(APIView):
    """A check's availability over a period: critical is down, maintenance windows of its item or
    customer and time without data are left out."""

    entry = None  # set by availability_urls()

    @extend_schema(parameters=PARAMETERS, responses={200: CheckAvailabilitySerializer},
                   summary=gettext_lazy("Availability of a check"))
    def get(self, request, pk: int):
        start, end = period(request.query_params, request.user)
        check = _visible(request.user, Check.objects.all(), pk, _("No check with this id."))
        result = history([check], start, end).of_check(check)
        body = {"check": check.pk, "name": check.name, "item": check.configuration_item_id, "start": start,
                "end": end, **fields_of(result)}
        return Response(CheckAvailabilitySerializer(body).data)


def availability_urls() -> list:
    ItemAvailabilityView.entry = registry.get(Check)
    CheckAvailabilityView.entry = registry.get(Check)
    return [path("monitoring/items/<int:pk>/availability/", ItemAvailabilityView.as_view(),
                 name="monitoring-item-availability"),
            path("monitoring/checks/<int:pk>/availability/", CheckAvailabilityView.as_view(),
                 name="monitoring-check-availability")]
