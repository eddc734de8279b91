"""Request middleware: the person's time zone, the audit actor, and staff two-factor."""

from __future__ import annotations

import zoneinfo

from auditlog.context import set_extra_data
from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject


class UserPreferencesMiddleware:
    """Times are stored in UTC and shown in the person's own time zone."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        name = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        try:
            timezone.activate(zoneinfo.ZoneInfo(name or settings.OPSDESK_TIME_ZONE))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
            timezone.activate(zoneinfo.ZoneInfo(settings.OPSDESK_TIME_ZONE))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class AuditActorMiddleware:
    """Attributes audit rows to the person behind the request.

    django-auditlog's own middleware reads request.user before Django REST framework has
    authenticated an API token, so token changes would have no actor. Here the actor is read
    lazily, when the first audit row is written, by which time DRF has set request.user.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        remote_addr = request.META.get("REMOTE_ADDR")

        def actor():
            user = getattr(request, "user", None)
            return user if user is not None and user.is_authenticated else None

        context = {"actor": SimpleLazyObject(actor), "remote_addr": remote_addr, "remote_port": None}
        with set_extra_data(context_data=context):
            return self.get_response(request)


class StaffTwoFactorMiddleware:
    """With OPSDESK_REQUIRE_2FA_FOR_STAFF, staff who have not enrolled a TOTP device are sent to
    enrol before they can use anything else."""

    # Not /api/: a token request has no session user here (DRF authenticates it later), and a
    # session user who has not enrolled must not reach the API through the session either.
    ALLOWED = ("/account/two-factor/", "/logout/", "/static/", "/i18n/", "/healthz", "/metrics")

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            settings.OPSDESK_REQUIRE_2FA_FOR_STAFF
            and user is not None
            and user.is_authenticated
            and getattr(user, "is_staff_role", False)
            and not request.path.startswith(self.ALLOWED)
            and not user.is_verified()
        ):
            return redirect(reverse("two_factor"))
        return self.get_response(request)


class DatabaseTroubleMiddleware:
    """A view that fails because the database is locked (503 + Retry-After) or the disk is full
    (507) answers with a page that says so; every other exception goes on to the 500 handler.

    API views answer these themselves (opsdesk.core.api.exceptions); errors raised outside a
    view reach opsdesk.core.views.errors.server_error, which tells them apart the same way.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception: Exception):
        from opsdesk.core.views.errors import database_trouble, trouble_response

        kind = database_trouble(exception)
        if kind is None:
            return None
        return trouble_response(request, kind, exception)
