"""The portal's pages, under /servicedesk/portal/ in the "servicedesk" namespace."""

from django.urls import path

from opsdesk.servicedesk.portal import survey_views, views

urlpatterns = [
    path("", views.request_list, name="portal_list"),
    path("new/", views.new_request, name="portal_new"),
    path("<int:pk>/", views.request_detail, name="portal_detail"),
    path("<int:pk>/reply/", views.reply, name="portal_reply"),
    path("<int:pk>/close/", views.close, name="portal_close"),
    path("<int:pk>/reopen/", views.reopen, name="portal_reopen"),
    path("surveys/<int:pk>/answer/", survey_views.answer, name="portal_survey_answer"),
    path("surveys/link/<str:token>/", survey_views.answer_by_link, name="survey_link"),
]
