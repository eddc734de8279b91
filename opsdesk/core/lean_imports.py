"""Django REST framework without the optional extras opsdesk does not use, where they cost memory.

When DRF's `compat` module is first imported it imports, if they are installed, psycopg (through
`django.contrib.postgres.fields`, to map PostgreSQL's array and hstore fields, which opsdesk has
none of), `requests` (for its test client), and Python-Markdown (for the browsable API's
descriptions). All are installed, for other reasons (apprise sends notifications with requests and
Markdown), and every Django process paid for them at start: 16 MB of resident memory each on
SQLite, measured after `django.setup()` (105 against 89 MB), in the five Django processes of
`opsdesk up`, against a budget of 350 MB for all of them (bench/idle_memory.py).

On SQLite they are left out of DRF's `compat` (imported here first, with those modules standing
as absent), and load later only where something else asks for them (apprise, when a notification
is sent). On PostgreSQL psycopg is loaded anyway and DRF keeps its PostgreSQL field mapping.
"""

from __future__ import annotations

import sys

UNUSED_BY_DRF = ("django.contrib.postgres.fields", "requests", "markdown")


def import_drf_without_unused_extras(database_engine: str) -> None:
    if database_engine == "django.db.backends.postgresql" or "rest_framework.compat" in sys.modules:
        return
    absent = [name for name in UNUSED_BY_DRF if name not in sys.modules]
    for name in absent:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` raises ImportError
    try:
        import rest_framework.compat  # noqa: F401
    finally:
        for name in absent:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
