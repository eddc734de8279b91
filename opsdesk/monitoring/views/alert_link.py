"""The link in a notification: acknowledge or resolve an alert without logging in, for a limited
time (the signed token is the permission; the action is the same one the alert's page runs)."""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from opsdesk.monitoring.alerting import lifecycle, messages
from opsdesk.monitoring.models import OPEN_STATES, Alert, AlertState

VIA = "signed link"


@require_http_methods(["GET", "POST"])
def alert_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        alert_id = messages.read_link(token)
    except signing.SignatureExpired:
        return render(request, "monitoring/alert_link.html", {"problem": _(
            "This link has expired. Open the alert in opsdesk to acknowledge it.")}, status=410)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return render(request, "monitoring/alert_link.html", {"problem": _("This link is not valid.")}, status=404)
    alert = Alert.objects.select_related("customer", "configuration_item").filter(pk=alert_id).first()
    if alert is None:
        return render(request, "monitoring/alert_link.html", {"problem": _("This alert no longer exists.")},
                      status=404)
    done = ""
    if request.method == "POST":
        what = request.POST.get("action")
        actor = request.user if request.user.is_authenticated else None
        try:
            if what == "acknowledge":
                lifecycle.acknowledge(alert, actor=actor, via=_("from a notification's link"))
                done = _("Acknowledged. The escalation has stopped.")
            elif what == "resolve":
                lifecycle.resolve(alert, actor=actor, via=_("from a notification's link"))
                done = _("Resolved.")
        except (ValidationError, PermissionDenied) as exc:
            done = " ".join(getattr(exc, "messages", [str(exc)]))
        alert.refresh_from_db()
    return render(request, "monitoring/alert_link.html", {
        "alert": alert, "done": done, "can_acknowledge": alert.state == AlertState.FIRING,
        "can_resolve": alert.state in OPEN_STATES})
