from django.urls import path

from opsdesk.core.views.generic import urls_for
from opsdesk.monitoring.views import enrolment, overview, trends

urlpatterns = [
    path("overview/", overview.overview, name="overview"),
    path("trends/", trends.trends, name="trends"),
    path("enrol/", enrolment.EnrolView.as_view(), name="enrol"),
    *urls_for("monitoring"),
]
