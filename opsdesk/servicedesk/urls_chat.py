"""The chat vendors' callback URLs, mounted under /api/ by registrations_chat (the vendors call
them without a session or an API token: the URL's token and the vendor's signature are the check)."""

from django.urls import path

from opsdesk.servicedesk.chat.views import ChatCallbackView

urlpatterns = [
    path("servicedesk/chat/<str:kind>/<str:token>/", ChatCallbackView.as_view(), name="servicedesk-chat-callback"),
]
