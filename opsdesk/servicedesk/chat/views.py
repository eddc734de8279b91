"""The callback endpoint: GET/POST /api/servicedesk/chat/<kind>/<token>/, one URL per
integration. The raw body is read here (Feishu signs the exact bytes); the vendor module
verifies and decrypts, the intake writes. Every refusal is a JSON {"detail": …} with 400, 401,
403 or 404, and writes nothing."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.views import APIView

from opsdesk.servicedesk import chat
from opsdesk.servicedesk.chat import base, intake
from opsdesk.servicedesk.chat.base import Callback, Handshake, Ignored, Refused
from opsdesk.servicedesk.chat.services import settings_of
from opsdesk.servicedesk.models.chat import ChatIntegration

MAX_BODY = 1024 * 1024
DETAIL = {"$ref": "#/components/schemas/ErrorDetail"}

ANSWER = inline_serializer("ChatCallbackAnswer", {
    "ok": serializers.BooleanField(),
    "state": serializers.CharField(help_text=_("ticketed, held (the group has no customer yet), ignored or "
                                               "duplicate")),
    "ticket": serializers.IntegerField(allow_null=True),
    "challenge": serializers.CharField(required=False, help_text=_("Feishu's URL check: the challenge, answered.")),
})


class ForVendors(permissions.BasePermission):
    """The vendors call anonymously: the URL's token and the vendor's signature are the check.
    The view has no authentication, so a request is always anonymous here; a person's own API
    schema leaves the operation out (it is the vendors'), the public schema keeps it."""

    def has_permission(self, request, view) -> bool:
        return not (request.user and request.user.is_authenticated)


def _refused(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


KIND = OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["dingtalk", "feishu", "wecom"])
RESPONSES = {
    200: OpenApiResponse(ANSWER, description=_("Received (or, for WeCom, an empty body; for a URL check, the "
                                               "vendor's answer).")),
    400: OpenApiResponse(DETAIL, description=_("The body is malformed; nothing was stored.")),
    401: OpenApiResponse(DETAIL, description=_("The signature, token or timestamp is wrong, or the request is a "
                                               "replay; nothing was stored.")),
    403: OpenApiResponse(DETAIL, description=_("The integration is disabled, or the message was encrypted for "
                                               "another receiver.")),
    404: OpenApiResponse(DETAIL, description=_("Not the callback URL of a chat integration.")),
}


class ChatCallbackView(APIView):
    authentication_classes: list = []
    permission_classes = [ForVendors]

    def take(self, request, kind: str, token: str):
        integration = ChatIntegration.objects.filter(Q(url_token=token) & Q(kind=kind)).first() \
            if kind in chat.VENDORS and token else None
        if integration is None:
            return _refused(404, "Not the callback URL of a chat integration (or it was replaced).")
        if not integration.enabled:
            return _refused(403, "This chat integration is disabled.")
        length = int(request.META.get("CONTENT_LENGTH") or 0) if str(request.META.get("CONTENT_LENGTH") or "0") \
            .isdigit() else 0
        if length > MAX_BODY:
            return _refused(400, "The body is larger than 1 MB.")
        vendor = chat.get(kind)
        settings = settings_of(integration)
        callback = Callback(method=request.method, query={k: v for k, v in request.GET.items()},
                            headers={k.lower(): v for k, v in request.headers.items()},
                            body=request.body if request.method == "POST" else b"", now=base.now())
        try:
            result = vendor.receive(settings, callback)
            if isinstance(result, Handshake):
                return HttpResponse(result.body, content_type=result.content_type)
            if isinstance(result, Ignored):
                state, ticket = "ignored", None
            else:
                received = intake.receive(integration, result, api_base=settings.get("api_base", ""))
                state = "duplicate" if received.duplicate else received.message.state
                ticket = received.message.ticket_id
        except Refused as refused:
            return _refused(refused.status, refused.message)
        if vendor.empty_answer:
            return HttpResponse(b"", content_type="text/plain")
        return JsonResponse({"ok": True, "state": state, "ticket": ticket})

    @extend_schema(request=None, parameters=[KIND], responses=RESPONSES, auth=[],
                   summary=_("A chat vendor checks the callback URL (WeCom's echostr)"))
    def get(self, request, kind: str, token: str):
        return self.take(request, kind, token)

    @extend_schema(request={"application/json": OpenApiTypes.OBJECT}, parameters=[KIND], responses=RESPONSES, auth=[],
                   summary=_("A chat vendor delivers a group message (DingTalk, Feishu / Lark, WeCom)"))
    def post(self, request, kind: str, token: str):
        return self.take(request, kind, token)
