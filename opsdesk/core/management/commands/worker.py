import os

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a Celery worker (notifications, email intake, reports, imports)."

    def add_arguments(self, parser):
        parser.add_argument("--pool", default=os.environ.get("OPSDESK_WORKER_POOL", "prefork"),
                            choices=["prefork", "threads", "solo"], help="execution pool (OPSDESK_WORKER_POOL)")
        parser.add_argument("--concurrency", type=int,
                            default=int(os.environ.get("OPSDESK_WORKER_CONCURRENCY", "2")),
                            help="tasks run at once (OPSDESK_WORKER_CONCURRENCY, default 2)")
        parser.add_argument("--queues", default="", help="comma-separated queues to consume (default: all)")

    def handle(self, *args, **options):
        from opsdesk.celery import app

        argv = ["worker", "--loglevel=INFO", f"--pool={options['pool']}",
                f"--concurrency={options['concurrency']}", "--without-gossip", "--without-mingle"]
        if options["queues"]:
            argv.append(f"--queues={options['queues']}")
        app.worker_main(argv)
