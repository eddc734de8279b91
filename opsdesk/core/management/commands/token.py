import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from opsdesk.core import services
from opsdesk.core.management.actor import actor_argument, resolve_actor
from opsdesk.core.models import ApiToken, User


class Command(BaseCommand):
    help = "Add, list or revoke personal API tokens. A new token is printed once and never stored."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="make a token for a user and print it")
        add.add_argument("username")
        add.add_argument("--name", required=True, help="what the token is for")
        add.add_argument("--write", action="store_true", help="read-write (default: read-only)")
        add.add_argument("--expires-days", type=int, default=None, help="days until it expires (default: never)")
        actor_argument(add)
        lst = sub.add_parser("list", help="list tokens")
        lst.add_argument("username", nargs="?")
        rev = sub.add_parser("revoke", help="revoke a token by its id")
        rev.add_argument("id", type=int)
        actor_argument(rev)

    def handle(self, *args, **options):
        action = options["action"]
        if action == "list":
            tokens = ApiToken.objects.select_related("user")
            if options["username"]:
                tokens = tokens.filter(user__username=options["username"])
            for t in tokens:
                expires = t.expires_at.isoformat() if t.expires_at else "never"
                self.stdout.write(f"{t.pk}\t{t.user.username}\t{t.name}\t{t.key_prefix}…\t"
                                  f"{'read-write' if t.write else 'read-only'}\texpires {expires}")
            return
        actor = resolve_actor(options)
        if action == "add":
            user = User.objects.filter(username=options["username"]).first()
            if user is None:
                raise CommandError(f"username: no user {options['username']!r}")
            days = options["expires_days"]
            if days is not None and days < 1:
                raise CommandError("expires-days: must be at least 1")
            try:
                _token, raw = services.create_token(
                    user, name=options["name"], write=options["write"], actor=actor,
                    expires_at=timezone.now() + dt.timedelta(days=days) if days else None)
            except ValidationError as exc:
                raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
            self.stdout.write(raw)
            return
        token = ApiToken.objects.filter(pk=options["id"]).first()
        if token is None:
            raise CommandError(f"id: no token {options['id']}")
        services.revoke_token(token, actor=actor)
        self.stdout.write(f"revoked token {options['id']}")
