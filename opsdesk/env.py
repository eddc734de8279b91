"""Strict parsing of settings from environment variables.

Every setting opsdesk reads comes through one of these functions, so a bad value stops start-up
with a message naming the variable and what is wrong (Healthchecks' habit), instead of a
confusing failure later on.
"""

from __future__ import annotations

import os
import zoneinfo
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A setting from the environment has a value opsdesk cannot use."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"{name}: {problem}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


# Settings that may hold a password or key. Each may instead be given as NAME_FILE, the path of a
# file that holds it (Docker and Kubernetes secrets), so it need not sit in the environment.
SECRETS = (
    "OPSDESK_SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "OPSDESK_ADMIN_PASSWORD",
    "OPSDESK_CREDENTIAL_KEYS",
    "OPSDESK_METRICS_URL",  # may carry a password (http://user:pass@host:8428)
)


def _raw(name: str) -> str | None:
    """The value of NAME as given, reading NAME_FILE for a secret."""
    value = os.environ.get(name)
    if name not in SECRETS:
        return value
    file_name = os.environ.get(f"{name}_FILE")
    if not file_name:
        return value
    if value:
        # Which one wins would be a guess, and a wrong guess uses a stale password silently.
        raise ConfigError(name, f"both {name} and {name}_FILE are set; set only one of them")
    try:
        content = Path(file_name).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{name}_FILE", f"cannot read {file_name!r}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{name}_FILE", f"{file_name!r} is not UTF-8 text") from None
    if not content:
        # An empty file is a secret that failed to mount, not a wish for the default.
        raise ConfigError(f"{name}_FILE", f"{file_name!r} is empty")
    return content


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_secret(name: str, default: str = "") -> str:
    """A secret may be given directly or, as NAME_FILE, by the path of a file that holds it."""
    if name not in SECRETS:
        raise ValueError(f"{name} is not listed in opsdesk.env.SECRETS")
    return _raw(name) or default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(name, f"{raw!r} is not a boolean (use one of: true, false, 1, 0, yes, no)")


def env_int(name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(name, f"{raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(name, f"{value} is less than the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(name, f"{value} is more than the maximum {maximum}")
    return value


# Celery execution pools `opsdesk worker` offers (read by the settings and by `opsdesk up`).
WORKER_POOLS = ("prefork", "threads", "solo")


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise ConfigError(name, f"{raw!r} is not one of: {', '.join(choices)}")
    return raw


def env_listen(name: str, default: str) -> tuple[str, int]:
    """HOST:PORT, with [::1]:PORT for IPv6."""
    raw = os.environ.get(name) or default
    host, sep, port_text = raw.rpartition(":")
    if not sep or not host:
        raise ConfigError(name, f"{raw!r} is not HOST:PORT (for example 127.0.0.1:8000)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(name, f"port {port_text!r} in {raw!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise ConfigError(name, f"port {port} in {raw!r} is outside 1-65535")
    return host, port


def env_timezone(name: str, default: str) -> str:
    raw = os.environ.get(name) or default
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise ConfigError(name, f"{raw!r} is not a known time zone (for example Asia/Shanghai)") from None
    return raw


def env_path(name: str, default: str) -> Path:
    raw = os.environ.get(name) or default
    path = Path(raw).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(name, f"{str(path)!r} exists and is not a directory")
    return path


DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql")


def env_database(name: str, default_sqlite_path: Path) -> dict:
    """DATABASE_URL parsed with dj-database-url, refusing what opsdesk does not support."""
    import dj_database_url

    raw = _raw(name)
    if not raw:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(default_sqlite_path)}
    scheme = urlsplit(raw).scheme
    if scheme not in DATABASE_SCHEMES:
        raise ConfigError(
            name,
            f"scheme {scheme or '(none)'!r} is not supported (use postgres://USER@HOST:PORT/NAME "
            "or sqlite:////absolute/path.db)",
        )
    try:
        config = dj_database_url.parse(raw)
    except (ValueError, KeyError) as exc:
        raise ConfigError(name, f"cannot be parsed: {exc}") from None
    if not config.get("NAME"):
        raise ConfigError(name, "names no database (the path after the host)")
    return config


BROKER_SCHEMES = ("filesystem", "redis", "rediss", "amqp", "amqps", "pyamqp", "memory")


def env_broker(name: str) -> str:
    raw = _raw(name) or ""
    if not raw:
        return ""
    scheme = urlsplit(raw).scheme
    if scheme not in BROKER_SCHEMES:
        raise ConfigError(name, f"scheme {scheme or '(none)'!r} is not one of: {', '.join(BROKER_SCHEMES)}")
    return raw


def env_list(name: str, default: str = "") -> list[str]:
    raw = _raw(name) or default
    return [item.strip() for item in raw.split(",") if item.strip()]
