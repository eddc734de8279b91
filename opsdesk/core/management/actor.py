"""The --actor option of commands that change data: whom the audit log names."""

from django.core.management.base import CommandError

from opsdesk.core.models import User


def actor_argument(parser) -> None:
    parser.add_argument("--actor", metavar="USERNAME",
                        help="the person the audit log names for this change (default: none, shown as system)")


def resolve_actor(options) -> User | None:
    name = options.get("actor")
    if not name:
        return None
    user = User.objects.filter(username=name).first()
    if user is None:
        raise CommandError(f"actor: no user {name!r}")
    return user
