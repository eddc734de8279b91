"""API errors as JSON that says what went wrong.

Only errors whose meaning is known are mapped: validation (400, naming the field), a conflict
with an existing record (409), a locked database (503 with Retry-After) and a full disk (507);
bad JSON is refused by the parser (opsdesk.core.api.parsers) with a 400. Anything else stays a
500, so a real bug shows up in the tests' "no 5xx" checks instead of passing for bad input.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from opsdesk.core.views.errors import (
    LOCKED,
    RETRY_AFTER_SECONDS,
    database_trouble,
    log_trouble,
    trouble_message,
    trouble_status,
)


def _django_validation_detail(exc: DjangoValidationError) -> dict[str, Any]:
    if hasattr(exc, "error_dict"):
        return {("non_field_errors" if k == "__all__" else k): v for k, v in exc.message_dict.items()}
    return {"non_field_errors": exc.messages}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_validation_detail(exc))
    elif isinstance(exc, IntegrityError):
        # A uniqueness or reference rule the serializer could not see in advance.
        set_rollback()
        return Response({"non_field_errors": [_("This conflicts with an existing record.")]},
                        status=status.HTTP_409_CONFLICT)
    elif (kind := database_trouble(exc)) is not None:
        log_trouble(context["request"], kind, exc)
        set_rollback()
        response = Response({"detail": trouble_message(kind), "code": kind}, status=trouble_status(kind))
        if kind == LOCKED:
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    # None for anything DRF does not know either: DRF re-raises it and Django answers 500.
    return drf_exception_handler(exc, context)
