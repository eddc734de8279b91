from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from opsdesk.cmdb import importer
from opsdesk.core.models import User


class Command(BaseCommand):
    help = ("Import configuration items and relations from a CSV or XLSX file. Every problem is "
            "reported with its line and column; a file with any problem writes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of a .csv or .xlsx file")
        parser.add_argument("--dry-run", action="store_true", help="check only, write nothing")
        parser.add_argument("--actor", metavar="USERNAME", default="admin",
                            help="who imports: scoping and the audit log use this user (default: admin)")

    def handle(self, *args, **options):
        user = User.objects.filter(username=options["actor"], is_active=True).first()
        if user is None:
            raise CommandError(f"actor: no active user {options['actor']!r}")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"file: {path} does not exist")
        try:
            report = importer.import_items(user, path.name, path.read_bytes(), dry_run=options["dry_run"])
        except importer.ImportFileError as exc:
            raise CommandError(f"file: {exc}") from None
        for p in report.problems:
            self.stderr.write(f"line {p.line}, {p.field}: {p.message}")
        if not report.ok:
            raise CommandError(f"{len(report.problems)} problem(s); nothing was written")
        verb = "would create" if report.dry_run else "created"
        self.stdout.write(f"{report.rows} rows: {verb} {report.created} items, updated {report.updated}, "
                          f"{report.relations_created} new relations{' (dry run)' if report.dry_run else ''}")
