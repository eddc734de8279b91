"""/api/schema/: a customer user's documentation has no write endpoints."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView


class SchemaView(SpectacularAPIView):
    """Anonymous readers get the whole public schema; a signed-in person the operations their
    role and token allow (drf-spectacular asks each view's permission)."""

    def _get_schema_response(self, request):
        self.serve_public = not (request.user and request.user.is_authenticated)
        return super()._get_schema_response(request)
