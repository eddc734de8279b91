from django.urls import include, path

from opsdesk.core.views.generic import urls_for
from opsdesk.servicedesk.portal import downloads

urlpatterns = [
    *urls_for("servicedesk"),
    path("portal/", include("opsdesk.servicedesk.portal.urls")),
    path("attachments/<int:pk>/", downloads.attachment, name="attachment_download"),
]
