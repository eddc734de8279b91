from django.core.management.base import BaseCommand, CommandError

from opsdesk.core import crypto, services


class Command(BaseCommand):
    help = ("Key rotation for stored credentials. `rotate --new-key` puts a new key first in the key file "
            "(with OPSDESK_CREDENTIAL_KEYS, put it first there yourself) and re-encrypts every secret with it.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        rotate = sub.add_parser("rotate", help="re-encrypt every secret with the newest key")
        rotate.add_argument("--new-key", action="store_true", help="generate a new key first (key file only)")

    def handle(self, *args, **options):
        from django.conf import settings

        if options["new_key"]:
            if settings.OPSDESK_CREDENTIAL_KEYS:
                raise CommandError("--new-key: keys come from OPSDESK_CREDENTIAL_KEYS; add the new key there")
            crypto.add_key_to_file()
            self.stdout.write("added a new key to the key file")
        try:
            count = services.rotate_credential_keys()
        except crypto.CredentialKeyError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"re-encrypted {count} secret(s) with the newest key")
