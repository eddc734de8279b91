from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from opsdesk.core import services


def bearer_token(request, keywords: tuple[str, ...]) -> str | None:
    """The raw token of an `Authorization: <keyword> <token>` header, or None when the header is
    absent or names another scheme (so another authentication class may try). A malformed header
    of ours is refused with 401."""
    header = authentication.get_authorization_header(request).split()
    if not header or header[0].lower().decode(errors="replace") not in keywords:
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed(_("The Authorization header must be 'Bearer <token>'."))
    try:
        return header[1].decode()
    except UnicodeError:
        raise exceptions.AuthenticationFailed(_("The token is not valid.")) from None


def speak_their_language(request, user) -> None:
    """Answer a token's owner in their own language (errors name the field in it), unless the
    client asked for one with Accept-Language: a script has no login cookie to carry it."""
    if request.META.get("HTTP_ACCEPT_LANGUAGE") or not getattr(user, "language", ""):
        return
    translation.activate(user.language)
    request.LANGUAGE_CODE = translation.get_language()


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer opd_…` (or `Token opd_…`) with a personal API token."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        raw = bearer_token(request, self.keywords)
        if raw is None:
            return None
        token = services.authenticate_token(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(_("The token is not valid, has expired or was revoked."))
        speak_their_language(request, token.user)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "opsdesk.core.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Personal API token (opd_…)"}
