from django.urls import include, path

from opsdesk.core import registry
from opsdesk.core.views.generic import urls_for
from opsdesk.servicedesk.desk import views as desk
from opsdesk.servicedesk.models import Ticket
from opsdesk.servicedesk.portal import downloads
from opsdesk.servicedesk.views import calendars


def _entry():
    return registry.get(Ticket)


urlpatterns = [
    path("tickets/bulk-assign/", desk.BulkAssignView.as_view(entry=_entry()), name="ticket_bulk_assign"),
    path("tickets/filters/", desk.SaveFilterView.as_view(entry=_entry()), name="filter_save"),
    path("tickets/filters/<int:pk>/delete/", desk.DeleteFilterView.as_view(entry=_entry()), name="filter_delete"),
    path("tickets/callers/", desk.caller_lookup, name="ticket_callers"),
    path("tickets/<int:pk>/compose/", desk.ComposeView.as_view(entry=_entry()), name="ticket_compose"),
    path("tickets/<int:pk>/macro/", desk.macro_text, name="ticket_macro"),
    # A ticket's files, for the desk and the portal alike (scope-checked, never shown inline
    # unless a picture).
    path("attachments/<int:pk>/", downloads.attachment, name="attachment"),
    path("calendars/<int:pk>/year/", calendars.calendar_year, name="calendar_year"),
    path("portal/", include("opsdesk.servicedesk.portal.urls")),
    *urls_for("servicedesk"),
]
