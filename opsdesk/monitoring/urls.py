from django.urls import path

from opsdesk.core.views.generic import urls_for
from opsdesk.monitoring.availability.views import availability_page
from opsdesk.monitoring.views import alert_link, enrolment, overview, rule_editor, template_checks, trends

urlpatterns = [
    path("overview/", overview.overview, name="overview"),
    path("trends/", trends.trends, name="trends"),
    path("availability/", availability_page, name="availability"),
    path("enrol/", enrolment.EnrolView.as_view(), name="enrol"),
    path("alerts/link/<str:token>/", alert_link.alert_link, name="alert_link"),
    path("alertrules/preview/", rule_editor.rule_preview, name="rule_preview"),
    path("templates/<int:pk>/checks/add/", template_checks.template_check_edit, name="template_check_add"),
    path("templates/<int:pk>/checks/<int:position>/edit/", template_checks.template_check_edit,
         name="template_check_edit"),
    path("templates/<int:pk>/checks/<int:position>/remove/", template_checks.template_check_remove,
         name="template_check_remove"),
    *urls_for("monitoring"),
]
