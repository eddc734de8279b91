"""An agent's bearer token. Used only by the push view: on every other endpoint an agent token is
just an unknown personal token (401)."""

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from opsdesk.core.api.authentication import bearer_token
from opsdesk.monitoring import services
from opsdesk.monitoring.models import Agent


class AgentTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <agent token>`. The request is the agent, not a person: request.user
    stays anonymous (nothing is attributed to a person) and request.auth is the Agent."""

    def authenticate(self, request):
        raw = bearer_token(request, ("bearer",))
        if raw is None:
            return None
        agent = services.authenticate_agent(raw)
        if agent is None:
            raise exceptions.AuthenticationFailed(_("The agent token is not valid or was revoked."))
        return AnonymousUser(), agent

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="agent"'


class IsAgent(permissions.BasePermission):
    message = _("An agent token is required.")

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Agent)


class AgentTokenScheme(OpenApiAuthenticationExtension):
    target_class = "opsdesk.monitoring.api.authentication.AgentTokenAuthentication"
    name = "agentToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An agent's token, given at enrolment"}
