from opsdesk.core.views.generic import urls_for

urlpatterns = [
    *urls_for("servicedesk"),
]
