"""POST /api/monitoring/push/ (an agent's batches) and POST /api/monitoring/enrol/ (a new agent)."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from opsdesk.core.api.parsers import JSONParser
from opsdesk.core.fast_routes import DECLINED, FastAnswer
from opsdesk.monitoring import forwarding, ingest, services
from opsdesk.monitoring.api.authentication import AgentTokenAuthentication, IsAgent
from opsdesk.monitoring.pushing_agents import pushing_agent
from opsdesk.monitoring.store.base import MetricStoreError

log = logging.getLogger(__name__)

MAX_SAMPLES = 10_000
MAX_LABELS = 32
MAX_NAME = 200
MAX_LABEL_VALUE = 200
NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
MAX_SEQ = 2**63 - 1


def _name_ok(value: str) -> bool:
    return NAME_RE.fullmatch(value) is not None


class FiniteNumberField(serializers.FloatField):
    """A JSON number (not a string, not a boolean) that is finite."""

    default_error_messages = {
        "invalid": _("A number is required."),
        "finite": _("The number must be finite."),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        if isinstance(data, float) and not math.isfinite(data):
            self.fail("finite")
        try:
            value = float(data)
        except OverflowError:
            self.fail("finite")
        if not math.isfinite(value):
            self.fail("finite")
        return data


class StrictCharField(serializers.CharField):
    """A JSON string only (DRF's CharField would take a number and make it a string)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class LabelsField(serializers.DictField):
    child = StrictCharField(max_length=MAX_LABEL_VALUE, allow_blank=True, trim_whitespace=False)

    default_error_messages = {
        "too_many": _("At most {max} labels are allowed."),
        "bad_label": _("Label names must match [a-zA-Z_:][a-zA-Z0-9_:]* and have at most 200 characters."),
    }

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > MAX_LABELS:
            self.fail("too_many", max=MAX_LABELS)
        if any(len(key) > MAX_NAME or not _name_ok(key) for key in value):
            self.fail("bad_label")
        return value


class SampleSerializer(serializers.Serializer):
    name = StrictCharField(max_length=MAX_NAME, trim_whitespace=False,
                           help_text=_("Matches [a-zA-Z_:][a-zA-Z0-9_:]*."))
    labels = LabelsField(help_text=_("At most 32 labels; values of at most 200 characters."))
    value = FiniteNumberField()
    ts = FiniteNumberField(help_text=_("Unix time in seconds."))

    def validate_name(self, value: str) -> str:
        if not _name_ok(value):
            raise serializers.ValidationError(_("The name must match [a-zA-Z_:][a-zA-Z0-9_:]*."))
        return value


class SamplesField(serializers.ListField):
    """A list of samples whose errors are keyed by the index of each bad sample."""

    child = SampleSerializer()
    default_error_messages = {"too_many": _("At most {max} samples are allowed in one batch.")}

    def to_internal_value(self, data):
        if isinstance(data, (str, dict)) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        if len(data) > MAX_SAMPLES:
            self.fail("too_many", max=MAX_SAMPLES)
        return super().to_internal_value(data)


class PushSerializer(serializers.Serializer):
    seq = StrictIntegerField(min_value=1, max_value=MAX_SEQ, help_text=_("The batch's sequence number."))
    sent_at = FiniteNumberField(required=False, help_text=_("When the agent sent it (Unix time)."))
    samples = SamplesField(max_length=MAX_SAMPLES)


class StoredSerializer(serializers.Serializer):
    stored_up_to = serializers.IntegerField(help_text=_("The agent may forget its batches up to this number."))


class AgentJSONParser(JSONParser):
    """Takes NaN and Infinity (Python's json writes them, and so may an agent), so that the
    batch's validation can name the sample and the field instead of refusing the whole body."""

    strict = False


VALIDATION = {"$ref": "#/components/schemas/ValidationError"}
DETAIL = {"$ref": "#/components/schemas/ErrorDetail"}


class SeriesSerializer(serializers.Serializer):
    name = StrictCharField(max_length=MAX_NAME)
    labels = LabelsField()
    points = serializers.ListField(child=serializers.ListField(child=FiniteNumberField(), min_length=2,
                                                                   max_length=2),
                                   help_text=_("[Unix time, value] pairs."))


class CheckSampleSerializer(serializers.Serializer):
    name = StrictCharField(max_length=MAX_NAME)
    labels = LabelsField()
    value = FiniteNumberField()


class CheckResultSerializer(serializers.Serializer):
    id = StrictIntegerField(min_value=1, help_text=_("The check's id (one this collector runs)."))
    state = serializers.ChoiceField(choices=["ok", "warning", "critical", "unknown"])
    ts = FiniteNumberField(help_text=_("When it ran (Unix time)."))
    code = StrictCharField(max_length=40, required=False, allow_blank=True)
    message = StrictCharField(max_length=500, required=False, allow_blank=True)
    params = serializers.DictField(required=False)
    samples = CheckSampleSerializer(many=True, required=False)


class PushDocumentation(PushSerializer):
    """What the push takes (for the schema; ingest.validate checks it, much faster)."""

    samples = SamplesField(max_length=MAX_SAMPLES, required=False,
                           help_text=_("One object per sample (host agents)."))
    series = SeriesSerializer(many=True, required=False, help_text=_("Samples grouped per series."))
    columns = serializers.ListField(
        child=serializers.ListField(min_length=4, max_length=4), required=False,
        help_text=_("Samples as columns, per series: [name, {labels}, [Unix times], [values]] (host agents; "
                    "the cheapest form to check and store)."))
    checks = CheckResultSerializer(many=True, required=False, help_text=_("Check results (collectors)."))


PUSH_PATH = "/api/monitoring/push/"


BEHIND = _("Samples are being filed more slowly than they arrive: send this batch again in a second.")


def _fast_refusal(environ: dict, make: Callable[[], exceptions.APIException]) -> FastAnswer | None:
    """A refused push (the 429 while filing is behind, the 503 of a store that did not take the
    samples) answered as DRF's way answers `make()`'s error (PushView.post), for a request that
    asks for no language (agents): the site's language then, as Django's locale middleware would
    choose. A request that asks for one is answered by Django's way. While pushes are refused,
    every push is, and Django's handling cost each of them 3-4 ms of CPU (a quarter of the web
    process' work in a PostgreSQL run of bench/ingest.py under back-pressure)."""
    if environ.get("HTTP_ACCEPT_LANGUAGE"):
        return None
    with translation.override(settings.LANGUAGE_CODE):
        error = make()
        detail = str(error.detail)
    status = HTTPStatus(error.status_code)
    return FastAnswer(f"{status.value} {status.phrase}", orjson.dumps({"detail": detail}),
                      (("Retry-After", str(error.wait)),))


def _throttled() -> exceptions.Throttled:
    return exceptions.Throttled(wait=1, detail=str(BEHIND))


UNAVAILABLE = _("The metric store did not take the samples (%(reason)s): nothing was stored; send this batch "
                "again shortly.")
BUSY = _("This batch is being stored by an earlier request: send it again in a second.")
UNAVAILABLE_RETRY_SECONDS = 5


class StoreUnavailable(exceptions.APIException):
    """503: the metric store did not take a forwarded batch, or the batch is being answered."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"

    def __init__(self, detail: str, wait: int) -> None:
        super().__init__(detail)
        self.wait = wait  # DRF's exception handler answers it as Retry-After


# While the metric store is away every push is refused, a fleet's hundreds a second: the log
# says so at most once a minute per process, with how many were refused in between.
REFUSALS_LOGGED_EVERY_SECONDS = 60.0
_refusals = {"logged_at": -1e9, "since": 0}


def _log_refusal(exc: Exception) -> None:
    now = time.monotonic()
    if now - _refusals["logged_at"] < REFUSALS_LOGGED_EVERY_SECONDS:
        _refusals["since"] += 1
        return
    more, _refusals["since"], _refusals["logged_at"] = _refusals["since"], 0, now
    log.warning("pushes are refused: the metric store did not take their samples (%d more refused since the "
                "last message): %s", more, exc)


def _unavailable(exc: Exception) -> StoreUnavailable:
    if isinstance(exc, forwarding.Busy):
        return StoreUnavailable(str(BUSY), 1)
    _log_refusal(exc)
    return StoreUnavailable(str(UNAVAILABLE) % {"reason": exc}, UNAVAILABLE_RETRY_SECONDS)


def push_answer(environ: dict, body: bytes) -> bytes | FastAnswer | None:
    """A good batch from a known agent, stored: the 200's body; while filing is behind, the 429.
    None for anything else, with nothing stored: DRF's way (PushView.post) answers it with the 400,
    401 or 415 it always did. The WSGI application offers every push here first, before Django's
    handler (opsdesk/core/fast_routes.py)."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/json"):
        return None
    agent = pushing_agent(environ.get("HTTP_AUTHORIZATION", ""))
    if agent is None:
        return None
    if services.filing_behind():
        return _fast_refusal(environ, _throttled)
    try:
        stored = services.accept_push(agent, body)
    except ingest.Invalid:
        return None
    except (MetricStoreError, forwarding.Busy) as exc:
        return _fast_refusal(environ, partial(_unavailable, exc))
    return orjson.dumps({"stored_up_to": stored})


class PushView(APIView):
    """Stores one batch of samples as received, at once and once: a re-sent batch (same sequence
    number) answers the same and is not stored twice. A malformed batch is refused whole (400,
    naming the field and the sample's index) and nothing is stored. The samples reach charts
    within seconds, when a worker files them; with VictoriaMetrics as the metric store, a host
    agent's samples are in it when the push answers (a 503 says it did not take them: nothing was
    stored, send the batch again).

    The hot endpoint of the application (every agent, every interval): a good batch from a known
    agent is answered without DRF's request, negotiation, authentication and rendering machinery
    (`dispatch` below: 3-4 ms of CPU a push before, most of it per request, not per sample; see
    docs/performance.md, "Monitoring ingest"). Every other request (no token or a wrong one,
    another content type or method, a malformed batch) goes DRF's way through `post`, which
    answers it exactly as before; the schema is `post`'s."""

    authentication_classes = [AgentTokenAuthentication]
    permission_classes = [IsAgent]
    # The body is read by ingest.parse (orjson), not by a parser: this only answers 415 for others.
    parser_classes = [AgentJSONParser]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Through the WSGI application the fast route has tried already (and declined); called
        # otherwise (Django's test client, another server setup), the view tries it itself.
        if request.method == "POST" and request.content_type.startswith("application/json") \
                and not request.META.get(DECLINED):
            answer = push_answer(request.META, request.body)
            if isinstance(answer, FastAnswer):
                response = HttpResponse(answer.body, content_type="application/json",
                                        status=int(answer.status.split()[0]))
                for name, value in answer.headers:
                    response[name] = value
                return response
            if answer is not None:
                return HttpResponse(answer, content_type="application/json")
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(request=PushDocumentation, responses={
        200: StoredSerializer,
        400: OpenApiResponse(VALIDATION, description=_("The batch is malformed; nothing was stored.")),
        401: OpenApiResponse(DETAIL, description=_("No agent token, or an unknown one.")),
        403: OpenApiResponse(DETAIL, description=_("An agent token is required.")),
        429: OpenApiResponse(DETAIL, description=_("Filing is behind: nothing was stored; send the batch again after "
                                                   "Retry-After seconds.")),
        503: OpenApiResponse(DETAIL, description=_("The metric store did not take the samples: nothing was stored; "
                                                   "send the batch again after Retry-After seconds.")),
    }, summary=_("Push a batch of samples"))
    def post(self, request):
        if not request.content_type.startswith("application/json"):
            raise exceptions.UnsupportedMediaType(request.content_type)
        if services.filing_behind():
            raise _throttled()
        try:
            stored = services.accept_push(request.auth, request.body)
        except ingest.Invalid as exc:
            raise exceptions.ValidationError(exc.errors) from None
        except (MetricStoreError, forwarding.Busy) as exc:
            raise _unavailable(exc) from None
        return Response({"stored_up_to": stored})


class InventorySerializer(serializers.Serializer):
    collected_at = FiniteNumberField(help_text=_("When the agent collected it (Unix time)."))
    hash = StrictCharField(max_length=64, required=False, help_text=_("The agent's digest of the inventory."))
    inventory = serializers.DictField(help_text=_("OS, kernel, CPUs, memory, disks, addresses, packages and "
                                                  "listening ports (see docs/agent.md)."))


class InventoryStoredSerializer(serializers.Serializer):
    stored = serializers.BooleanField(help_text=_("False when nothing changed since the last one."))


MAX_INVENTORY_BYTES = 8 * 1024 * 1024


class InventoryView(APIView):
    """A host agent's inventory: kept with its agent, and the item's OS, CPU and memory attributes
    follow it."""

    authentication_classes = [AgentTokenAuthentication]
    permission_classes = [IsAgent]
    parser_classes = [JSONParser]

    @extend_schema(request=InventorySerializer, responses={
        200: InventoryStoredSerializer,
        400: OpenApiResponse(VALIDATION, description=_("Invalid input: the body names each field.")),
        401: OpenApiResponse(DETAIL, description=_("No agent token, or an unknown one.")),
        403: OpenApiResponse(DETAIL, description=_("An agent token is required.")),
    }, summary=_("Send a host's inventory"))
    def post(self, request):
        if len(request.body) > MAX_INVENTORY_BYTES:
            raise exceptions.ValidationError({"inventory": [_("The inventory is larger than 8 MB.")]})
        incoming = InventorySerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            stored = services.store_inventory(request.auth, data["collected_at"], data["inventory"])
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        return Response({"stored": stored})


class ForAgents(BasePermission):
    """Anyone may try to enrol (the token is the check); the view has no authentication, so a
    request is always anonymous here. A person's own API schema leaves the operation out: it is
    for agents, and stays in the public schema."""

    def has_permission(self, request, view) -> bool:
        return not (request.user and request.user.is_authenticated)


class EnrolSerializer(serializers.Serializer):
    token = StrictCharField(max_length=200, help_text=_("The one-time enrolment token."))
    hostname = StrictCharField(max_length=200, help_text=_("The host's name; its configuration item has it."))
    os = StrictCharField(max_length=100, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=["host", "collector"], default="host",
                                   help_text=_("host: an agent on this host; collector: runs checks for the customer."))


class EnrolledSerializer(serializers.Serializer):
    agent = serializers.IntegerField()
    configuration_item = serializers.IntegerField(allow_null=True, help_text=_("None for a collector."))
    token = serializers.CharField(help_text=_("The agent's token, shown once."))


class EnrolView(APIView):
    """Spends a one-time enrolment token: the host's configuration item is found (by host name)
    or created, and the new agent's token is answered once."""

    authentication_classes: list = []
    permission_classes = [ForAgents]

    @extend_schema(request=EnrolSerializer, responses={
        201: EnrolledSerializer,
        400: OpenApiResponse(VALIDATION, description=_("Invalid input: the body names each field.")),
        403: OpenApiResponse(DETAIL, description=_("The enrolment token is not valid, has expired or was "
                                                   "already used.")),
    }, summary=_("Enrol an agent"), auth=[])
    def post(self, request):
        incoming = EnrolSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        attributes = {"os": data["os"]} if data.get("os") else {}
        try:
            agent, raw = services.enrol(data["token"], hostname=data["hostname"], attributes=attributes,
                                        kind=data["kind"])
        except services.EnrolmentRefused as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        body = EnrolledSerializer({"agent": agent.pk, "configuration_item": agent.configuration_item_id,
                                   "token": raw}).data
        return Response(body, status=status.HTTP_201_CREATED)


class CheckSpecSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    target = serializers.CharField()
    params = serializers.DictField()
    interval = serializers.FloatField()
    timeout = serializers.FloatField()
    secrets = serializers.DictField(child=serializers.CharField(),
                                    help_text=_("Decrypted credentials for the check: keep them in memory only."))


class CheckListSerializer(serializers.Serializer):
    checks = CheckSpecSerializer(many=True)


class CollectorChecksView(APIView):
    """The enabled checks a collector runs (those named for it), with their decrypted credentials:
    a collector inside a customer's network asks for them every refresh and pushes the results."""

    authentication_classes = [AgentTokenAuthentication]
    permission_classes = [IsAgent]

    @extend_schema(responses={
        200: CheckListSerializer,
        401: OpenApiResponse(DETAIL, description=_("No agent token, or an unknown one.")),
        403: OpenApiResponse(DETAIL, description=_("Only a collector runs checks.")),
    }, summary=_("Checks a collector runs"))
    def get(self, request):
        from dataclasses import asdict

        from opsdesk.monitoring.local import load_specs
        from opsdesk.monitoring.models import AgentKind

        if request.auth.kind != AgentKind.COLLECTOR:
            raise exceptions.PermissionDenied(_("Only a collector runs checks."))
        return Response({"checks": [asdict(spec) for spec in load_specs(request.auth)]})


def push_urls() -> list:
    return [
        path("monitoring/push/", PushView.as_view(), name="monitoring-push"),
        path("monitoring/enrol/", EnrolView.as_view(), name="monitoring-enrol"),
        path("monitoring/inventory/", InventoryView.as_view(), name="monitoring-inventory"),
        path("monitoring/collector/checks/", CollectorChecksView.as_view(), name="monitoring-collector-checks"),
    ]
