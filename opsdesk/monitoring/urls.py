from django.urls import path

from opsdesk.core.views.generic import urls_for
from opsdesk.monitoring.availability.views import availability_page
from opsdesk.monitoring.views import alert_link, enrolment, overview, rule_editor, trends

urlpatterns = [
    path("overview/", overview.overview, name="overview"),
    path("trends/", trends.trends, name="trends"),
    path("availability/", availability_page, name="availability"),
    path("enrol/", enrolment.EnrolView.as_view(), name="enrol"),
    path("alerts/link/<str:token>/", alert_link.alert_link, name="alert_link"),
    path("alertrules/preview/", rule_editor.rule_preview, name="rule_preview"),
    *urls_for("monitoring"),
]
