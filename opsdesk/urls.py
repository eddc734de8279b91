from django.conf import settings
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from opsdesk.core import health
from opsdesk.core.views import account, audit, auth, home

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.login_view, name="login"),
    path("login/verify/", auth.login_verify, name="login_verify"),
    path("logout/", auth.logout_view, name="logout"),
    path("account/", account.account, name="account"),
    path("account/tokens/<int:pk>/revoke/", account.revoke_token, name="token_revoke"),
    path("account/two-factor/", auth.two_factor, name="two_factor"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("soon/<slug:area>/", home.coming, name="coming"),
    path("search/", include("opsdesk.core.views.search")),
    path("favicon.ico", RedirectView.as_view(url=settings.STATIC_URL + "favicon.ico", permanent=True)),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", health.metrics, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/", include("opsdesk.core.api.urls")),
    path("core/", include(("opsdesk.core.urls", "core"))),
    path("cmdb/", include(("opsdesk.cmdb.urls", "cmdb"))),
    path("notify/", include(("opsdesk.notify.urls", "notify"))),
    path("monitoring/", include(("opsdesk.monitoring.urls", "monitoring"))),
    path("servicedesk/", include(("opsdesk.servicedesk.urls", "servicedesk"))),
]

handler404 = "opsdesk.core.views.errors.not_found"
handler403 = "opsdesk.core.views.errors.forbidden"
handler500 = "opsdesk.core.views.errors.server_error"
