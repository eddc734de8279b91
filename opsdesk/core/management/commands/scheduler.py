from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the Celery beat scheduler; the schedule is kept in the database (django-celery-beat)."

    def handle(self, *args, **options):
        from opsdesk.celery import app
        from opsdesk.core.management.commands.worker import SCHEDULER

        app.start(["beat", "--loglevel=INFO", f"--scheduler={SCHEDULER}"])
