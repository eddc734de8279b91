"""Factories for every registered model. `make_owned(model, customer)` makes an object that the
given customer owns: the generic tenancy tests use it for every customer-owned model, so a new
model only needs a line in OWNED here."""

from __future__ import annotations

import datetime as dt
import itertools

import factory

from opsdesk.cmdb.models import CIKind, ConfigurationItem, Relation
from opsdesk.core import services
from opsdesk.core.models import Contact, Contract, Credential, Customer, Role, ServiceLevel, Site, Team, User


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    code = factory.Sequence(lambda n: f"CUST{n:04d}")
    name = factory.Sequence(lambda n: f"Customer {n} 客户")


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"site-{n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"contact-{n}")
    email = factory.Sequence(lambda n: f"c{n}@example.com")


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    customer = factory.SubFactory(CustomerFactory)
    number = factory.Sequence(lambda n: f"K-{n}")
    name = factory.Sequence(lambda n: f"contract-{n}")
    start_date = dt.date(2026, 1, 1)
    end_date = dt.date(2026, 12, 31)
    service_level = factory.LazyFunction(lambda: ServiceLevel.objects.order_by("pk").first())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.ENGINEER
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"team-{n}")


class CredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Credential
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"cred-{n}")
    kind = "password"
    username = "root"

    @factory.post_generation
    def secret(obj, create, extracted, **kwargs):
        services.set_credential_secret(obj, extracted or "s3cret-value")
        if create:
            obj.save()


class CIKindFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CIKind

    slug = factory.Sequence(lambda n: f"kind{n}")
    name = factory.Sequence(lambda n: f"Kind {n}")


def kind(slug: str = "server") -> CIKind:
    return CIKind.objects.get(slug=slug)


class ConfigurationItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConfigurationItem

    customer = factory.SubFactory(CustomerFactory)
    kind = factory.LazyFunction(lambda: kind("server"))
    name = factory.Sequence(lambda n: f"ci-{n:05d}")
    attributes = factory.LazyFunction(lambda: {"ip_address": "10.0.0.1"})


class RelationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Relation

    source = factory.SubFactory(ConfigurationItemFactory)
    target = factory.LazyAttribute(lambda o: ConfigurationItemFactory(customer=o.source.customer))
    type = "runs_on"


OWNED = {
    Customer: lambda customer: customer,
    Site: lambda customer: SiteFactory(customer=customer),
    Contact: lambda customer: ContactFactory(customer=customer),
    Contract: lambda customer: ContractFactory(customer=customer),
    Credential: lambda customer: CredentialFactory(customer=customer),
    ConfigurationItem: lambda customer: ConfigurationItemFactory(customer=customer),
    Relation: lambda customer: RelationFactory(source=ConfigurationItemFactory(customer=customer)),
    User: lambda customer: UserFactory(role=Role.CUSTOMER, customer=customer),
}


def make_owned(model, customer):
    try:
        return OWNED[model](customer)
    except KeyError:
        raise AssertionError(f"{model.__name__} is customer-owned: add it to tests/factories.py OWNED") from None


# Objects a named action can run on: the first candidate the action applies to is used by the
# generic action tests (tests/core/test_actions.py).
ACTION_CANDIDATES = {
    User: [lambda: UserFactory(role=Role.ENGINEER), lambda: UserFactory(role=Role.ENGINEER, is_active=False)],
}
# Parameters for actions that take some: (model, action) -> form data.
ACTION_PARAMS = {
    (User, "set_password"): {"password": "a-Long-unusual-pass-93"},
}


def make_actionable(model, action):
    for make in ACTION_CANDIDATES.get(model, []):
        obj = make()
        if action.applies_to(obj):
            return obj
    raise AssertionError(f"add a candidate for {model.__name__}.{action.name} to tests/factories.py ACTION_CANDIDATES")


# --- monitoring ----------------------------------------------------------------------------------

def make_agent(customer=None, *, name: str = "", raw: str = ""):
    """An agent on a new host of `customer`; `raw` (or a new token) is its token."""
    from opsdesk.core.models.tokens import hash_token, new_raw_token
    from opsdesk.monitoring.models import Agent

    item = ConfigurationItemFactory(customer=customer) if customer else ConfigurationItemFactory()
    return Agent.objects.create(customer=item.customer, configuration_item=item, name=name or item.name,
                                key_hash=hash_token(raw or new_raw_token()))


def make_enrolment_token(customer=None, **kwargs):
    from opsdesk.monitoring.services import create_enrolment_token

    return create_enrolment_token(customer or CustomerFactory(), name=kwargs.pop("name", "enrol"), actor=None,
                                  **kwargs)[0]


def _monitoring_owned() -> None:
    from opsdesk.monitoring.models import Agent, EnrolmentToken

    OWNED[Agent] = lambda customer: make_agent(customer)
    OWNED[EnrolmentToken] = lambda customer: make_enrolment_token(customer)


_monitoring_owned()


# --- monitoring: checks in a state and series with samples (overview, trends) ------------------

def make_check_in_state(item, state: str = "ok", *, name: str = "", message: str = "", enabled: bool = True,
                        since=None):
    """A check of `item` as results left it: `state` since `since` (now), with `message` as reason."""
    from django.utils import timezone

    from opsdesk.monitoring.models import Check

    return Check.objects.create(customer=item.customer, configuration_item=item, type="ping",
                                name=name or f"check-{Check.objects.count() + 1}", state=state,
                                state_since=since or timezone.now(), last_run_at=timezone.now(),
                                last_message=message, enabled=enabled)


def make_series_with_points(item, name: str, points: list[tuple[float, float]], labels: dict | None = None):
    """A series of `item` with its samples [(ts, value)] written through the metric store."""
    from opsdesk.monitoring.models import Series
    from opsdesk.monitoring.series_ids import series_key
    from opsdesk.monitoring.store import Points, get_store

    labels = labels or {}
    last_ts, last_value = max(points) if points else (None, None)
    series = Series.objects.create(customer=item.customer, configuration_item=item, name=name, labels=labels,
                                   key=series_key(name, labels.items()), last_ts=last_ts, last_value=last_value)
    get_store().write([Points(series_id=series.pk, item_id=item.pk, customer_id=item.customer_id, name=name,
                              labels=labels, ts=[p[0] for p in points], values=[p[1] for p in points])])
    if points:  # first seen with its first sample, as an agent's series is
        first = dt.datetime.fromtimestamp(min(points)[0], tz=dt.UTC)
        if first < series.created_at:
            Series.objects.filter(pk=series.pk).update(created_at=first)
            series.created_at = first
    return series


# --- monitoring: checks, their history and the latest data (registry entries) ----------------

def make_check(customer=None, *, item=None, **kwargs):
    """A check of a new item of `customer` (or of `item`), in the state given (ok by default)."""
    item = item or (ConfigurationItemFactory(customer=customer) if customer else ConfigurationItemFactory())
    return make_check_in_state(item, kwargs.pop("state", "ok"), **kwargs)


def make_state_change(customer=None, *, check=None, previous: str = "ok", state: str = "critical",
                      message: str = "connection refused"):
    from django.utils import timezone

    from opsdesk.monitoring.models import CheckStateChange

    check = check or make_check(customer)
    return CheckStateChange.objects.create(monitor_check=check, previous=previous, state=state, at=timezone.now(),
                                           code="refused", message=message)


def make_series(customer=None, *, item=None, name: str = "cpu_usage_percent", labels: dict | None = None,
                points: list[tuple[float, float]] | None = None):
    """A series of a new item of `customer` (or of `item`) with `points` [(ts, value)] in the store."""
    item = item or (ConfigurationItemFactory(customer=customer) if customer else ConfigurationItemFactory())
    return make_series_with_points(item, name, points if points is not None else [(1_764_000_000.0, 42.0)], labels)


def _monitoring_checks_owned() -> None:
    from opsdesk.monitoring.models import Check, CheckStateChange, Series

    OWNED[Check] = lambda customer: make_check(customer)
    OWNED[CheckStateChange] = lambda customer: make_state_change(customer)
    OWNED[Series] = lambda customer: make_series(customer)
    ACTION_CANDIDATES[Check] = [lambda: make_check(), lambda: make_check(enabled=False)]


_monitoring_checks_owned()


# --- monitoring templates and discovery ------------------------------------------------------------

def make_template(kind=None, *, slug: str = "", name: str = "", checks: list | None = None):
    """A template of `kind` (default: a new kind, which no item has) with one ping check."""
    from opsdesk.monitoring.models import Template

    kind = kind or CIKindFactory()
    number = Template.objects.count() + 1
    return Template.objects.create(
        slug=slug or f"template-{kind.slug}-{number}", name=name or f"Template {number}", kind=kind,
        checks=checks if checks is not None else [
            {"name": "Ping", "type": "ping", "target": "{ip_address}", "params": {"count": 1}, "interval": 60,
             "timeout": 5}])


_discovery_numbers = iter(range(1, 1_000_000))


def make_discovery_run(customer=None, *, status: str = "done", **kwargs):
    from opsdesk.monitoring.models import DiscoveryRun

    n = next(_discovery_numbers)
    return DiscoveryRun.objects.create(customer=customer or CustomerFactory(), status=status,
                                       network=kwargs.pop("network", f"10.{n // 250}.{n % 250}.0/24"), **kwargs)


def make_discovered_device(customer=None, *, run=None, address: str = "", kind_slug: str | None = "server",
                           linked: bool = False, **kwargs):
    """A device found by a scan; `linked`: an item of the customer already has its address, so
    accepting it links the device to that item instead of making one."""
    from opsdesk.monitoring.models import DiscoveredDevice

    run = run or make_discovery_run(customer)
    n = next(_discovery_numbers)
    address = address or f"10.{200 + n // 62500 % 50}.{n // 250 % 250}.{n % 250 + 1}"
    if linked:
        ConfigurationItemFactory(customer=run.customer, kind=kind(kind_slug), attributes={"ip_address": address})
    return DiscoveredDevice.objects.create(run=run, customer=run.customer, address=address,
                                           kind=kind(kind_slug) if kind_slug else None, **kwargs)


def make_edited_template_check():
    """A check a template made, its interval edited on it (reset_to_template applies to it)."""
    from opsdesk.monitoring.models import Check
    from opsdesk.monitoring.template_services import apply_template

    template = make_template()
    item = ConfigurationItemFactory(kind=template.kind, attributes={"ip_address": "10.0.0.1"})
    apply_template(template, item, actor=None)
    check = Check.objects.get(configuration_item=item, template=template)
    Check.objects.filter(pk=check.pk).update(interval=300, edited=["interval"])
    check.refresh_from_db()
    return check


def _discovery_owned() -> None:
    from opsdesk.monitoring.models import Check, DiscoveredDevice, DiscoveryRun, Template

    OWNED[DiscoveryRun] = lambda customer: make_discovery_run(customer)
    OWNED[DiscoveredDevice] = lambda customer: make_discovered_device(customer, hostname=f"host-{customer.code}")
    # Applied to the whole kind of a new kind: no item, so only the template's own audit row.
    ACTION_CANDIDATES[Template] = [lambda: make_template()]
    ACTION_CANDIDATES[Check] = [*ACTION_CANDIDATES[Check], make_edited_template_check]
    ACTION_PARAMS[(Template, "apply_template")] = {"scope": "kind"}
    ACTION_CANDIDATES[DiscoveryRun] = [lambda: make_discovery_run()]
    # Linked to an existing item: accepting it writes the device only (creating items is tested
    # in tests/monitoring/test_discovery.py).
    ACTION_CANDIDATES[DiscoveredDevice] = [lambda: make_discovered_device(linked=True)]


_discovery_owned()


# --- monitoring: alerting --------------------------------------------------------------------------

def make_rule(customer=None, *, item=None, metric: str = "host_cpu_utilisation", **kwargs):
    """A threshold rule (> 90 by default) on `metric`, whose series must exist (the rule checks)."""
    from opsdesk.monitoring.models import AlertRule, Series

    if not Series.objects.filter(name=metric).exists():
        make_series(customer, item=item, name=metric)
    kwargs.setdefault("threshold", 90.0)
    return AlertRule.objects.create(name=kwargs.pop("name", f"rule {metric}"), customer=customer,
                                    configuration_item=item, metric=metric, **kwargs)


def make_alert(customer=None, *, state: str = "firing", item=None, **kwargs):
    from django.utils import timezone

    from opsdesk.monitoring.alerting.lifecycle import fingerprint
    from opsdesk.monitoring.models import Alert

    item = item or (ConfigurationItemFactory(customer=customer) if customer else ConfigurationItemFactory())
    now = timezone.now()
    return Alert.objects.create(customer=item.customer, configuration_item=item, source="webhook",
                                fingerprint=fingerprint("test", Alert.objects.count(), now.timestamp()),
                                title=kwargs.pop("title", f"{item.name} is down"),
                                severity=kwargs.pop("severity", "major"), state=state,
                                started_at=kwargs.pop("started_at", now), fired_at=now, last_seen_at=now, **kwargs)


def make_silence(customer=None, **kwargs):
    import datetime as dt

    from django.utils import timezone

    from opsdesk.monitoring.models import Silence

    now = timezone.now()
    return Silence.objects.create(customer=customer, matchers=[{"name": "severity", "op": "=", "value": "minor"}],
                                  starts_at=kwargs.pop("starts_at", now),
                                  ends_at=kwargs.pop("ends_at", now + dt.timedelta(hours=2)),
                                  reason=kwargs.pop("reason", "planned work"), **kwargs)


def make_maintenance(customer=None, **kwargs):
    import datetime as dt

    from django.utils import timezone

    from opsdesk.monitoring.models import MaintenanceWindow

    now = timezone.now()
    return MaintenanceWindow.objects.create(customer=customer or CustomerFactory(), name="patch night",
                                            starts_at=kwargs.pop("starts_at", now - dt.timedelta(minutes=5)),
                                            ends_at=kwargs.pop("ends_at", now + dt.timedelta(hours=1)), **kwargs)


def _alerting_owned() -> None:
    from opsdesk.monitoring.models import Alert, AlertRule, MaintenanceWindow, Silence

    OWNED[AlertRule] = lambda customer: make_rule(customer)
    OWNED[Alert] = lambda customer: make_alert(customer)
    OWNED[Silence] = lambda customer: make_silence(customer)
    OWNED[MaintenanceWindow] = lambda customer: make_maintenance(customer)
    ACTION_CANDIDATES[Alert] = [lambda: make_alert(), lambda: make_alert(state="acknowledged")]
    ACTION_PARAMS[(Alert, "comment")] = {"text": "looking at it"}
    ACTION_CANDIDATES[Silence] = [lambda: make_silence()]


_alerting_owned()


# --- notify: on-call -----------------------------------------------------------------------------

def make_schedule(*, name: str = "", with_rotation: bool = True):
    """A schedule with one weekly rotation of one engineer, started a day ago."""
    import datetime as dt

    from django.utils import timezone

    from opsdesk.notify.models import Rotation, RotationMember, Schedule

    schedule = Schedule.objects.create(name=name or f"schedule-{Schedule.objects.count() + 1}")
    if with_rotation:
        rotation = Rotation.objects.create(schedule=schedule, name="weekly",
                                           starts_at=timezone.now() - dt.timedelta(days=1))
        RotationMember.objects.create(rotation=rotation, user=UserFactory(role=Role.ENGINEER))
    return schedule


def make_page(customer=None, **kwargs):
    from opsdesk.notify.models import Page

    return Page.objects.create(source=kwargs.pop("source", f"test:{Page.objects.count() + 1}"),
                               customer=customer or CustomerFactory(),
                               message={"en": {"title": "disk full", "text": ""}}, **kwargs)


def _oncall_owned() -> None:
    from opsdesk.notify.models import Page, Schedule

    OWNED[Page] = lambda customer: make_page(customer)
    ACTION_CANDIDATES[Schedule] = [lambda: make_schedule()]
    ACTION_CANDIDATES[Page] = [lambda: make_page()]


_oncall_owned()


# --- monitoring: inbound integrations --------------------------------------------------------------

def make_inbound_integration(customer=None, *, kind: str = "alertmanager", **data):
    """Made through its domain function (the token hashed; the raw one on `raw_token`)."""
    from opsdesk.monitoring.inbound import services as inbound_services

    customer = customer or CustomerFactory()
    if kind == "heartbeat":
        data.setdefault("period_seconds", 3600)
    if kind == "webhook":
        data.setdefault("mapping", {"title": "/title"})
    return inbound_services.create_integration(
        {"customer": customer, "name": data.pop("name", f"{kind}-{customer.code}"), "kind": kind, **data}, actor=None)


def _inbound_owned() -> None:
    from opsdesk.monitoring.models import InboundIntegration

    OWNED[InboundIntegration] = lambda customer: make_inbound_integration(customer)
    ACTION_CANDIDATES[InboundIntegration] = [lambda: make_inbound_integration()]


_inbound_owned()


# --- notify: channels, contact methods, notifications and their delivery log ------------------

_notify_numbers = iter(range(1, 1_000_000))


def make_channel(customer=None, **kwargs):
    """A webhook channel of `customer` (nothing listens at its address: a send fails, and is logged)."""
    from opsdesk.notify.models import Channel

    return Channel.objects.create(customer=customer, name=kwargs.pop("name", f"channel-{next(_notify_numbers)}"),
                                  kind=kwargs.pop("kind", "webhook"),
                                  config=kwargs.pop("config", {"url": "http://127.0.0.1:9/hook"}), **kwargs)


def make_contact_method(customer=None, **kwargs):
    """A customer user's email contact (staff's when `customer` is None)."""
    from opsdesk.notify.models import ContactMethod

    user = UserFactory(role=Role.CUSTOMER, customer=customer) if customer else UserFactory(role=Role.ENGINEER)
    return ContactMethod.objects.create(user=user, kind="email", address=f"{user.username}@example.com", **kwargs)


def make_notification(customer=None, **kwargs):
    from django.utils import timezone

    from opsdesk.notify.models import Notification

    customer = customer or CustomerFactory()
    return Notification.objects.create(key=f"test:{next(_notify_numbers)}", customer=customer,
                                       channel=kwargs.pop("channel", None) or make_channel(customer),
                                       title=kwargs.pop("title", "disk almost full"), due_at=timezone.now(), **kwargs)


def make_delivery_attempt(customer=None, **kwargs):
    from django.utils import timezone

    from opsdesk.notify.models import DeliveryAttempt

    return DeliveryAttempt.objects.create(notification=make_notification(customer), request="r1", at=timezone.now(),
                                          ok=False, detail="connection refused", **kwargs)


def _notify_owned() -> None:
    from opsdesk.notify.models import Channel, ContactMethod, DeliveryAttempt, Notification

    OWNED[Channel] = lambda customer: make_channel(customer)
    OWNED[ContactMethod] = lambda customer: make_contact_method(customer)
    OWNED[Notification] = lambda customer: make_notification(customer)
    OWNED[DeliveryAttempt] = lambda customer: make_delivery_attempt(customer)
    ACTION_CANDIDATES[Channel] = [lambda: make_channel(CustomerFactory())]


_notify_owned()


# --- service desk ---------------------------------------------------------------------------------

_ticket_numbers = itertools.count(1)


def make_ticket(customer=None, *, status: str = "", actor=None, **kwargs):
    """A ticket opened through the one way tickets open (services.open_ticket); `status`
    "in_progress", "waiting_customer", "resolved" or "closed" moves it there as an engineer would."""
    from opsdesk.servicedesk import services

    customer = customer or CustomerFactory()
    kwargs.setdefault("title", f"打印机不能打印 printer down {next(_ticket_numbers)}")
    ticket = services.open_ticket(actor=actor, customer=customer, **kwargs)
    if status:
        admin = UserFactory(role=Role.ADMIN)
        if status != "new":
            services.take(ticket, actor=admin)
        if status == "waiting_customer":
            services.change_status(ticket, actor=admin, status="waiting_customer")
        if status in ("resolved", "closed"):
            services.resolve(ticket, actor=admin, solution="Replaced the toner.")
        if status == "closed":
            services.close(ticket, actor=admin)
    return ticket


def make_work_log(customer=None):
    from opsdesk.servicedesk import services

    return services.log_work(make_ticket(customer), actor=UserFactory(role=Role.ADMIN), minutes=30)


def _servicedesk_owned() -> None:
    from opsdesk.servicedesk.models import AlertTicketPolicy, Ticket, TicketWebhook, WorkLog

    OWNED[AlertTicketPolicy] = lambda customer: AlertTicketPolicy.objects.create(customer=customer)
    OWNED[TicketWebhook] = lambda customer: TicketWebhook.objects.create(
        customer=customer, name=f"hook-{next(_ticket_numbers)}", channel=make_channel(customer))
    OWNED[Ticket] = lambda customer: make_ticket(customer)
    OWNED[WorkLog] = lambda customer: make_work_log(customer)
    ACTION_CANDIDATES[Ticket] = [lambda: make_ticket(), lambda: make_ticket(status="in_progress"),
                                 lambda: make_ticket(status="resolved"), lambda: make_ticket(status="closed")]
    ACTION_PARAMS[(Ticket, "reply")] = {"body": "Could you send the error message?"}
    ACTION_PARAMS[(Ticket, "note")] = {"body": "Toner ordered."}
    ACTION_PARAMS[(Ticket, "change_status")] = {"status": "waiting_third_party"}
    ACTION_PARAMS[(Ticket, "change_priority")] = {"impact": "high", "urgency": "high"}
    ACTION_PARAMS[(Ticket, "log_work")] = {"minutes": 25}
    ACTION_PARAMS[(Ticket, "assign")] = lambda ticket: {"team": TeamFactory().pk}
    ACTION_PARAMS[(Ticket, "merge")] = lambda ticket: {"into": make_ticket(ticket.customer).pk}
    ACTION_PARAMS[(Ticket, "link")] = lambda ticket: {"target": make_ticket(ticket.customer).pk, "kind": "relates"}


_servicedesk_owned()


# --- service desk: SLA ----------------------------------------------------------------------------

def make_business_calendar(**kwargs):
    """A Monday-to-Friday 9–18 calendar following China's statutory holidays."""
    from opsdesk.servicedesk.models import BusinessCalendar

    kwargs.setdefault("name", f"calendar-{next(_ticket_numbers)}")
    return BusinessCalendar.objects.create(chinese_holidays=kwargs.pop("chinese_holidays", True), **kwargs)


def _sla_owned() -> None:
    from opsdesk.servicedesk.models import BusinessCalendar

    ACTION_CANDIDATES[BusinessCalendar] = [lambda: make_business_calendar()]
    ACTION_PARAMS[(BusinessCalendar, "add_days")] = {"first": "2027-01-01", "last": "2027-01-03", "kind": "holiday",
                                                     "label": "元旦"}


_sla_owned()


# --- service desk: chat groups ------------------------------------------------------------------

def make_chat_integration(customer=None, *, kind: str = "dingtalk"):
    from opsdesk.servicedesk.chat.services import create_integration

    secrets = {"dingtalk": {"app_secret": "test-app-secret"},
               "feishu": {"app_secret": "s", "verification_token": "t", "encrypt_key": "k"},
               "wecom": {"token": "t", "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"}}[kind]
    config = {"app_id": "cli_test"} if kind == "feishu" else {}
    return create_integration({"name": f"chat-{next(_ticket_numbers)}", "kind": kind, "customer": customer,
                               "config": config, "secrets": secrets}, actor=None)


def make_chat_group(customer=None, **kwargs):
    from opsdesk.servicedesk.models import ChatGroup

    return ChatGroup.objects.create(integration=make_chat_integration(customer), customer=customer,
                                    conversation_id=f"cid-{next(_ticket_numbers)}",
                                    title=kwargs.pop("title", f"group-{next(_ticket_numbers)}"), **kwargs)


def make_chat_message(customer=None):
    from opsdesk.servicedesk.models import ChatMessage

    group = make_chat_group(customer)
    return ChatMessage.objects.create(integration=group.integration, group=group, state="held",
                                      vendor_message_id=f"msg-{next(_ticket_numbers)}", text="printer down 打印机")


def make_chat_outbox(customer=None):
    from opsdesk.servicedesk.models import ChatOutbox

    message = make_chat_message(customer)
    return ChatOutbox.objects.create(key=f"test:{message.pk}", group=message.group, message=message,
                                     text="Recorded as ticket #1")


def _chat_owned() -> None:
    from opsdesk.servicedesk.models import ChatGroup, ChatIntegration, ChatMessage, ChatOutbox

    OWNED[ChatIntegration] = lambda customer: make_chat_integration(customer)
    OWNED[ChatGroup] = lambda customer: make_chat_group(customer)
    OWNED[ChatMessage] = lambda customer: make_chat_message(customer)
    OWNED[ChatOutbox] = lambda customer: make_chat_outbox(customer)
    # Without a customer: every staff role sees it (the test tries one that may not act).
    ACTION_CANDIDATES[ChatIntegration] = [lambda: make_chat_integration(None)]
    ACTION_CANDIDATES[ChatGroup] = [lambda: make_chat_group()]
    ACTION_PARAMS[(ChatGroup, "assign_customer")] = lambda group: {"customer": CustomerFactory().pk}


_chat_owned()


# --- service desk: email ----------------------------------------------------------------------------

_mail_numbers = itertools.count(1)


def make_mail_channel(**kwargs):
    """A mailbox whose servers do not listen (127.0.0.1:9): tests that fetch start a Dovecot."""
    from opsdesk.servicedesk.mail import services as mail_services

    n = next(_mail_numbers)
    data = {"name": f"mailbox-{n}", "imap_host": "127.0.0.1", "imap_port": 9, "imap_security": "none",
            "imap_username": f"desk{n}", "imap_password": "secret", "from_address": f"desk{n}@desk.example.com",
            **kwargs}
    return mail_services.create_channel(data, actor=None)


def make_inbound_mail(customer=None, *, state: str = "ticket", raw: bytes | None = None, **kwargs):
    """A mail as the fetcher files it (raw kept under the data directory); a triage one has no customer."""
    from opsdesk.servicedesk.mail.intake import store_raw
    from opsdesk.servicedesk.models import InboundMail

    n = next(_mail_numbers)
    address = kwargs.pop("from_address", f"someone{n}@unknown{n}.example.org")
    raw = raw or (f"From: {address}\r\nTo: desk@desk.example.com\r\nSubject: mail {n}\r\n"
                  f"Message-ID: <inbound{n}@example.org>\r\n\r\nhello {n}\r\n").encode()
    return InboundMail.objects.create(channel=kwargs.pop("channel", None) or make_mail_channel(),
                                      message_id=f"inbound{n}@example.org", from_address=address,
                                      subject=f"mail {n}", state=state, customer=customer, raw_path=store_raw(raw),
                                      size=len(raw), **kwargs)


def make_outgoing_mail(customer=None):
    from opsdesk.servicedesk.models import OutgoingMail

    ticket = make_ticket(customer)
    return OutgoingMail.objects.create(ticket=ticket, customer=ticket.customer, kind="reply",
                                       to_address="pat@example.com", subject=f"Re: [#{ticket.pk}] {ticket.title}",
                                       message_id=f"out{next(_mail_numbers)}@x.opsdesk", language="zh-hans")


def _mail_owned() -> None:
    from opsdesk.servicedesk.models import CustomerMailDomain, InboundMail, MailChannel, OutgoingMail

    OWNED[CustomerMailDomain] = lambda customer: CustomerMailDomain.objects.create(
        customer=customer, domain=f"{customer.code.lower()}-{next(_mail_numbers)}.example.com")
    OWNED[InboundMail] = lambda customer: make_inbound_mail(customer)
    OWNED[OutgoingMail] = lambda customer: make_outgoing_mail(customer)
    ACTION_CANDIDATES[MailChannel] = [lambda: make_mail_channel()]
    # Triage and quarantine: filing them again opens a new ticket (a reply to a ticket, which
    # writes the reply's own audit row too, is tested in tests/servicedesk/mail).
    ACTION_CANDIDATES[InboundMail] = [lambda: make_inbound_mail(state="triage"),
                                      lambda: make_inbound_mail(state="quarantined",
                                                                channel=make_mail_channel(
                                                                    default_customer=CustomerFactory()))]
    ACTION_PARAMS[(InboundMail, "assign_customer")] = lambda mail: {"customer": CustomerFactory().pk}


_mail_owned()


# --- service desk: satisfaction surveys -------------------------------------------------------------

def make_survey(customer=None):
    """The survey a resolution asks (through resolve, the one way surveys are made)."""
    from opsdesk.servicedesk.models import SurveyResponse

    return SurveyResponse.objects.get(ticket=make_ticket(customer, status="resolved"))


def _survey_owned() -> None:
    from opsdesk.servicedesk.models import SurveyResponse

    OWNED[SurveyResponse] = lambda customer: make_survey(customer)
    ACTION_CANDIDATES[SurveyResponse] = [lambda: make_survey()]
    ACTION_PARAMS[(SurveyResponse, "answer")] = {"rating": 4, "comment": "Fast and friendly."}


_survey_owned()
