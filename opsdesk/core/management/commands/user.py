import getpass
import sys

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from opsdesk.core import services
from opsdesk.core.management.actor import actor_argument, resolve_actor
from opsdesk.core.models import Customer, Role, User


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Add, list, change or unlock users (for scripted set-ups)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a user")
        add.add_argument("username")
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument("--customer", help="customer code (required for --role customer)")
        add.add_argument("--email", default="")
        add.add_argument("--first-name", default="")
        add.add_argument("--last-name", default="")
        add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        add.add_argument("--no-password", action="store_true", help="create without a usable password")
        actor_argument(add)
        sub.add_parser("list", help="list users")
        setpw = sub.add_parser("set-password", help="set a user's password (asked, or from standard input)")
        setpw.add_argument("username")
        setpw.add_argument("--password-stdin", action="store_true")
        actor_argument(setpw)
        deact = sub.add_parser("deactivate", help="stop a user from logging in")
        deact.add_argument("username")
        actor_argument(deact)
        unlock = sub.add_parser("unlock", help="clear failed log-in attempts (lockout)")
        unlock.add_argument("username")

    def _password(self, options) -> str | None:
        if options.get("no_password"):
            return None
        if options.get("password_stdin"):
            return sys.stdin.readline().rstrip("\n")
        if not sys.stdin.isatty():
            raise CommandError("give --password-stdin or --no-password when not on a terminal")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("the passwords differ")
        return first

    def handle(self, *args, **options):
        action = options["action"]
        if action == "list":
            for user in User.objects.select_related("customer").order_by("username"):
                customer = f" customer={user.customer.code}" if user.customer else ""
                state = "" if user.is_active else " (inactive)"
                self.stdout.write(f"{user.username}\t{user.role}{customer}{state}")
            return
        actor = resolve_actor(options)
        if action == "unlock":
            user = User.objects.filter(username=options["username"]).first()
            if user is None:
                # A locked-out name need not be an account: clear its records all the same.
                from axes.utils import reset

                count = reset(username=options["username"])
            else:
                count = self._run(lambda: services.unlock_user(user, actor=actor))
            self.stdout.write(f"cleared {count} lockout record(s) for {options['username']}")
            return
        if action == "add":
            customer = None
            if options["customer"]:
                customer = Customer.objects.filter(code=options["customer"]).first()
                if customer is None:
                    raise CommandError(f"customer: no customer with code {options['customer']!r}")
            user = self._run(lambda: services.create_user({
                "username": options["username"], "role": options["role"], "password": self._password(options),
                "email": options["email"], "customer": customer, "first_name": options["first_name"],
                "last_name": options["last_name"]}, actor=actor))
            self.stdout.write(f"added user {user.username} ({user.role})")
            return
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"username: no user {options['username']!r}")
        if action == "set-password":
            password = self._password(options)
            self._run(lambda: services.set_password(user, password, actor=actor))
            self.stdout.write(f"password of {user.username} changed")
        elif action == "deactivate":
            self._run(lambda: services.deactivate_user(user, actor=actor))
            self.stdout.write(f"{user.username} deactivated")

    def _run(self, call):
        """A service call; its refusals become the command's error message (exit 1)."""
        try:
            return call()
        except ValidationError as exc:
            raise CommandError(_errors(exc)) from None
        except PermissionDenied:
            raise CommandError("actor: not allowed to do this") from None
