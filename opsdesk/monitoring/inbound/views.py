"""The inbound endpoints: POST /api/monitoring/inbound/<kind>/ for Alertmanager, Zabbix and the
generic webhook (the integration's token as `Authorization: Bearer …` or `?token=`), and
GET/POST /api/monitoring/heartbeat/<token>/[start|fail] for heartbeats.

The body is read here (orjson), not by DRF's parsers: senders are loose about Content-Type
(a Zabbix script, a curl line), and the error must name the field of the sender's payload."""

from __future__ import annotations

from typing import Any

import orjson
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import authentication, exceptions, permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from opsdesk.core.api.authentication import bearer_token
from opsdesk.core.api.parsers import MAX_DEPTH, nesting_exceeds
from opsdesk.monitoring.inbound import Inbound, Invalid, services
from opsdesk.monitoring.inbound.docs import AlertmanagerPayload, ZabbixPayload
from opsdesk.monitoring.models import InboundIntegration, IntegrationKind

MAX_BODY = 2 * 1024 * 1024  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE default; larger is refused by it
DETAIL = {"$ref": "#/components/schemas/ErrorDetail"}
VALIDATION = {"$ref": "#/components/schemas/ValidationError"}


class IntegrationTokenAuthentication(authentication.BaseAuthentication):
    """An inbound integration's token, as `Authorization: Bearer <token>` or `?token=<token>`
    (for senders that cannot set a header). The request is the sender, not a person."""

    def authenticate(self, request):
        header = bearer_token(request, ("bearer",))
        query = request.query_params.get("token")
        if header is None and not query:
            return None
        integration = services.authenticate(header, query)
        if integration is None:
            raise exceptions.AuthenticationFailed(_("The integration token is not valid or was replaced."))
        return AnonymousUser(), integration

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="inbound"'


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = "opsdesk.monitoring.inbound.views.IntegrationTokenAuthentication"
    name = "integrationToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "An inbound integration's token, shown when it was made (or ?token=)"}


class IsIntegration(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, InboundIntegration)


class ForSenders(permissions.BasePermission):
    """Anyone may ping (the token in the path is the check); the view has no authentication, so a
    request is always anonymous here. A person's own API schema leaves the operation out: it is
    for scripts, and stays in the public schema."""

    def has_permission(self, request, view) -> bool:
        return not (request.user and request.user.is_authenticated)


class ReceivedSerializer(serializers.Serializer):
    firing = serializers.IntegerField(help_text=_("Firing alerts in the message."))
    resolved = serializers.IntegerField(help_text=_("Resolutions in the message."))
    ignored = serializers.IntegerField(help_text=_("Messages that carry no fault (a Zabbix update, a start)."))
    fired = serializers.IntegerField(help_text=_("Alerts that fired now (the others were already open)."))


def _raw_body(request) -> bytes:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise exceptions.ValidationError({"body": [_("The body is larger than 2 MB.")]})
    try:
        return request.body
    except RequestDataTooBig:
        raise exceptions.ValidationError({"body": [_("The body is larger than 2 MB.")]}) from None


def json_body(request) -> Any:
    raw = _raw_body(request)
    if not raw.strip():
        raise exceptions.ValidationError({"body": [_("A JSON body is required.")]})
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise exceptions.ValidationError({"body": [_("The body is not valid JSON: %(error)s") % {"error": exc}]}) \
            from None
    if isinstance(data, dict | list) and nesting_exceeds(data, MAX_DEPTH):
        raise exceptions.ValidationError({"body": [_("The JSON is nested more than %(limit)d levels deep.") % {
            "limit": MAX_DEPTH}]})
    return data


def _receive(integration: InboundIntegration, inbound: Inbound) -> Response:
    if not integration.enabled:
        raise exceptions.PermissionDenied(_("This integration is disabled."))
    try:
        received = services.receive(integration, inbound)
    except Invalid as exc:
        raise exceptions.ValidationError(exc.errors) from None
    return Response(ReceivedSerializer(received.as_dict()).data)


TOKEN_PARAMETER = OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                                   description=_("The integration's token, for senders that cannot set the "
                                                 "Authorization header."))


def _responses(kind_help: str) -> dict:
    return {
        200: ReceivedSerializer,
        400: OpenApiResponse(VALIDATION, description=_("The body is malformed (the reason names the field); "
                                                       "nothing was stored.")),
        401: OpenApiResponse(DETAIL, description=kind_help),
        403: OpenApiResponse(DETAIL, description=_("The integration is disabled.")),
    }


class InboundView(APIView):
    """One sender's endpoint; the subclass names the kind of integration it takes."""

    kind: str = ""
    authentication_classes = [IntegrationTokenAuthentication]
    permission_classes = [IsIntegration]

    def take(self, request) -> Response:
        integration: InboundIntegration = request.auth
        if integration.kind != self.kind:
            # The token is good, but for another sender: as unknown here as any other token.
            raise exceptions.AuthenticationFailed(_("This token belongs to an integration of another type."))
        return _receive(integration, Inbound(body=json_body(request), now=timezone.now()))


class AlertmanagerView(InboundView):
    """Prometheus Alertmanager's webhook (`webhook_configs`, payload version 4). Re-sends of an
    open alert make no new alert; a resolved alert resolves it."""

    kind = IntegrationKind.ALERTMANAGER

    @extend_schema(request=AlertmanagerPayload, parameters=[TOKEN_PARAMETER],
                   responses=_responses(_("No token, an unknown one, or one of another type of integration.")),
                   summary=_("Receive alerts from Prometheus Alertmanager"))
    def post(self, request):
        return self.take(request)


class ZabbixView(InboundView):
    """A Zabbix media type of type Webhook (its script is in docs/alerting.md): a problem
    (event_value 1) fires, its recovery (0, same event_id) resolves."""

    kind = IntegrationKind.ZABBIX

    @extend_schema(request=ZabbixPayload, parameters=[TOKEN_PARAMETER],
                   responses=_responses(_("No token, an unknown one, or one of another type of integration.")),
                   summary=_("Receive a problem or recovery from Zabbix"))
    def post(self, request):
        return self.take(request)


class WebhookView(InboundView):
    """Any JSON, read through the integration's field mapping."""

    kind = IntegrationKind.WEBHOOK

    @extend_schema(request={"application/json": OpenApiTypes.OBJECT}, parameters=[TOKEN_PARAMETER],
                   responses=_responses(_("No token, an unknown one, or one of another type of integration.")),
                   summary=_("Receive an alert through a generic JSON webhook"))
    def post(self, request):
        return self.take(request)


class HeartbeatView(APIView):
    """A cron job's or backup script's ping: GET or POST, the token in the path. `…/start` says a
    run began, `…/fail` that it failed (the body, such as its log, is kept with the alert)."""

    authentication_classes: list = []
    permission_classes = [ForSenders]
    signal = "ping"

    def get_authenticate_header(self, request) -> str:
        return 'Bearer realm="heartbeat"'

    def ping(self, request, token: str) -> Response:
        integration = services.authenticate(token)
        if integration is None or integration.kind != IntegrationKind.HEARTBEAT:
            raise exceptions.AuthenticationFailed(_("This is not the URL of a heartbeat (or its token was replaced)."))
        body = _raw_body(request)[:20_000].decode(errors="replace") if request.method == "POST" else ""
        return _receive(integration, Inbound(body=body, now=timezone.now(), signal=self.signal))

    @extend_schema(request=None, responses=_responses(_("Not the URL of a heartbeat.")), auth=[],
                   summary=_("Ping a heartbeat"))
    def get(self, request, token: str):
        return self.ping(request, token)

    @extend_schema(request={"text/plain": OpenApiTypes.STR}, responses=_responses(_("Not the URL of a heartbeat.")),
                   auth=[], summary=_("Ping a heartbeat (the body is kept with a failure)"))
    def post(self, request, token: str):
        return self.ping(request, token)


class HeartbeatStartView(HeartbeatView):
    signal = "start"


class HeartbeatFailView(HeartbeatView):
    signal = "fail"


def inbound_urls() -> list:
    return [
        path("monitoring/inbound/alertmanager/", AlertmanagerView.as_view(), name="monitoring-inbound-alertmanager"),
        path("monitoring/inbound/zabbix/", ZabbixView.as_view(), name="monitoring-inbound-zabbix"),
        path("monitoring/inbound/webhook/", WebhookView.as_view(), name="monitoring-inbound-webhook"),
        path("monitoring/heartbeat/<str:token>/", HeartbeatView.as_view(), name="monitoring-heartbeat"),
        path("monitoring/heartbeat/<str:token>/start/", HeartbeatStartView.as_view(),
             name="monitoring-heartbeat-start"),
        path("monitoring/heartbeat/<str:token>/fail/", HeartbeatFailView.as_view(), name="monitoring-heartbeat-fail"),
    ]
