from django.urls import path

from opsdesk.cmdb.views import graph, imports
from opsdesk.core.views.generic import urls_for

urlpatterns = [
    path("import/", imports.import_view, name="import"),
    path("import/jobs/<int:pk>/", imports.import_job, name="import_job"),
    path("graph/", graph.graph_page, name="graph"),
    path("graph.json", graph.graph_json, name="graph_json"),
    *urls_for("cmdb"),
]
