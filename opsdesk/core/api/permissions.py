from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from opsdesk.core.models import ApiToken


class RolePermission(permissions.BasePermission):
    """Reads need a role allowed to view the model; writes a role allowed to edit it and, with a
    token, a read-write token. Which rows are reachable at all is decided by scoping."""

    message = _("You do not have permission to do this.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        entry = getattr(view, "entry", None)
        role = getattr(user, "role", None)
        if entry is None:
            return bool(getattr(user, "is_staff_role", False))
        if request.method in permissions.SAFE_METHODS:
            return role in entry.view_roles
        if isinstance(request.auth, ApiToken) and not request.auth.write:
            self.message = _("This token is read-only.")
            return False
        return role in entry.edit_roles
