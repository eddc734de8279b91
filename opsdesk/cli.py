"""The `opsdesk` command: `opsdesk up` runs everything on one machine; the other sub-commands
start one process each or do one administrative job. `opsdesk COMMAND --help` tells more."""

from __future__ import annotations

import os
import sys

# (command, what it does) — each is a Django management command of the same name (with '_' for
# '-'), so `opsdesk COMMAND --help` is that command's own argparse help; `up`, `agent` and
# `collector enroll|remote` are not: they run without Django.
COMMANDS = [
    ("up", "run web, worker, scheduler and collector together, supervised (one machine)"),
    ("setup", "migrate the database, compile translations, create the first administrator"),
    ("web", "serve the UI and API with granian on OPSDESK_LISTEN"),
    ("worker", "run a Celery worker"),
    ("scheduler", "run the Celery beat scheduler (schedule kept in the database)"),
    ("collector", "run the monitoring checks on their schedules, and this machine's own metrics"),
    ("demo", "load demo data: two customers with sites, contracts, users and CIs"),
    ("user", "add, list, change or unlock users"),
    ("token", "add, list or revoke personal API tokens"),
    ("import-cis", "import configuration items from CSV or XLSX (with --dry-run)"),
    ("credentials", "rotate the key that encrypts stored credentials"),
    ("manage", "any Django management command (opsdesk manage help lists them)"),
    ("agent", "the host agent on a monitored machine: enroll, run, status (no Django)"),
]


def usage() -> str:
    width = max(len(name) for name, _ in COMMANDS)
    lines = ["usage: opsdesk COMMAND [options]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {text}" for name, text in COMMANDS]
    lines += ["", "opsdesk COMMAND --help shows the options of one command.",
              "Settings come from environment variables: see docs/configuration.md."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        from opsdesk import __version__

        print(f"opsdesk {__version__}")
        return 0
    name = argv[0]
    if name not in {n for n, _ in COMMANDS}:
        print(f"opsdesk: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    if name == "agent":
        # Before anything of the server is imported: the agent runs on monitored hosts with the
        # standard library and psutil, in a few tens of MB (bench/agent.py).
        from opsdesk.agent.cli import main as agent_main

        return agent_main(argv[1:])
    from opsdesk.env import ConfigError

    try:
        return _run(name, argv[1:])
    except ConfigError as exc:
        # Settings are read at start-up, but also by a command itself (OPSDESK_ADMIN_PASSWORD in
        # setup, OPSDESK_WORKER_POOL in up): either way one line naming the variable, exit 2.
        print(f"opsdesk: configuration error: {exc}", file=sys.stderr)
        return 2


def _run(name: str, args: list[str]) -> int:
    if name == "up":
        # The supervisor itself stays free of Django, so it costs a few MB of memory.
        from opsdesk.supervisor import run_up

        return run_up(args)
    if name == "collector" and args[:1] in (["enroll"], ["remote"]):
        # A collector inside a customer's network has no database: no Django either.
        from opsdesk.monitoring.remote import main as remote_main

        return remote_main(args)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdesk.settings")
    import django

    django.setup()
    from django.core.management import execute_from_command_line

    if name == "manage":
        execute_from_command_line(["opsdesk manage", *args])
    else:
        execute_from_command_line(["opsdesk", name.replace("-", "_"), *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
