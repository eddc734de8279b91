"""Error pages: JSON for the API, the normal page layout elsewhere."""

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return render(request, "errors/404.html", status=404)


def forbidden(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": _("You do not have permission to do this.")}, status=403)
    return render(request, "errors/403.html", {"reason": str(exception or "")}, status=403)


def server_error(request):
    if _wants_json(request):
        return JsonResponse({"detail": _("Internal error.")}, status=500)
    return render(request, "errors/500.html", status=500)
