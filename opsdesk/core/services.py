"""Domain operations of the core app. Views, the API, tasks and commands all call these, so a
change made any way takes the same path: one transaction, validation, an audit row."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from auditlog.context import set_actor
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from opsdesk.core import crypto
from opsdesk.core.models import ApiToken, Credential, Heartbeat, Role, User
from opsdesk.core.models.tokens import hash_token, new_raw_token


@contextlib.contextmanager
def acting_as(actor: User | None) -> Iterator[None]:
    """Attribute audit rows written inside to `actor` (commands and tasks; requests get this
    from AuditActorMiddleware)."""
    if actor is None:
        yield
        return
    with set_actor(actor):
        yield


def save_form(form, user: User | None) -> Model:
    """The generic create/update: validation already ran in the form; save atomically."""
    with transaction.atomic():
        return form.save()


def delete_object(obj: Model, user: User | None) -> None:
    with transaction.atomic():
        obj.delete()


# --- users -----------------------------------------------------------------------------------

def create_user(*, username: str, role: str, password: str | None = None, email: str = "",
                customer=None, first_name: str = "", last_name: str = "", actor: User | None = None) -> User:
    user = User(username=username, role=role, email=email, customer=customer,
                first_name=first_name, last_name=last_name)
    if password:
        from django.contrib.auth.password_validation import validate_password

        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    with acting_as(actor), transaction.atomic():
        user.save()
    return user


def ensure_admin(username: str, password: str | None) -> tuple[User, str | None]:
    """The first administrator: created once, with the given password or a generated one that is
    returned so it can be printed once. An existing account is left as it is."""
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return existing, None
    import secrets

    generated = None if password else secrets.token_urlsafe(12)
    user = User(username=username, role=Role.ADMIN)
    user.set_password(password or generated)
    with transaction.atomic():
        user.save()
    return user, generated


# --- API tokens ------------------------------------------------------------------------------

def create_token(user: User, *, name: str, write: bool = False, expires_at: dt.datetime | None = None,
                 actor: User | None = None) -> tuple[ApiToken, str]:
    """Make a token and return it with its raw value, which is shown once and never stored."""
    if not name.strip():
        raise ValidationError({"name": _("This field is required.")})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    if user.role == Role.CUSTOMER and write:
        raise ValidationError({"write": _("Customer users can only have read-only tokens.")})
    raw = new_raw_token()
    token = ApiToken(user=user, name=name.strip(), key_hash=hash_token(raw), key_prefix=raw[:10],
                     write=write, expires_at=expires_at)
    with acting_as(actor or user), transaction.atomic():
        token.save()
    return token, raw


def authenticate_token(raw: str) -> ApiToken | None:
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
    if token is None or token.is_expired or not token.user.is_active:
        return None
    now = timezone.now()
    # Written at most once a minute: a busy token must not turn every read into a write.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# --- credentials -----------------------------------------------------------------------------

def set_credential_secret(credential: Credential, secret: str) -> None:
    credential.secret_encrypted = crypto.encrypt(secret) if secret else ""
    credential.secret_changed_at = timezone.now()


def reveal_credential_secret(credential: Credential) -> str:
    """For the collectors that log in with it; never for a page or an API answer."""
    return crypto.decrypt(credential.secret_encrypted) if credential.secret_encrypted else ""


def rotate_credential_keys() -> int:
    """Re-encrypt every secret with the newest key; returns how many were re-encrypted."""
    count = 0
    with transaction.atomic():
        for cred in Credential.objects.exclude(secret_encrypted="").select_for_update():
            Credential.objects.filter(pk=cred.pk).update(secret_encrypted=crypto.rotate(cred.secret_encrypted))
            count += 1
    return count


# --- heartbeat -------------------------------------------------------------------------------

def beat(name: str, detail: str = "") -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now(), "detail": detail[:200]})
