from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the UI, API and /healthz with gunicorn on OPSDESK_LISTEN (default 127.0.0.1:8000)."

    def add_arguments(self, parser):
        # Defaults from the settings, where OPSDESK_WEB_* went through opsdesk.env's strict parser.
        parser.add_argument("--workers", type=int, default=settings.WEB_WORKERS,
                            help="worker processes (OPSDESK_WEB_WORKERS, default 1)")
        parser.add_argument("--threads", type=int, default=settings.WEB_THREADS,
                            help="threads per worker (OPSDESK_WEB_THREADS, default 8)")

    def handle(self, *args, **options):
        from gunicorn.app.base import BaseApplication

        from opsdesk.wsgi import application

        host = settings.LISTEN_HOST
        bind = f"[{host}]:{settings.LISTEN_PORT}" if ":" in host else f"{host}:{settings.LISTEN_PORT}"
        config = {
            "bind": bind, "workers": options["workers"], "threads": options["threads"],
            "worker_class": "gthread", "timeout": 60, "graceful_timeout": 10, "accesslog": "-",
            "proc_name": "opsdesk-web",
        }

        class App(BaseApplication):
            def load_config(self):
                for key, value in config.items():
                    self.cfg.set(key, value)

            def load(self):
                return application

        App().run()
