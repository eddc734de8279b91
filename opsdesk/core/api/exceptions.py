"""Every API error is a 4xx JSON body that names the field, never a 500 for bad input."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _django_validation_detail(exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        return {("non_field_errors" if k == "__all__" else k): v for k, v in exc.message_dict.items()}
    return {"non_field_errors": exc.messages}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_validation_detail(exc))
    elif isinstance(exc, IntegrityError):
        # A uniqueness or reference rule the serializer could not see in advance.
        return Response({"non_field_errors": [_("This conflicts with an existing record.")]},
                        status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, (ValueError, TypeError, OverflowError)) and not isinstance(exc, Http404):
        return Response({"detail": _("The request could not be understood: %(error)s") % {"error": exc}},
                        status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
