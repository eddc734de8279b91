import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdesk.settings")
application = get_wsgi_application()

from opsdesk.core.fast_routes import with_fast_routes  # noqa: E402  (needs the apps loaded above)

application = with_fast_routes(application)
