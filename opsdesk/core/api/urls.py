"""API routes generated from the model registry, plus the schema and Swagger UI."""

from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from opsdesk.core import registry
from opsdesk.core.api.schema_view import SchemaView
from opsdesk.core.api.viewsets import viewset_for


def build_router() -> DefaultRouter:
    router = DefaultRouter()
    for entry in registry.entries():
        if entry.api:
            router.register(f"{entry.app_label}/{entry.url_slug}", viewset_for(entry), basename=entry.api_basename)
    return router


urlpatterns = [
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    *registry.registry["api_urls"],
    path("", include(build_router().urls)),
]
