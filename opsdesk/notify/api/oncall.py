"""GET /api/notify/oncall/now/: who is on call now, and next, in every schedule the person sees
(`?schedule=id` for one; a schedule they may not see is 404, as one that does not exist)."""

from __future__ import annotations

import datetime as dt

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from opsdesk.core import registry
from opsdesk.notify import oncall, oncall_services
from opsdesk.notify.models import ContactMethod, Schedule

MAX_ID = 2**63 - 1


class ContactSerializer(serializers.Serializer):
    kind = serializers.CharField()
    address = serializers.CharField(help_text=gettext_lazy("Email address or phone number; empty for a channel."))
    channel = serializers.CharField(allow_null=True, help_text=gettext_lazy("The channel's name, if any."))
    min_severity = serializers.CharField()


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    source = serializers.CharField(help_text=gettext_lazy("“override” or “layer N”."))
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    contacts = ContactSerializer(many=True)


class ScheduleNowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    team = serializers.CharField(allow_null=True)
    time_zone = serializers.CharField()
    on_call = PersonSerializer(many=True, help_text=gettext_lazy("Empty when nobody is on call."))
    next = PersonSerializer(allow_null=True, help_text=gettext_lazy("The next person to come on call."))


class OnCallNowAnswerSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    schedules = ScheduleNowSerializer(many=True)


def _person(shift: oncall.Shift, contacts: list[ContactMethod]) -> dict:
    user = shift.user
    return {"id": user.pk, "username": user.username, "name": user.get_full_name(), "email": user.email,
            "source": shift.source, "start": shift.start, "end": shift.end,
            "contacts": [{"kind": c.kind, "address": c.address or (user.email if c.kind == "email" else ""),
                          "channel": c.channel.name if c.channel else None, "min_severity": c.min_severity}
                         for c in contacts]}


class OnCallNowView(APIView):
    """Every schedule the person may see with who is on call at this moment (and since when, until
    when, through which layer or override) and who comes next, with their contact methods."""

    entry = None  # set by oncall_urls(): the schedule's entry decides who may read

    @extend_schema(
        parameters=[OpenApiParameter("schedule", OpenApiTypes.INT, description=gettext_lazy("One schedule's id."))],
        responses={200: OnCallNowAnswerSerializer}, summary=gettext_lazy("Who is on call now"),
    )
    def get(self, request):
        schedules = oncall_services.visible_schedules(request.user).select_related("team").order_by("name")
        raw = request.query_params.get("schedule", "").strip()
        if raw:
            if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
                raise exceptions.ValidationError({"schedule": [_("“%(value)s” is not an id.") % {"value": raw[:40]}]})
            schedules = schedules.filter(pk=int(raw))
            if not schedules.exists():
                raise exceptions.NotFound(_("No schedule with this id."))
        at = timezone.now()
        found = []
        for schedule in schedules:
            running = [s for s in oncall.shifts(schedule, at, at + dt.timedelta(days=35)) if s.start <= at]
            found.append((schedule, running, oncall.next_change(schedule, at)))
        users = {s.user.pk for _s, running, _n in found for s in running} | \
            {n.user.pk for _s, _r, n in found if n is not None}
        contacts: dict[int, list[ContactMethod]] = {pk: [] for pk in users}
        for method in ContactMethod.objects.filter(user__in=users, enabled=True).select_related("channel"):
            contacts[method.user_id].append(method)
        body = [{"id": s.pk, "name": s.name, "team": s.team.name if s.team else None, "time_zone": s.time_zone,
                 "on_call": [_person(shift, contacts[shift.user.pk]) for shift in running],
                 "next": _person(nxt, contacts[nxt.user.pk]) if nxt is not None else None}
                for s, running, nxt in found]
        return Response(OnCallNowAnswerSerializer({"at": at, "schedules": body}).data)


def oncall_urls() -> list:
    OnCallNowView.entry = registry.get(Schedule)
    return [path("notify/oncall/now/", OnCallNowView.as_view(), name="notify-oncall-now")]
