from django.core.management.base import BaseCommand

from opsdesk.core.demo import load_demo


class Command(BaseCommand):
    help = ("Load demo data: two customers with sites, contracts, contacts, users and a few dozen "
            "configuration items with relations. Running it again changes nothing.")

    def handle(self, *args, **options):
        summary = load_demo()
        self.stdout.write(summary)
