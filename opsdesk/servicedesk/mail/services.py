"""The mail actions people take: add and change a mailbox (its passwords encrypted, never shown
again), test its connections, fetch it now, give a triage mail its customer, retry a
quarantined mail. Each is one transaction with one audit row."""

from __future__ import annotations

import json
from typing import Any

from auditlog.context import disable_auditlog
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from opsdesk.core import crypto
from opsdesk.core.actions import domain_action, permission_denied
from opsdesk.core.models import Customer, User
from opsdesk.core.permissions import MANAGERS
from opsdesk.core.scoping import object_in_scope
from opsdesk.core.services import create_object, update_object
from opsdesk.servicedesk.mail import connections
from opsdesk.servicedesk.models import CustomerMailDomain, InboundMail, MailChannel
from opsdesk.servicedesk.models.mail import InboundState

SECRETS = connections.SECRET_NAMES


def _secret_setter(given: dict[str, Any], *, keep: dict[str, str]):
    def prepare(channel: MailChannel) -> None:
        unknown = sorted(set(given) - set(SECRETS))
        if unknown:
            raise ValidationError({"secrets": _("Not a secret of a mail channel: %(names)s.")
                                   % {"names": ", ".join(unknown)}})
        secrets = {**keep, **{k: str(v) for k, v in given.items() if v not in (None, "")}}
        channel.secrets_encrypted = crypto.encrypt(json.dumps(secrets)) if secrets else ""
    return prepare


def _split(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    data = dict(data)
    secrets = dict(data.pop("secrets", None) or {})
    for name in SECRETS:
        if name in data:
            secrets[name] = data.pop(name)
    return data, secrets


def create_channel(data: dict[str, Any], *, actor: User | None) -> MailChannel:
    data, secrets = _split(data)
    return create_object(MailChannel, data, actor=actor, prepare=_secret_setter(secrets, keep={}))


def update_channel(channel: MailChannel, data: dict[str, Any], *, actor: User | None) -> MailChannel:
    """An empty password keeps the stored one."""
    data, secrets = _split(data)
    return update_object(channel, data, actor=actor,
                         prepare=_secret_setter(secrets, keep=connections.secrets_of(channel)))


def check_connections(channel: MailChannel) -> str:
    """Log in to the IMAP server (and open the folder) and to the SMTP server; one line each."""
    from opsdesk.servicedesk.mail.fetch import quote_folder

    lines = []
    try:
        conn = connections.imap(channel)
        try:
            typ, data = conn.select(quote_folder(channel.folder), readonly=True)
            if typ != "OK":
                raise ConnectionError(_("the folder %(folder)s cannot be opened") % {"folder": channel.folder})
            count = int(data[0] or 0)
            idle = "IDLE" in conn.capabilities
        finally:
            connections.logout(conn)
        lines.append(_("IMAP: connected, %(count)d messages in %(folder)s%(idle)s.") % {
            "count": count, "folder": channel.folder, "idle": _(", IDLE offered") if idle else ""})
    except Exception as exc:
        lines.append(_("IMAP: %(error)s") % {"error": connections.scrub(f"{type(exc).__name__}: {exc}", channel)})
    if channel.smtp_host:
        try:
            with connections.smtp(channel) as conn:
                code, _text = conn.noop()
            lines.append(_("SMTP: connected (%(code)s).") % {"code": code})
        except Exception as exc:
            lines.append(_("SMTP: %(error)s") % {"error": connections.scrub(f"{type(exc).__name__}: {exc}", channel)})
    return "\n".join(lines)[:4000]


def test_connection(channel: MailChannel, *, actor: User | None) -> MailChannel:
    """The result is kept on the mailbox (its page shows it), whatever it is."""
    result = check_connections(channel)
    with domain_action(actor, "test_connection", channel) as action:
        now = timezone.now()
        MailChannel.objects.filter(pk=channel.pk).update(last_test=result, last_test_at=now)
        channel.last_test, channel.last_test_at = result, now
        action.audit(channel, {"last_test": ["", result.splitlines()[0] if result else ""]})
    return channel


def fetch_now(channel: MailChannel, *, actor: User | None) -> MailChannel:
    if not channel.enabled:
        raise ValidationError({"enabled": _("The mail channel is disabled: enable it to fetch.")})
    with domain_action(actor, "fetch_now", channel) as action:
        action.audit(channel, {"fetch": ["", timezone.now().isoformat()]})
        channel_id = channel.pk

        def wake() -> None:
            from opsdesk.servicedesk.mail import tasks

            tasks.fetch_mailbox.delay(channel_id)

        transaction.on_commit(wake)
    return channel


def _refile(row: InboundMail, *, actor: User | None, action_name: str, customer: Customer | None = None,
            remember_domain: bool = False) -> InboundMail:
    """File a kept message again (a person's answer to triage, or a retry) in one transaction:
    one audit row, on the mail, naming what became of it. The ticket action it causes is
    recorded by that row (the ticket's own creation row is not written twice)."""
    from opsdesk.servicedesk.mail import intake
    from opsdesk.servicedesk.mail.parsing import parse

    raw = intake.read_raw(row)
    mail = parse(raw)
    before = {"state": row.state, "customer": row.customer_id, "ticket": row.ticket_id}
    with domain_action(actor, action_name, row) as action, disable_auditlog():
        locked = InboundMail.objects.select_for_update().get(pk=row.pk)
        if locked.state != before["state"]:
            raise ValidationError({"state": _("This mail was handled meanwhile.")})
        intake.decide(row, mail, row.channel, customer=customer)
        row.save()
        changes: dict[str, list] = {}
        if remember_domain and customer is not None and "@" in row.from_address:
            domain = row.from_address.rpartition("@")[2].lower()
            _kept, made = CustomerMailDomain.objects.get_or_create(domain=domain, defaults={"customer": customer})
            if made:
                changes["mail_domain"] = [None, f"{domain} → {customer.code}"]
        after = {"state": row.state, "customer": row.customer_id, "ticket": row.ticket_id}
        changes.update({k: [before[k], after[k]] for k in before if before[k] != after[k]})
        action.audit(row, changes)
    return row


def assign_customer(row: InboundMail, *, actor: User | None, customer: Customer,
                    remember_domain: bool = False) -> InboundMail:
    """A triage mail belongs to `customer`: it opens the customer's ticket (and, if asked, mail
    from the sender's domain goes to that customer from now on)."""
    if row.state != InboundState.TRIAGE:
        raise ValidationError({"customer": _("Only a mail waiting in triage can be given a customer.")})
    from opsdesk.servicedesk.mail import intake

    if actor is not None and not object_in_scope(actor, customer):
        raise permission_denied()
    if remember_domain and actor is not None and getattr(actor, "role", "") not in MANAGERS:
        raise ValidationError({"remember_domain": _("Only managers may add a customer's mail domain.")})
    try:
        return _refile(row, actor=actor, action_name="assign_customer", customer=customer,
                       remember_domain=remember_domain)
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and set(exc.error_dict) <= {"state", "customer", "remember_domain"}:
            raise
        raise ValidationError({"customer": intake._describe(exc)}) from None


def retry(row: InboundMail, *, actor: User | None) -> InboundMail:
    """File a quarantined mail again (after the cause was fixed): it becomes whatever it is."""
    if row.state != InboundState.QUARANTINED:
        raise ValidationError({"state": _("Only a quarantined mail can be retried.")})
    # The fetcher's modules (the email parser) are loaded by the processes that file mail only.
    from opsdesk.servicedesk.mail import intake
    from opsdesk.servicedesk.mail.parsing import parse

    try:
        raw = intake.read_raw(row)
        parse(raw)
    except Exception as exc:
        raise ValidationError({"state": _("The message still cannot be read: %(error)s")
                               % {"error": intake._describe(exc)}}) from None
    try:
        return _refile(row, actor=actor, action_name="retry")
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and set(exc.error_dict) == {"state"}:
            raise
        raise ValidationError({"state": intake._describe(exc)}) from None
