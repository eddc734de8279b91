from django.conf import settings
from django.core.management.base import BaseCommand

from opsdesk.env import WORKER_POOLS

# The schedule lives in the database (django-celery-beat), for `opsdesk scheduler` and --beat alike.
SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


class Command(BaseCommand):
    help = "Run a Celery worker (notifications, email intake, reports, imports)."

    def add_arguments(self, parser):
        # Defaults from the settings, where OPSDESK_WORKER_* went through opsdesk.env's strict parsers.
        parser.add_argument("--pool", default=settings.WORKER_POOL, choices=WORKER_POOLS,
                            help="execution pool (OPSDESK_WORKER_POOL, default prefork)")
        parser.add_argument("--concurrency", type=int, default=settings.WORKER_CONCURRENCY,
                            help="tasks run at once (OPSDESK_WORKER_CONCURRENCY, default 2)")
        parser.add_argument("--queues", default="", help="comma-separated queues to consume (default: all)")
        parser.add_argument("--beat", action="store_true",
                            help="also run the scheduler inside this worker (one machine: one process less)")

    def handle(self, *args, **options):
        from opsdesk.celery import app

        argv = ["worker", "--loglevel=INFO", f"--pool={options['pool']}",
                f"--concurrency={options['concurrency']}", "--without-gossip", "--without-mingle"]
        if options["beat"]:
            argv += ["--beat", f"--scheduler={SCHEDULER}"]
        if options["queues"]:
            argv.append(f"--queues={options['queues']}")
        app.worker_main(argv)
