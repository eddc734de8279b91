"""Macros (canned replies): their text with the ticket's variables filled in, rendered in
Jinja2's sandbox (people write macros; a template must not reach anything but what it is given)."""

from __future__ import annotations

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from opsdesk.servicedesk.models import Macro, Ticket

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def variables(ticket: Ticket, agent) -> dict:
    requester = ticket.requester or ticket.requester_user
    return {
        "ticket": {"number": ticket.pk, "title": ticket.title, "status": str(ticket.get_status_display()),
                   "priority": str(ticket.get_priority_display())},
        "customer": {"name": ticket.customer.name, "code": ticket.customer.code},
        "requester": {"name": getattr(requester, "name", None) or (str(requester) if requester else "")},
        "agent": {"name": agent.get_full_name() or agent.username, "email": agent.email},
    }


def render(macro: Macro, ticket: Ticket, agent) -> str:
    """The macro's text for this ticket; a broken macro answers its text unfilled with the error
    in front, so the engineer sees what to fix instead of a failed page."""
    try:
        return _env.from_string(macro.body).render(**variables(ticket, agent))
    except TemplateError as exc:
        return f"[{exc}]\n{macro.body}"
