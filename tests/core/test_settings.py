"""Settings come only through opsdesk.env: a bad value is one clear message and exit 2 for every
command, every secret may be given as NAME_FILE, and the documentation lists what is read."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from opsdesk import env
from tests.core.test_startup import run_opsdesk

ROOT = Path(__file__).resolve().parents[2]


def assert_configuration_error(result: subprocess.CompletedProcess, name: str, words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"opsdesk: configuration error: {name}: " in result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


# Each integer setting of the processes, with the cheapest command that reads it.
@pytest.mark.parametrize(("command", "name", "value", "words"), [
    ("web", "OPSDESK_WEB_WORKERS", "many", "'many' is not a whole number"),
    ("web", "OPSDESK_WEB_WORKERS", "0", "less than the minimum 1"),
    ("web", "OPSDESK_WEB_THREADS", "8.5", "'8.5' is not a whole number"),
    ("web", "OPSDESK_WEB_THREADS", "0", "less than the minimum 1"),
    ("worker", "OPSDESK_WORKER_CONCURRENCY", "two", "'two' is not a whole number"),
    ("worker", "OPSDESK_WORKER_CONCURRENCY", "-1", "less than the minimum 1"),
    ("worker", "OPSDESK_WORKER_HEARTBEAT_SECONDS", "30s", "'30s' is not a whole number"),
    ("scheduler", "OPSDESK_WORKER_HEARTBEAT_SECONDS", "1", "less than the minimum 5"),
    ("worker", "OPSDESK_WORKER_POOL", "gevent", "'gevent' is not one of: prefork, threads, solo"),
    ("web", "OPSDESK_SQLITE_TIMEOUT_SECONDS", "soon", "'soon' is not a whole number"),
    ("web", "OPSDESK_DATA_DISK_MIN_FREE_MB", "1GB", "'1GB' is not a whole number"),
])
def test_a_bad_process_setting_is_a_clear_message(tmp_path, command, name, value, words):
    result = run_opsdesk([command, "--help"], tmp_path, **{name: value})
    assert_configuration_error(result, name, words)


def test_up_checks_the_worker_pool_before_starting_anything(tmp_path):
    result = run_opsdesk(["up", "--no-setup"], tmp_path, OPSDESK_WORKER_POOL="gevent")
    assert_configuration_error(result, "OPSDESK_WORKER_POOL", "is not one of")
    assert "running web, worker and scheduler" not in result.stdout


def test_every_secret_can_be_given_as_a_file(tmp_path):
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    database = tmp_path / "elsewhere.sqlite3"
    key = Fernet.generate_key().decode()
    values = {
        "OPSDESK_SECRET_KEY": "s" * 40,
        "DATABASE_URL": f"sqlite:///{database}",
        "CELERY_BROKER_URL": "memory://",
        "OPSDESK_ADMIN_PASSWORD": "a-password-from-a-file",
        "OPSDESK_CREDENTIAL_KEYS": key,
        "OPSDESK_METRICS_URL": "http://opsdesk:pw@127.0.0.1:8428",
    }
    assert set(values) == set(env.SECRETS)
    files = {}
    for name, value in values.items():
        path = secrets_dir / name.lower()
        path.write_text(f"{value}\n")  # as `echo` or a secret mount writes it: the newline is dropped
        files[f"{name}_FILE"] = str(path)
    setup = run_opsdesk(["setup"], tmp_path, **files)
    assert setup.returncode == 0, setup.stderr
    assert database.exists()  # DATABASE_URL_FILE chose the database
    assert "created with password" not in setup.stdout  # OPSDESK_ADMIN_PASSWORD_FILE was used
    code = ("import json; from django.conf import settings; from opsdesk.core.models import User; "
            "print(json.dumps({'secret_key': settings.SECRET_KEY, 'broker': settings.CELERY_BROKER_URL, "
            "'keys': settings.OPSDESK_CREDENTIAL_KEYS, 'database': settings.DATABASES['default']['NAME'], "
            "'metrics': settings.OPSDESK_METRICS_URL, "
            "'admin': User.objects.get(username='admin').check_password('a-password-from-a-file')}))")
    shown = run_opsdesk(["manage", "shell", "-c", code], tmp_path, **files)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout.strip().splitlines()[-1]) == {
        "secret_key": values["OPSDESK_SECRET_KEY"], "broker": "memory://", "keys": [key],
        "database": str(database), "admin": True, "metrics": values["OPSDESK_METRICS_URL"],
    }


@pytest.mark.parametrize("name", env.SECRETS)
def test_a_secret_given_both_ways_is_refused(tmp_path, name):
    secret_file = tmp_path / "secret"
    secret_file.write_text("x" * 40)
    result = run_opsdesk(["setup"], tmp_path, **{name: "y" * 40, f"{name}_FILE": str(secret_file)})
    assert_configuration_error(result, name, f"both {name} and {name}_FILE are set")


def test_a_missing_or_empty_secret_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSDESK_ADMIN_PASSWORD_FILE", str(tmp_path / "nope"))
    with pytest.raises(env.ConfigError, match="OPSDESK_ADMIN_PASSWORD_FILE: cannot read"):
        env.env_secret("OPSDESK_ADMIN_PASSWORD")
    (tmp_path / "empty").write_text("\n")
    monkeypatch.setenv("OPSDESK_ADMIN_PASSWORD_FILE", str(tmp_path / "empty"))
    with pytest.raises(env.ConfigError, match="is empty"):
        env.env_secret("OPSDESK_ADMIN_PASSWORD")


def _python_sources() -> list[Path]:
    return [p for p in (ROOT / "opsdesk").rglob("*.py") if "migrations" not in p.parts]


def test_nothing_reads_the_environment_around_opsdesk_env():
    reads = re.compile(r"os\.environ(?:\.get\(|\[)|os\.getenv\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _python_sources() if path.name != "env.py"
        for number, line in enumerate(path.read_text().splitlines(), 1) if reads.search(line)
    ]
    assert offenders == []


def test_the_documentation_lists_exactly_the_settings_read():
    read = set()
    for path in _python_sources():
        read |= set(re.findall(r"env\.env_\w+\(\s*\"([A-Z_]+)\"", path.read_text()))
        read |= set(re.findall(r"\benv_\w+\(\s*\"([A-Z_]+)\"", path.read_text()))
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", (ROOT / "docs" / "configuration.md").read_text(), re.M))
    assert read - documented == set(), "read but not documented"
    assert documented - read == set(), "documented but never read"


def test_the_cli_module_runs_without_django_for_up_help(tmp_path):
    # `opsdesk up` stays free of Django (a few MB): importing the supervisor must not load it.
    code = "import sys, opsdesk.supervisor; print('django' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_database_connections_are_kept_for_reuse(tmp_path):
    # dj-database-url sets CONN_MAX_AGE to 0 itself: the setting must still win.
    code = "from django.conf import settings; print(settings.DATABASES['default']['CONN_MAX_AGE'])"
    sqlite = run_opsdesk(["manage", "shell", "-c", code], tmp_path)
    assert sqlite.returncode == 0, sqlite.stderr
    assert sqlite.stdout.strip().splitlines()[-1] == "60"
    url = "postgres://nobody@127.0.0.1:1/none"
    default = run_opsdesk(["manage", "shell", "-c", code], tmp_path, DATABASE_URL=url)
    assert default.returncode == 0, default.stderr
    assert default.stdout.strip().splitlines()[-1] == "60"
    chosen = run_opsdesk(["manage", "shell", "-c", code], tmp_path, DATABASE_URL=url, OPSDESK_DB_CONN_MAX_AGE="5")
    assert chosen.stdout.strip().splitlines()[-1] == "5"
