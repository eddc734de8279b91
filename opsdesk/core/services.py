"""Domain actions of the core app, and the generic create/update/delete every registered model
gets. Views, bulk edit, the API, tasks and commands all call these, so a change made any way
takes the same path: permission, validation, one transaction, an audit row with the actor,
events after commit (opsdesk.core.actions.domain_action)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from opsdesk.core import crypto, registry
from opsdesk.core.actions import acting_as, domain_action, permission_denied
from opsdesk.core.models import ApiToken, Credential, Heartbeat, Role, User
from opsdesk.core.models.tokens import hash_token, new_raw_token
from opsdesk.core.permissions import can
from opsdesk.core.scoping import object_in_scope

__all__ = ["acting_as", "create", "update", "delete", "create_object", "update_object", "delete_object"]


# --- the generic create, update and delete ----------------------------------------------------

def create(model: type[Model], data: dict[str, Any], *, actor: User | None) -> Model:
    """Create an object of a registered model from validated field values."""
    entry = registry.get(model)
    if entry.create is not None:
        return entry.create(data, actor=actor)
    return create_object(model, data, actor=actor)


def update(obj: Model, data: dict[str, Any], *, actor: User | None) -> Model:
    entry = registry.get(type(obj))
    if entry.update is not None:
        return entry.update(obj, data, actor=actor)
    return update_object(obj, data, actor=actor)


def delete(obj: Model, *, actor: User | None) -> None:
    entry = registry.get(type(obj))
    if entry.delete is not None:
        entry.delete(obj, actor=actor)
        return
    delete_object(obj, actor=actor)


def writable_data(model: type[Model], data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split `data` into column values and many-to-many values, dropping what no generic write
    may set: fields an action owns (the entry's readonly_fields), non-editable fields, keys."""
    entry = registry.find(model)
    readonly = set(entry.readonly_fields) if entry else set()
    plain, m2m = {}, {}
    for f in model._meta.get_fields():
        if f.name not in data or f.name in readonly or f.auto_created or not getattr(f, "editable", False):
            continue
        if f.many_to_many:
            m2m[f.name] = data[f.name]
        elif f.concrete and not f.primary_key:
            plain[f.name] = data[f.name]
    return plain, m2m


def check_references(actor: User | None, values: dict[str, Any]) -> None:
    """Every related object given must be one the actor may see: a guessed id of another
    customer's object is refused here too, whatever form or serializer passed it on."""
    if actor is None:
        return
    errors = {}
    for name, value in values.items():
        related = list(value) if isinstance(value, (list, tuple, set)) or hasattr(value, "all") and \
            not isinstance(value, Model) else [value]
        for item in related:
            if isinstance(item, Model) and not object_in_scope(actor, item):
                errors[name] = [_("Select a valid choice. That choice is not one of the available choices.")]
    if errors:
        raise ValidationError(errors)


def _assign(obj: Model, plain: dict[str, Any]) -> None:
    for name, value in plain.items():
        setattr(obj, name, value)


def create_object(model: type[Model], data: dict[str, Any], *, actor: User | None,
                  prepare=None) -> Model:
    """The generic create: `prepare(obj)` may set what the data cannot (a hashed password)."""
    plain, m2m = writable_data(model, data)
    obj = model()
    _assign(obj, plain)
    if actor is not None and not can(actor, "add", obj):
        raise permission_denied()
    check_references(actor, {**plain, **m2m})
    if prepare is not None:
        prepare(obj)
    obj.full_clean()
    with domain_action(actor, "add", obj, check=False):
        obj.save()
        for name, value in m2m.items():
            getattr(obj, name).set(value)
    return obj


def update_object(obj: Model, data: dict[str, Any], *, actor: User | None, prepare=None) -> Model:
    """The generic update: the actor must be allowed to change the object as it was and as it
    will be (an engineer cannot move an item to a customer their teams do not serve)."""
    if actor is not None and not can(actor, "change", obj):
        raise permission_denied()
    plain, m2m = writable_data(type(obj), data)
    _assign(obj, plain)
    if actor is not None and not can(actor, "change", obj):
        raise permission_denied()
    check_references(actor, {**plain, **m2m})
    if prepare is not None:
        prepare(obj)
    obj.full_clean()
    with domain_action(actor, "change", obj, check=False):
        obj.save()
        for name, value in m2m.items():
            getattr(obj, name).set(value)
    return obj


def delete_object(obj: Model, *, actor: User | None) -> None:
    with domain_action(actor, "delete", obj):
        obj.delete()


def run_action(obj: Model, name: str, *, actor: User | None, **params: Any) -> Any:
    """Run a named action declared in the registry (the UI and API both come here)."""
    entry = registry.get(type(obj))
    action = entry.action(name)
    if action is None:
        raise LookupError(name)
    if actor is not None and not can(actor, name, obj):
        raise permission_denied()
    return action.run(obj, actor=actor, **params)


# --- users -----------------------------------------------------------------------------------

def _password_setter(password: str | None, *, new: bool):
    """Checks the password against the validators (the one place that does) and hashes it."""
    def prepare(user: User) -> None:
        if password:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise ValidationError({"password": exc.messages}) from None
            user.set_password(password)
        elif new:
            user.set_unusable_password()
    return prepare


def create_user(data: dict[str, Any], *, actor: User | None) -> User:
    data = dict(data)
    password = data.pop("password", None)
    return create_object(User, data, actor=actor, prepare=_password_setter(password, new=True))


def update_user(user: User, data: dict[str, Any], *, actor: User | None) -> User:
    data = dict(data)
    password = data.pop("password", None)
    return update_object(user, data, actor=actor, prepare=_password_setter(password, new=False))


def set_password(user: User, password: str, *, actor: User | None) -> User:
    with domain_action(actor, "set_password", user) as act:
        _password_setter(password, new=False)(user)
        user.save(update_fields=["password"])
        # The log never holds a password, not even its hash: it records that it changed.
        act.audit(user, {"password": ["•••", "•••"]})
    return user


def update_preferences(user: User, data: dict[str, Any], *, actor: User) -> User:
    """A person's own language, time zone and contact details (their account page)."""
    if actor.pk != user.pk:
        raise permission_denied()
    for name, value in data.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"])
    with domain_action(actor, "update_preferences", user, check=False):
        user.save(update_fields=list(data))
    return user


def delete_user(user: User, *, actor: User | None) -> None:
    """Delete an account; not your own (the audit row of the deletion would name an actor who no
    longer exists, and nobody could then say who did it)."""
    if actor is not None and actor.pk == user.pk:
        raise ValidationError({"user": _("You cannot delete your own account.")})
    delete_object(user, actor=actor)


def deactivate_user(user: User, *, actor: User | None) -> User:
    if actor is not None and actor.pk == user.pk:
        raise ValidationError({"is_active": _("You cannot deactivate your own account.")})
    with domain_action(actor, "deactivate", user):
        user.is_active = False
        user.save(update_fields=["is_active"])
    return user


def activate_user(user: User, *, actor: User | None) -> User:
    with domain_action(actor, "activate", user):
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def unlock_user(user: User, *, actor: User | None) -> int:
    """Clear the login lockout (django-axes) of a user; one audit row says who did it."""
    from axes.utils import reset

    with domain_action(actor, "unlock", user) as act:
        count = reset(username=user.username)
        act.audit(user, {"lockout": [str(count), "0"]})
    return count


def reset_two_factor(user: User, *, actor: User | None) -> int:
    """Remove a user's TOTP devices (a lost phone); they enrol again at their next login."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    with domain_action(actor, "reset_two_factor", user) as act:
        count, _detail = TOTPDevice.objects.filter(user=user).delete()
        act.audit(user, {"two_factor": [str(count), "0"]})
    return count


def _own_account(user: User, actor: User | None) -> None:
    if actor is not None and actor.pk != user.pk:
        raise permission_denied()


def start_two_factor(user: User, *, actor: User | None):
    """The unconfirmed TOTP device a person is enrolling (made once, kept until confirmed)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    _own_account(user, actor)
    pending = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if pending is None:
        with domain_action(actor, "start_two_factor", user, check=False):
            pending = TOTPDevice.objects.create(user=user, name="default", confirmed=False)
    return pending


def confirm_two_factor(device, code: str, *, actor: User | None) -> bool:
    """Turn two-factor on once the person proves the device with a current code."""
    _own_account(device.user, actor)
    if not device.verify_token(code):
        return False
    with domain_action(actor, "enable_two_factor", device.user, check=False) as act:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        act.audit(device.user, {"two_factor": ["off", "on"]})
    return True


def disable_two_factor(user: User, *, actor: User | None) -> None:
    """Turn two-factor off for one's own account (the page has checked the password or a code;
    an administrator uses the reset_two_factor action instead)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    _own_account(user, actor)
    with domain_action(actor, "disable_two_factor", user, check=False) as act:
        TOTPDevice.objects.filter(user=user).delete()
        act.audit(user, {"two_factor": ["on", "off"]})


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
    with domain_action(None, "add", user), transaction.atomic():
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
    with domain_action(actor or user, "add_token", user, check=False):
        token.save()
    return token, raw


def revoke_token(token: ApiToken, *, actor: User | None) -> None:
    """A person revokes their own tokens; administrators anyone's."""
    if actor is not None and actor.pk != token.user_id and actor.role != Role.ADMIN:
        raise permission_denied()
    with domain_action(actor, "revoke_token", token.user, check=False):
        token.delete()


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

def _secret_setter(secret: str | None, *, new: bool):
    def prepare(credential: Credential) -> None:
        if secret:
            set_credential_secret(credential, secret)
        elif new:
            raise ValidationError({"secret": _("This field is required.")})
    return prepare


def create_credential(data: dict[str, Any], *, actor: User | None) -> Credential:
    data = dict(data)
    secret = data.pop("secret", None)
    return create_object(Credential, data, actor=actor, prepare=_secret_setter(secret, new=True))


def update_credential(credential: Credential, data: dict[str, Any], *, actor: User | None) -> Credential:
    data = dict(data)
    secret = data.pop("secret", None)
    return update_object(credential, data, actor=actor, prepare=_secret_setter(secret, new=False))


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
