from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the Celery beat scheduler; the schedule is kept in the database (django-celery-beat)."

    def handle(self, *args, **options):
        from opsdesk.celery import app

        app.start(["beat", "--loglevel=INFO", "--scheduler=django_celery_beat.schedulers:DatabaseScheduler"])
