"""GET /api/monitoring/query/ (samples of series, for charts) and GET /api/monitoring/status/
(each item's monitoring state).

Both serve a person and go through scope_for: a series or item of a customer the person may not
reach answers 404, exactly as one that does not exist (never its data, never a 403 that would
tell it exists). Every bad parameter is a 400 that names it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from typing import Any

import orjson
from django.conf import settings
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, renderers, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core import registry
from opsdesk.core.scoping import scope_for
from opsdesk.monitoring.models import STATE_SEVERITY, Check, CheckState, Series
from opsdesk.monitoring.panels import with_status, worst_state
from opsdesk.monitoring.store import choose_step, get_store
from opsdesk.monitoring.store.base import RAW

MAX_SERIES = 50
MAX_RANGE_DAYS = 400
DEFAULT_RANGE = 3600.0
# A step that would give more points than this per series is refused (the automatic one gives
# about 1,500).
MAX_POINTS = 20_000
MAX_ID = 2**63 - 1
# Unix seconds between 1970 and the end of year 9999 (what a datetime can hold).
LAST_SECOND = 253_402_300_799
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _person_zone(user) -> dt.tzinfo:
    """The time zone a time without an offset is read in: the person's own (as their pages show)."""
    name = getattr(user, "time_zone", "") or settings.OPSDESK_TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        return zoneinfo.ZoneInfo(settings.OPSDESK_TIME_ZONE)


def parse_time(value: str, zone: dt.tzinfo) -> float:
    """Unix seconds from Unix seconds or an ISO 8601 date or time (in `zone` without an offset).
    Raises ValueError with the reason."""
    text = value.strip()
    if NUMBER.fullmatch(text):
        seconds = float(text)
        if not math.isfinite(seconds) or not 0 <= seconds <= LAST_SECOND:
            raise ValueError(_("Unix time must be between 0 and %(last)s.") % {"last": LAST_SECOND})
        return seconds
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is not None:
                moment = dt.datetime.combine(day, dt.time())
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(_("Give an ISO 8601 time (2026-01-31T08:00:00+08:00) or Unix seconds."))
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError):
        raise ValueError(_("Give an ISO 8601 time (2026-01-31T08:00:00+08:00) or Unix seconds.")) from None


def _ids(values: list[str], field: str, limit: int | None) -> list[int]:
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or not 0 < int(part) <= MAX_ID:
                raise exceptions.ValidationError({field: [_("“%(value)s” is not an id.") % {"value": part[:40]}]})
            if int(part) not in ids:
                ids.append(int(part))
    if limit is not None and len(ids) > limit:
        raise exceptions.ValidationError({field: [_("At most %(max)s series in one query.") % {"max": limit}]})
    return ids


def given_times(params, user) -> tuple[dict[str, float], dict[str, list[str]]]:
    """The `start` and `end` the query gives, read in the person's time zone, and an error for
    each one that is no time."""
    zone = _person_zone(user)
    errors: dict[str, list[str]] = {}
    times: dict[str, float] = {}
    for name in ("start", "end"):
        raw = params.get(name, "")
        if raw.strip():
            try:
                times[name] = parse_time(raw, zone)
            except ValueError as exc:
                errors[name] = [str(exc)]
    return times, errors


def query_range(params, user) -> tuple[float, float, int | None]:
    """(start, end, step) of a query, checked; the last hour by default."""
    times, errors = given_times(params, user)
    step: int | None = None
    raw_step = params.get("step", "").strip()
    if raw_step:
        if not raw_step.isdigit() or not 0 < int(raw_step) <= MAX_RANGE_DAYS * 86400:
            errors["step"] = [_("The step is a number of seconds from 1 to %(max)s.") % {"max": MAX_RANGE_DAYS * 86400}]
        else:
            step = int(raw_step)
    if errors:
        raise exceptions.ValidationError(errors)
    now = timezone.now().timestamp()
    if "end" in times:
        end = times["end"]
    elif "start" in times and times["start"] >= now:
        end = times["start"] + DEFAULT_RANGE
    else:
        end = now
    start = times.get("start", end - DEFAULT_RANGE)
    if end <= start:
        raise exceptions.ValidationError({"end": [_("The end must be after the start.")]})
    if end - start > MAX_RANGE_DAYS * 86400:
        raise exceptions.ValidationError({"start": [_("The range may be at most %(days)s days.") %
                                                    {"days": MAX_RANGE_DAYS}]})
    chosen = choose_step(start, end, step)
    if chosen != RAW and (end - start) / chosen > MAX_POINTS:
        raise exceptions.ValidationError({"step": [_("This step gives more than %(max)s points per series; "
                                                     "take a larger one.") % {"max": MAX_POINTS}]})
    return start, end, step


# --- the query ------------------------------------------------------------------------------------

class PointsField(serializers.ListField):
    child = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)


class QuerySeriesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text=gettext_lazy("The metric."))
    labels = serializers.DictField(child=serializers.CharField())
    item = serializers.IntegerField(help_text=gettext_lazy("The configuration item's id."))
    step = serializers.IntegerField(help_text=gettext_lazy("0: raw samples; else the seconds each point "
                                                           "summarises (a rollup)."))
    points = PointsField(help_text=gettext_lazy("[Unix time, average, minimum, maximum], oldest first; "
                                                "raw samples have the three values equal."))


class QueryAnswerSerializer(serializers.Serializer):
    start = serializers.FloatField(help_text=gettext_lazy("The range's start (Unix time)."))
    end = serializers.FloatField(help_text=gettext_lazy("The range's end (Unix time)."))
    series = QuerySeriesSerializer(many=True)


TIME_HELP = gettext_lazy("ISO 8601 (a time without an offset is in the person's time zone) or Unix seconds.")


class FastJSONRenderer(renderers.JSONRenderer):
    """JSON by orjson: a 30-day board of 16 series is 46,000 numbers, which the standard library
    writes in about 45 ms and orjson in 7 (bench/chart.py)."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=str)


class QueryView(APIView):
    """Samples of up to 50 series between `start` and `end` (the last hour by default), at the
    resolution the range needs (the store's choose_step): raw samples for short ranges, then
    5-minute and hourly rollups (average, minimum and maximum of each bucket), a couple of
    thousand points at most unless `step` asks for another. A series the person may not see is
    404, as one that does not exist."""

    entry = None  # set by query_urls(): the series' entry decides who may read
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter("series", OpenApiTypes.INT, many=True, required=True, explode=True,
                             description=gettext_lazy("A series id; repeat for more (at most 50).")),
            OpenApiParameter("start", OpenApiTypes.STR, description=TIME_HELP),
            OpenApiParameter("end", OpenApiTypes.STR, description=TIME_HELP),
            OpenApiParameter("step", OpenApiTypes.INT, description=gettext_lazy(
                "Seconds per point (the resolution is chosen from the range when left out).")),
        ],
        responses={200: QueryAnswerSerializer}, summary=gettext_lazy("Samples of series"),
    )
    def get(self, request):
        ids = _ids(request.query_params.getlist("series"), "series", MAX_SERIES)
        if not ids:
            raise exceptions.ValidationError({"series": [_("Give at least one series id.")]})
        start, end, step = query_range(request.query_params, request.user)
        found = {s.pk: s for s in scope_for(request.user, Series.objects.filter(pk__in=ids))
                 .only("id", "name", "labels", "configuration_item_id")}
        missing = [i for i in ids if i not in found]
        if missing:
            raise exceptions.NotFound(_("No series with the id %(ids)s.") % {"ids": ", ".join(map(str, missing[:10]))})
        ordered = [found[i] for i in ids]
        data = get_store().query([(s.pk, s.name, s.labels) for s in ordered], start, end, step)
        body: list[dict[str, Any]] = []
        for s in ordered:
            answer = data.get(s.pk)
            points = list(zip(answer.ts, answer.avg, answer.min, answer.max, strict=True)) \
                if answer is not None else []
            body.append({"id": s.pk, "name": s.name, "labels": s.labels, "item": s.configuration_item_id,
                         "step": answer.step if answer is not None else choose_step(start, end, step),
                         "points": points})
        return Response({"start": start, "end": end, "series": body})


# --- the status -----------------------------------------------------------------------------------

STATE_CHOICES = [*CheckState.values]


class CountsSerializer(serializers.Serializer):
    critical = serializers.IntegerField()
    unknown = serializers.IntegerField()
    warning = serializers.IntegerField()
    ok = serializers.IntegerField()
    pending = serializers.IntegerField()


class ItemStatusSerializer(serializers.Serializer):
    item = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    customer = serializers.IntegerField(source="customer_id")
    state = serializers.SerializerMethodField(help_text=gettext_lazy("The worst state of its checks; null "
                                                                     "without checks."))
    checks = serializers.IntegerField(source="n_checks")
    counts = serializers.SerializerMethodField()
    last_data_at = serializers.SerializerMethodField(help_text=gettext_lazy("The time of its newest sample."))

    @extend_schema_field(serializers.ChoiceField(choices=STATE_CHOICES, allow_null=True))
    def get_state(self, obj) -> str | None:
        return worst_state(obj.severity)

    @extend_schema_field(CountsSerializer)
    def get_counts(self, obj) -> dict[str, int]:
        return {state: getattr(obj, f"n_{state}") for state in CheckState.values}

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_last_data_at(self, obj) -> str | None:
        if obj.last_data_ts is None:
            return None
        return serializers.DateTimeField().to_representation(dt.datetime.fromtimestamp(obj.last_data_ts, tz=dt.UTC))


class StatusView(generics.ListAPIView):
    """Each configuration item the person may see, worst state first: the worst state of its
    checks, how many checks are in each state, and when its newest sample came. `item` asks for
    one item (404 when the person may not see it)."""

    entry = None  # set by query_urls(): the check's entry decides who may read
    serializer_class = ItemStatusSerializer
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter("item", OpenApiTypes.INT, description=gettext_lazy("One configuration item's id.")),
            OpenApiParameter("customer", OpenApiTypes.INT, description=gettext_lazy("The items of one customer.")),
            OpenApiParameter("state", OpenApiTypes.STR, enum=[*STATE_CHOICES, "none"],
                             description=gettext_lazy("Only items whose worst state is this (none: without "
                                                      "checks).")),
        ],
        summary=gettext_lazy("Monitoring state of items"),
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        items = scope_for(self.request.user, ConfigurationItem.objects.all())
        item_ids = _ids(params.getlist("item"), "item", 1)
        customer_ids = _ids(params.getlist("customer"), "customer", 1)
        state = params.get("state", "")
        if state and state not in (*STATE_CHOICES, "none"):
            raise exceptions.ValidationError({"state": [_("Choose one of: %(states)s.") %
                                                        {"states": ", ".join([*STATE_CHOICES, "none"])}]})
        if item_ids:
            items = items.filter(pk=item_ids[0])
            if not items.exists():
                raise exceptions.NotFound(_("No configuration item with this id."))
        if customer_ids:
            items = items.filter(customer_id=customer_ids[0])
        items = with_status(items.order_by())
        if state == "none":
            items = items.filter(severity=-1)
        elif state:
            items = items.filter(severity=STATE_SEVERITY[CheckState(state)])
        return items.order_by("-severity", "name", "pk")


def query_urls() -> list:
    QueryView.entry = registry.get(Series)
    StatusView.entry = registry.get(Check)
    return [path("monitoring/query/", QueryView.as_view(), name="monitoring-query"),
            path("monitoring/status/", StatusView.as_view(), name="monitoring-status")]
