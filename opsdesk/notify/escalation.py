"""Pages: one escalation running for one cause, from its start to an acknowledgement, a resolution
or the end of the policy.

Each function runs inside the caller's transaction (monitoring opens a page in the same
transaction as the alert), and every notification is a row written by `services.queue` with an
idempotency key naming the page, round, step and contact method: a step run twice, by two workers
or after a crash, sends nothing twice. Two workers advancing at once are kept apart by a
conditional update on (state, step, round, next_at): the one whose update finds the row as it read
it does the step, the other does nothing (Healthchecks' habit).

Timing: step 0 runs at once; step i+1 runs `steps[i+1].delay_minutes` after step i when nobody
acknowledged. After the last step the list starts again (`repeat` more times), and after the last
round the policy's final person is paged and the page is EXHAUSTED. Going back to the first step,
and on to the final person, waits the first step's delay, else the last step's, else
REPEAT_MINUTES.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from opsdesk.core.actions import domain_action
from opsdesk.core.models import Customer, User
from opsdesk.notify.models import (
    Channel,
    ContactKind,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    Page,
    PageState,
    StepTarget,
)
from opsdesk.notify.oncall import on_call
from opsdesk.notify.services import queue
from opsdesk.notify.signals import page_acknowledged

DEFAULT_LANGUAGE = "zh-hans"
REPEAT_MINUTES = 5
SEVERITY_RANK = {"critical": 3, "major": 2, "minor": 1, "info": 0}
# Pages advanced per call of advance_due_pages (the beat calls it every 15 s).
BATCH = 200


@dataclass(frozen=True)
class Destination:
    """Where one person is reached: a channel, the address on it, and the key part naming it."""

    channel: Channel
    address: str
    key: str


def _text(message: dict[str, Any], language: str) -> dict[str, Any]:
    """The message in `language`, else in Chinese, else in whatever language it has."""
    if not message:
        return {"title": "", "text": ""}
    return message.get(language) or message.get(DEFAULT_LANGUAGE) or next(iter(message.values()))


def _severity(message: dict[str, Any]) -> str:
    return str(_text(message, DEFAULT_LANGUAGE).get("severity") or "info")


def _first_channel(kind: str) -> Channel | None:
    """The first enabled channel of a type that reaches a contact of this kind (email, SMS, voice)."""
    from opsdesk.notify.channels import CONTACT_KINDS

    return Channel.objects.filter(kind__in=CONTACT_KINDS.get(kind, (kind,)), enabled=True) \
        .order_by("customer_id", "pk").first()


def destinations(user: User, severity: str) -> list[Destination]:
    """The ways `user` is reached for a message of `severity`: their enabled contact methods whose
    threshold the severity reaches; with no enabled method at all, their email through the first
    enabled email channel. A method whose channel or address is missing is left out."""
    methods = list(ContactMethod.objects.filter(user=user, enabled=True).select_related("channel"))
    rank = SEVERITY_RANK.get(severity, 0)
    found: list[Destination] = []
    if not methods:
        channel = _first_channel(ContactKind.EMAIL)
        if channel is not None and user.email:
            found.append(Destination(channel, user.email, f"user{user.pk}"))
        return found
    for method in methods:
        if SEVERITY_RANK.get(method.min_severity, 0) > rank:
            continue
        if method.kind == ContactKind.CHANNEL:
            if method.channel is not None and method.channel.enabled:
                found.append(Destination(method.channel, method.address, str(method.pk)))
            continue
        channel = method.channel if method.channel is not None and method.channel.enabled else \
            _first_channel(method.kind)
        address = method.address or (user.email if method.kind == ContactKind.EMAIL else user.phone)
        if channel is not None and address:
            found.append(Destination(channel, address, str(method.pk)))
    return found


def _tell(page: Page, user: User, message: dict[str, Any], key: str, *, severity: str | None = None) -> int:
    """Queue `message` for every destination of `user`; the count of new notifications."""
    language = user.language or DEFAULT_LANGUAGE
    text = dict(_text(message, language))
    if severity is not None:
        text["severity"] = severity
    made = 0
    for destination in destinations(user, text.get("severity") or "info"):
        if queue(destination.channel, text, key=f"{key}:{destination.key}", source=page.source,
                 customer=page.customer, address=destination.address, recipient=user,
                 language=language) is not None:
            made += 1
    return made


def tell_users(users: list[User], *, message: dict[str, Any], key: str, source: str,
               customer: Customer | None = None) -> int:
    """Tell people something outside any page (a silence about to end): each in their language,
    on their destinations; `key` makes it once per person. Answers how many notifications."""
    made = 0
    for user in users:
        language = user.language or DEFAULT_LANGUAGE
        text = dict(_text(message, language))
        for destination in destinations(user, text.get("severity") or "info"):
            if queue(destination.channel, text, key=f"{key}:{user.pk}:{destination.key}", source=source,
                     customer=customer, address=destination.address, recipient=user, language=language):
                made += 1
    return made


def _tell_channels(page: Page, message: dict[str, Any], key: str) -> None:
    for channel in Channel.objects.filter(pk__in=page.channel_ids, enabled=True):
        queue(channel, dict(_text(message, DEFAULT_LANGUAGE)), key=f"{key}:channel{channel.pk}",
              source=page.source, customer=page.customer, language=DEFAULT_LANGUAGE)


def step_users(step: EscalationStep, at: dt.datetime) -> list[User]:
    """The people one step notifies at `at`."""
    if step.target == StepTarget.SCHEDULE and step.schedule is not None:
        return on_call(step.schedule, at)
    if step.target == StepTarget.USER and step.user is not None:
        return [step.user] if step.user.is_active else []
    if step.target == StepTarget.TEAM and step.team is not None:
        return list(step.team.members.filter(is_active=True).order_by("pk"))
    return []


def _steps(policy: EscalationPolicy | None) -> list[EscalationStep]:
    if policy is None:
        return []
    return list(policy.steps.select_related("schedule", "user", "team").order_by("position", "pk"))


def _wrap_delay(steps: list[EscalationStep]) -> dt.timedelta:
    minutes = (steps[0].delay_minutes if steps else 0) or (steps[-1].delay_minutes if steps else 0) or REPEAT_MINUTES
    return dt.timedelta(minutes=minutes)


def _run_step(page: Page, steps: list[EscalationStep], at: dt.datetime) -> list[int]:
    """Notify the people of the page's current step; the ids of those paged."""
    users = step_users(steps[page.step], at)
    for user in users:
        _tell(page, user, page.message, f"page:{page.pk}:{page.round}:{page.step}")
    return [u.pk for u in users]


def _after(page: Page, steps: list[EscalationStep], at: dt.datetime) -> dt.datetime:
    """When the step after the page's current one is due."""
    if page.step + 1 < len(steps):
        return at + dt.timedelta(minutes=steps[page.step + 1].delay_minutes)
    return at + _wrap_delay(steps)


def _merge(ids: list[int], more: list[int]) -> list[int]:
    return ids + [i for i in more if i not in ids]


def resolve_policy(customer: Customer | None) -> EscalationPolicy | None:
    """The policy that pages for a customer when the caller names none."""
    if customer is None:
        return None
    return EscalationPolicy.objects.filter(customers=customer).order_by("name", "pk").first()


def start_page(source: str, *, customer: Customer | None, policy: EscalationPolicy | None = None,
               message: dict[str, dict[str, Any]], channels: tuple[Channel, ...] | list[Channel] = (),
               now: dt.datetime | None = None) -> Page:
    """Open the page for `source` and run its first step at once. A second start for the same
    source returns the page already there (and notifies nobody again). `message` is
    {language: {title, text, severity, url, fields}}."""
    existing = Page.objects.filter(source=source).first()
    if existing is not None:
        return existing
    at = now or timezone.now()
    if policy is None:
        policy = resolve_policy(customer)
    channel_ids = [c.pk for c in channels]
    if policy is not None:
        channel_ids = _merge(channel_ids, list(policy.channels.values_list("pk", flat=True)))
    page = Page(source=source[:100], customer=customer, policy=policy, message=message, channel_ids=channel_ids)
    try:
        with transaction.atomic():  # a savepoint: a concurrent start of the same source wins cleanly
            page.save()
    except IntegrityError:
        return Page.objects.get(source=source[:100])
    steps = _steps(policy)
    _tell_channels(page, message, f"page:{page.pk}:open")
    if steps:
        page.paged_users = _run_step(page, steps, at)
        page.next_at = _after(page, steps, at)
        Page.objects.filter(pk=page.pk).update(paged_users=page.paged_users, next_at=page.next_at)
    return page


def _advance(page: Page, at: dt.datetime) -> bool:
    """Move one due page on by one step (or to its end). False when another worker did."""
    steps = _steps(page.policy)
    claim = Page.objects.filter(pk=page.pk, state=PageState.ACTIVE, step=page.step, round=page.round,
                                next_at=page.next_at)
    last_round = page.policy.repeat if page.policy is not None else 0
    if not steps:
        return bool(claim.update(next_at=None))
    if page.step + 1 < len(steps):
        page.step += 1
    elif page.round < last_round:
        page.step, page.round = 0, page.round + 1
    else:
        final = page.policy.final_user if page.policy is not None else None
        if not claim.update(state=PageState.EXHAUSTED, next_at=None):
            return False
        if final is not None and final.is_active:
            _tell(page, final, page.message, f"page:{page.pk}:final")
            Page.objects.filter(pk=page.pk).update(paged_users=_merge(page.paged_users, [final.pk]))
        return True
    next_at = _after(page, steps, at)
    if not claim.update(step=page.step, round=page.round, next_at=next_at):
        return False
    paged = _run_step(page, steps, at)
    Page.objects.filter(pk=page.pk).update(paged_users=_merge(page.paged_users, paged))
    return True


def advance_due_pages(now: dt.datetime | None = None) -> int:
    """Move every active page whose next step is due; the number moved. Safe to run in several
    workers at once."""
    at = now or timezone.now()
    due = list(Page.objects.filter(state=PageState.ACTIVE, next_at__lte=at)
               .select_related("policy", "policy__final_user", "customer").order_by("next_at", "pk")[:BATCH])
    moved = 0
    for page in due:
        with transaction.atomic():
            if _advance(page, at):
                moved += 1
    return moved


def _stop(source: str, state: str, extra: dict[str, Any]) -> Page | None:
    page = Page.objects.filter(source=source[:100]).select_related("customer").first()
    if page is None:
        return None
    allowed = Q(state=PageState.ACTIVE) | Q(state=PageState.EXHAUSTED)
    if state == PageState.RESOLVED:
        allowed |= Q(state=PageState.ACKNOWLEDGED)
    if not Page.objects.filter(allowed, pk=page.pk).update(state=state, next_at=None, **extra):
        return None
    page.refresh_from_db()
    return page


def acknowledge_page(source: str, *, actor: User | None, now: dt.datetime | None = None) -> Page | None:
    """Someone answered: no further steps, and the people paged so far hear who took it. A page
    already acknowledged or resolved is left as it is (None is answered)."""
    at = now or timezone.now()
    with transaction.atomic():
        page = _stop(source, PageState.ACKNOWLEDGED, {"acknowledged_at": at, "acknowledged_by": actor})
        if page is None:
            return None
        who = str(actor) if actor is not None else "opsdesk"
        notice = {lang: _acknowledged(text, who, lang) for lang, text in (page.message or {}).items()}
        for user in User.objects.filter(pk__in=page.paged_users, is_active=True):
            if actor is not None and user.pk == actor.pk:
                continue
            _tell(page, user, notice, f"page:{page.pk}:ack:{user.pk}")
        return page


def acknowledge(page: Page, *, actor: User | None) -> Page:
    """The "Acknowledge" action of a page (its own page, the API): the steps stop, those paged
    hear who took it, and the page's cause is acknowledged by the app that raised it."""
    with domain_action(actor, "acknowledge", page) as action:
        if page.state not in (PageState.ACTIVE, PageState.EXHAUSTED):
            raise ValidationError({"state": gettext("This page was already acknowledged or resolved.")})
        before = page.state
        stopped = acknowledge_page(page.source, actor=actor)
        if stopped is None:
            raise ValidationError({"state": gettext("This page was already acknowledged or resolved.")})
        action.audit(stopped, {"state": [before, stopped.state]})
        action.emit(page_acknowledged, page=stopped, actor=actor)
    return stopped


def resolve_page(source: str, *, message: dict[str, dict[str, Any]]) -> Page | None:
    """The cause is over: no further steps, and everyone paged so far and the page's channels are
    told (`message`, per language). An unknown source, or a page already resolved, is a no-op."""
    with transaction.atomic():
        page = _stop(source, PageState.RESOLVED, {})
        if page is None:
            return None
        for user in User.objects.filter(pk__in=page.paged_users, is_active=True):
            # Told whatever their thresholds: they were woken for it, they hear that it ended.
            _tell(page, user, message, f"page:{page.pk}:resolved:{user.pk}", severity=_severity(page.message))
        _tell_channels(page, message, f"page:{page.pk}:resolved")
        return page


def _acknowledged(text: dict[str, Any], who: str, language: str) -> dict[str, Any]:
    with translation.override(language):
        line = gettext("%(person)s acknowledged: %(title)s") % {"person": who, "title": text.get("title", "")}
    return {**text, "title": line[:300], "text": line}
