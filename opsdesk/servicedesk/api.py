"""The ticket API beyond the generic one (/api/servicedesk/tickets/ with its actions): a ticket's
conversation, files sent with a reply, and its SLA state. Customer users read only what the
portal shows them (public entries, their customer's tickets); writes go through services.py."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, parsers, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from opsdesk.core import registry
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for
from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import Ticket, TicketEntry

MAX_ID = 2**63 - 1


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    url = serializers.CharField(help_text=gettext_lazy("Where to download it (with the same credentials)."))


class EntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text=gettext_lazy("reply, note (staff only) or event."))
    public = serializers.BooleanField()
    author = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True, help_text=gettext_lazy("Sanitised HTML."))
    event = serializers.CharField(allow_blank=True)
    data = serializers.DictField()
    via = serializers.CharField()
    created_at = serializers.DateTimeField()
    attachments = AttachmentSerializer(many=True)


def entry_data(entry: TicketEntry) -> dict:
    return {"id": entry.pk, "kind": entry.kind, "public": entry.public,
            "author": str(entry.author or entry.author_name or entry.author_email or ""), "body": entry.body,
            "event": entry.event, "data": entry.data, "via": entry.via, "created_at": entry.created_at,
            "attachments": [{"id": a.pk, "name": a.name, "size": a.size, "content_type": a.content_type,
                             "url": reverse("servicedesk:attachment", args=[a.pk])} for a in entry.attachments.all()]}


class TicketScopedView(APIView):
    entry = None  # the ticket's registry entry: ActionPermission checks "view" on it

    def ticket(self, request, pk: int) -> Ticket:
        if not 0 < int(pk) <= MAX_ID:
            raise exceptions.NotFound()
        return get_object_or_404(scope_for(request.user, Ticket.objects.select_related("customer")), pk=pk)


class EntriesView(TicketScopedView):
    """The conversation of a ticket, oldest first; customer users get the public entries only."""

    @extend_schema(responses={200: EntrySerializer(many=True)}, summary=gettext_lazy("A ticket's conversation"))
    def get(self, request, pk: int):
        ticket = self.ticket(request, pk)
        entries = ticket.entries.select_related("author").prefetch_related("attachments").order_by("created_at", "id")
        if not request.user.is_staff_role:
            entries = entries.filter(public=True)
        return Response(EntrySerializer([entry_data(e) for e in entries[:1000]], many=True).data)


class AttachView(TicketScopedView):
    """Files (multipart `files`, repeated) with an optional text, as a reply or, for staff, a note."""

    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    @extend_schema(request=inline_serializer("TicketAttachRequest", {
        "files": serializers.ListField(child=serializers.FileField()),
        "body": serializers.CharField(required=False), "public": serializers.BooleanField(required=False)}),
        responses={201: EntrySerializer}, summary=gettext_lazy("Attach files to a ticket"))
    def post(self, request, pk: int):
        ticket = self.ticket(request, pk)
        public = str(request.data.get("public", "true")).lower() not in ("false", "0", "no")
        if not can(request.user, "reply" if public else "note", ticket):
            raise exceptions.PermissionDenied()
        try:
            entry = services.reply(ticket, actor=request.user, body=request.data.get("body", ""), public=public,
                                   files=request.FILES.getlist("files"), via="api")
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
        return Response(EntrySerializer(entry_data(entry)).data, status=201)


class SlaView(TicketScopedView):
    """The ticket's SLA now: its state, the nearest due date and the time left."""

    @extend_schema(responses={200: inline_serializer("TicketSla", {
        "state": serializers.CharField(help_text=gettext_lazy("Empty (no SLA), running, warning, breached, paused "
                                                              "or met.")),
        "due_at": serializers.DateTimeField(allow_null=True),
        "seconds_left": serializers.IntegerField(allow_null=True, help_text=gettext_lazy(
            "Business seconds left on the nearest clock; negative when breached.")),
        "paused": serializers.BooleanField(), "breached": serializers.BooleanField(),
        "fallback_notice": serializers.CharField(allow_blank=True),
        "clocks": inline_serializer("TicketSlaClock", {
            "kind": serializers.CharField(), "state": serializers.CharField(),
            "due_at": serializers.DateTimeField(allow_null=True), "seconds_left": serializers.IntegerField(),
            "stopped_at": serializers.DateTimeField(allow_null=True)}, many=True)})},
        summary=gettext_lazy("A ticket's SLA state"))
    def get(self, request, pk: int):
        from django.utils import timezone

        from opsdesk.servicedesk.sla.summary import sla_summary

        summary = sla_summary(self.ticket(request, pk), timezone.now())
        keys = ("state", "due_at", "seconds_left", "paused", "breached", "fallback_notice")
        return Response({**{k: summary[k] for k in keys},
                         "clocks": [{k: c[k] for k in ("kind", "state", "due_at", "seconds_left", "stopped_at")}
                                    for c in summary["clocks"]]})


def api_urls() -> list:
    entry = registry.get(Ticket)
    for view in (EntriesView, AttachView, SlaView):
        view.entry = entry
    return [
        path("servicedesk/tickets/<int:pk>/entries/", EntriesView.as_view(), name="servicedesk-ticket-entries"),
        path("servicedesk/tickets/<int:pk>/attachments/", AttachView.as_view(), name="servicedesk-ticket-attach"),
        path("servicedesk/tickets/<int:pk>/sla/", SlaView.as_view(), name="servicedesk-ticket-sla"),
    ]
