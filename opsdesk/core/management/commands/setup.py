from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.utils import OperationalError

from opsdesk import env
from opsdesk.core import services
from opsdesk.core.i18n import compile_translations
from opsdesk.core.registry import registry


class Command(BaseCommand):
    help = ("Prepare opsdesk to run: migrate the database, compile translations and create the first "
            "administrator (password from OPSDESK_ADMIN_PASSWORD or OPSDESK_ADMIN_PASSWORD_FILE, or "
            "generated and printed once).")

    def add_arguments(self, parser):
        parser.add_argument("--admin-username", default=env.env_str("OPSDESK_ADMIN_USERNAME", "admin"),
                            help="username of the first administrator (OPSDESK_ADMIN_USERNAME, default: admin)")

    def handle(self, *args, **options):
        # Read first: a bad OPSDESK_ADMIN_PASSWORD(_FILE) stops set-up before anything is changed.
        password = env.env_secret("OPSDESK_ADMIN_PASSWORD") or None
        try:
            connection.ensure_connection()
        except OperationalError as exc:
            raise CommandError(f"cannot connect to the database (DATABASE_URL): {exc}".strip()) from None
        call_command("migrate", interactive=False, verbosity=0)
        compiled = compile_translations()
        if compiled:
            self.stdout.write(f"compiled translations: {', '.join(compiled)}")
        user, generated = services.ensure_admin(options["admin_username"], password)
        if generated:
            self.stdout.write(self.style.WARNING(
                f"administrator {user.username!r} created with password: {generated}\n"
                "(shown once: note it now, or set OPSDESK_ADMIN_PASSWORD before the first start)"))
        for step in registry["setup"]:
            said = step.run()
            if said:
                self.stdout.write(said)
        self.stdout.write(f"opsdesk ready on http://{settings.LISTEN_HOST}:{settings.LISTEN_PORT} "
                          f"(data in {settings.DATA_DIR})")
