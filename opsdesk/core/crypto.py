"""Encryption of credentials at rest with MultiFernet, so keys can be rotated.

Keys come from OPSDESK_CREDENTIAL_KEYS (comma-separated, newest first) or, when that is empty,
from the file OPSDESK_DATA_DIR/credential_keys (one key a line, newest first), made on first use.
Rotation: put a new key first, run `opsdesk credentials rotate`, then drop the old key.
"""

from __future__ import annotations

import functools
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialKeyError(Exception):
    pass


def _read_keys() -> list[str]:
    if settings.OPSDESK_CREDENTIAL_KEYS:
        return list(settings.OPSDESK_CREDENTIAL_KEYS)
    path = settings.OPSDESK_CREDENTIAL_KEY_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode() + "\n")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


@functools.cache
def fernet() -> MultiFernet:
    keys = _read_keys()
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise CredentialKeyError(
            "OPSDESK_CREDENTIAL_KEYS (or the credential_keys file) holds a key that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)"
        ) from exc


def reset_cache() -> None:
    fernet.cache_clear()


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialKeyError("no configured key decrypts this secret") from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key."""
    return fernet().rotate(token.encode()).decode()


def add_key_to_file() -> str:
    """Put a freshly generated key first in the key file; older keys still decrypt."""
    path = settings.OPSDESK_CREDENTIAL_KEY_FILE
    keys = _read_keys() if not settings.OPSDESK_CREDENTIAL_KEYS else []
    new = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join([new, *keys]) + "\n")
    reset_cache()
    return new
