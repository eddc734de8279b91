"""Who may do what: the roles, and `can(user, action, obj_or_model)`, the one permission check.

An action is "view", "add", "change", "delete" or a named domain action a model declares in the
registry. A role may do it when the model's registry entry says so; on an object, the object
must also be within the person's customers (opsdesk.core.scoping) and the action must apply to
its current state. Views, the API, bulk edit and the services all ask here and nowhere else.
"""

from __future__ import annotations

from django.db.models import Model

ADMIN, MANAGER, ENGINEER, CUSTOMER = "admin", "manager", "engineer", "customer"
STAFF = frozenset({ADMIN, MANAGER, ENGINEER})
ALL_ROLES = STAFF | {CUSTOMER}
MANAGERS = frozenset({ADMIN, MANAGER})
ADMINS = frozenset({ADMIN})

READ_ACTIONS = frozenset({"view"})


def is_active_user(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def can(user, action: str, target: Model | type[Model]) -> bool:
    """May `user` do `action` on `target` (an object, or a model for "add" and lists)?"""
    from opsdesk.core import registry
    from opsdesk.core.scoping import object_in_scope

    if not is_active_user(user):
        return False
    model = target if isinstance(target, type) else type(target)
    entry = registry.find(model)
    if entry is None or getattr(user, "role", None) not in entry.roles_for(action):
        return False
    if isinstance(target, type):
        return True
    named = entry.action(action)
    if named is not None and not named.applies_to(target, user):
        return False
    return object_in_scope(user, target, write=action not in READ_ACTIONS)
