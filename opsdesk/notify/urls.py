from django.urls import path

from opsdesk.core.views.generic import urls_for
from opsdesk.notify.views import oncall_ical, oncall_pages

urlpatterns = [
    path("oncall/", oncall_pages.oncall_now, name="oncall_now"),
    path("oncall/mine/", oncall_pages.oncall_mine, name="oncall_mine"),
    path("oncall/schedules/<int:pk>/calendar/", oncall_pages.oncall_calendar, name="oncall_calendar"),
    path("oncall/schedules/<int:pk>/take-over/", oncall_pages.oncall_take_over, name="oncall_take_over"),
    path("oncall/schedules/<int:pk>/import/", oncall_pages.oncall_import, name="oncall_import"),
    path("oncall/calendar/<str:token>.ics", oncall_ical.oncall_ical, name="oncall_ical"),
    *urls_for("notify"),
]
