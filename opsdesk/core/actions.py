"""The frame of every domain action (Zulip's do_* functions): permission, one transaction, the
audit row with the actor, and events sent only after the commit.

    def deactivate_user(user, *, actor):
        with domain_action(actor, "deactivate", user):
            user.is_active = False
            user.save(update_fields=["is_active"])

Audit rows written inside carry the actor and the action's name (in `additional_data`), so the
log says "alice: deactivate" whether the change came from a page, the API, a task or a command.
A person is refused with PermissionDenied before anything is written; `actor=None` is the
system itself (migrations, the worker's own bookkeeping) and is not checked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from auditlog.context import auditlog_value, call_context_manager
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import pre_save
from django.dispatch import Signal, receiver
from django.utils.translation import gettext as _

from opsdesk.core.permissions import can

# The name of the domain action running now, written into each audit row it causes.
_current_action: ContextVar[str] = ContextVar("opsdesk_action", default="")

# Sent after the commit of every domain action: sender=model class, obj, action, actor.
object_changed = Signal()

# True inside `unit_of_work()`: the actions share its transaction instead of each taking a
# savepoint of its own.
_in_unit_of_work: ContextVar[bool] = ContextVar("opsdesk_unit_of_work", default=False)


class ActionContext:
    def __init__(self, actor, action: str, obj: Model | type[Model]) -> None:
        self.actor, self.action, self.obj = actor, action, obj
        self._events: list[tuple[Any, ...]] = []

    def emit(self, signal: Signal, **kwargs: Any) -> None:
        """Send `signal` after the transaction commits (never for a rolled-back change)."""
        self._events.append((signal, kwargs))

    def audit(self, obj: Model, changes: dict[str, list[Any]] | None = None, **extra: Any) -> None:
        """An explicit audit row, for an action that changes no audited column (unlocking a
        login, sending a message): `changes` maps a field to [before, after]."""
        from auditlog.models import LogEntry

        LogEntry.objects.log_create(
            obj, force_log=True, action=LogEntry.Action.UPDATE, changes=changes or {},
            actor=self.actor if self.actor is not None and self.actor.pk else None,
            additional_data={"action": self.action, **extra})


def permission_denied() -> PermissionDenied:
    return PermissionDenied(_("You do not have permission to do this."))


@contextlib.contextmanager
def acting_as(actor, action: str = "") -> Iterator[None]:
    """Attribute audit rows written inside to `actor`, and name the action; restores the
    surrounding context (the request's) afterwards."""
    try:
        previous = auditlog_value.get()
    except LookupError:
        previous = None
    data: dict[str, Any] = {"actor": actor if actor is not None and getattr(actor, "pk", None) else None}
    if previous:
        data.update({k: v for k, v in previous.items() if k in ("remote_addr", "remote_port")})
    token = _current_action.set(action or _current_action.get())
    # auditlog sets its context variable and never resets it: take a token first, so that
    # afterwards the variable is exactly as it was (unset, or the request's), and no actor of
    # this action lingers for whatever runs next in this thread.
    restore = auditlog_value.set(data)
    try:
        with contextlib.contextmanager(call_context_manager)(data):
            yield
    finally:
        _current_action.reset(token)
        auditlog_value.reset(restore)


@receiver(pre_save, sender="auditlog.LogEntry")
def _name_the_action(sender, instance, **kwargs) -> None:
    action = _current_action.get()
    if action and not instance.additional_data:
        instance.additional_data = {"action": action}


@contextlib.contextmanager
def unit_of_work() -> Iterator[None]:
    """One transaction for several actions that stand or fall together (a mail filed: the ticket,
    its acknowledgement, the mail's own row). Inside it an action takes no savepoint of its own,
    two round trips to the database fewer each; an error in any of them rolls back the whole
    unit, so the caller must not catch an action's error inside the block and carry on."""
    with transaction.atomic():
        token = _in_unit_of_work.set(True)
        try:
            yield
        finally:
            _in_unit_of_work.reset(token)


@contextlib.contextmanager
def domain_action(actor, action: str, obj: Model | type[Model], *, check: bool = True) -> Iterator[ActionContext]:
    if check and actor is not None and not can(actor, action, obj):
        raise permission_denied()
    context = ActionContext(actor, action, obj)
    with acting_as(actor, action), transaction.atomic(savepoint=not _in_unit_of_work.get()):
        yield context
        target = context.obj
        model = target if isinstance(target, type) else type(target)

        def send() -> None:
            object_changed.send(sender=model, obj=target, action=action, actor=actor)
            for signal, kwargs in context._events:
                signal.send(sender=model, **kwargs)

        transaction.on_commit(send)
