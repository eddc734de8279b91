"""Factories for every registered model. `make_owned(model, customer)` makes an object that the
given customer owns: the generic tenancy tests use it for every customer-owned model, so a new
model only needs a line in OWNED here."""

from __future__ import annotations

import datetime as dt

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
