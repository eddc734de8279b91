"""`opsdesk web`: Django's WSGI application served by granian.

granian reads and writes HTTP in Rust and calls the application from a pool of Python threads.
Measured on this project's 2-core machine with a WSGI application that only reads a 36 KB POST
and answers (the size of an agent's 1,000-sample push), the server's CPU a request was 72-80 µs
under granian against 448 under gunicorn's gthread worker, and 559 with gunicorn's access log
(docs/performance.md, "Round six"). Pushes come hundreds a second, so that was a third of the web
process' work.

The application is loaded here, before granian forks its workers: they share its pages.
"""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the UI, API and /healthz with granian on OPSDESK_LISTEN (default 127.0.0.1:8000)."

    def add_arguments(self, parser):
        # Defaults from the settings, where OPSDESK_WEB_* went through opsdesk.env's strict parser.
        parser.add_argument("--workers", type=int, default=settings.WEB_WORKERS,
                            help="worker processes (OPSDESK_WEB_WORKERS, default 1)")
        parser.add_argument("--threads", type=int, default=settings.WEB_THREADS,
                            help="threads per worker that run requests (OPSDESK_WEB_THREADS, default: the CPUs "
                                 "plus one, at most 8)")
        parser.add_argument("--access-log", action="store_true", default=settings.WEB_ACCESS_LOG,
                            help="log every request on standard output (OPSDESK_WEB_ACCESS_LOG, default off)")

    def handle(self, *args, **options):
        from granian.constants import Interfaces
        from granian.server import Server

        from opsdesk.wsgi import application

        server = Server(
            "opsdesk.wsgi:application", address=settings.LISTEN_HOST, port=settings.LISTEN_PORT,
            interface=Interfaces.WSGI, workers=options["workers"], blocking_threads=options["threads"],
            log_access=options["access_log"],
            websockets=False,  # WSGI has none (granian would say so at every start)
            # Workers that die are started again (gunicorn's arbiter did the same).
            respawn_failed_workers=True,
        )
        server.serve(target_loader=lambda: application, wrap_loader=False)
