from django.urls import path

from opsdesk.cmdb import views
from opsdesk.core.views.generic import urls_for

urlpatterns = [
    path("import/", views.import_view, name="import"),
    path("import/jobs/<int:pk>/", views.import_job, name="import_job"),
    path("graph/", views.graph_page, name="graph"),
    path("graph.json", views.graph_json, name="graph_json"),
    *urls_for("cmdb"),
]
