from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from opsdesk.core.models import ApiToken
from opsdesk.core.permissions import can

# DRF's viewset actions and the registry's action each one is.
VIEWSET_ACTIONS = {"list": "view", "retrieve": "view", "create": "add", "update": "change",
                   "partial_update": "change", "destroy": "delete"}


def action_of(view) -> str:
    name = getattr(view, "action", None) or ""
    return VIEWSET_ACTIONS.get(name, name or "view")


class ActionPermission(permissions.BasePermission):
    """`can(user, action, model)` before the request and `can(user, action, obj)` on the object;
    a read-only token may only read. Which rows are reachable at all is decided by scoping, so
    another customer's object is 404 before it is 403."""

    message = _("You do not have permission to do this.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method not in permissions.SAFE_METHODS and isinstance(request.auth, ApiToken) \
                and not request.auth.write:
            self.message = _("This token is read-only.")
            return False
        entry = getattr(view, "entry", None)
        if entry is None:
            return bool(getattr(user, "is_staff_role", False))
        return can(user, action_of(view), entry.model)

    def has_object_permission(self, request, view, obj) -> bool:
        return can(request.user, action_of(view), obj)
