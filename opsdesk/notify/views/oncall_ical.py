"""A person's on-call shifts as an iCalendar feed, at a signed URL that calendar apps subscribe to
without logging in (a bad or revoked token is 404: nothing tells whether a person exists)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from opsdesk.core.permissions import STAFF
from opsdesk.notify import ical


@require_GET
def oncall_ical(request, token: str):
    user = ical.user_for_token(token)
    if user is None or user.role not in STAFF:
        raise Http404
    response = HttpResponse(ical.user_calendar(user), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="oncall.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
