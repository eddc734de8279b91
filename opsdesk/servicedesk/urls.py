from django.urls import path

from opsdesk.core.views.generic import urls_for
from opsdesk.servicedesk.views import calendars

urlpatterns = [
    path("calendars/<int:pk>/year/", calendars.calendar_year, name="calendar_year"),
    *urls_for("servicedesk"),
]
