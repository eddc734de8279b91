"""Who wrote a mail, as the desk knows them: a contact's address first, then a customer user's,
then the customer of the sender's mail domain (or a parent domain), then the mailbox's default
customer. None: the mail waits in triage for a person to say whose it is."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from opsdesk.core.models import Contact, Customer, User
from opsdesk.core.permissions import CUSTOMER
from opsdesk.servicedesk.models import CustomerMailDomain, MailChannel


@dataclass
class Sender:
    customer: Customer | None
    contact: Contact | None = None
    user: User | None = None
    how: str = ""  # contact, user, domain, default
    problem: str = ""  # why no customer was chosen


def domains_of(address: str) -> list[str]:
    """example.com for a@example.com; mail.corp.example.com, corp.example.com, example.com for a
    subdomain (the nearest first)."""
    domain = address.rpartition("@")[2].lower().strip(".")
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)] if len(labels) > 1 else [domain]


def identify(address: str, channel: MailChannel, cache: dict[str, Sender] | None = None) -> Sender:
    """`cache`: the fetcher's, for one fetch (the same people write many mails)."""
    address = (address or "").lower()
    if cache is not None:
        if address not in cache:
            cache[address] = identify(address, channel)
        return cache[address]
    if address:
        contacts = list(Contact.objects.filter(email__iexact=address).select_related("customer")[:10])
        customers = {c.customer_id for c in contacts}
        if len(customers) == 1:
            return Sender(contacts[0].customer, contact=contacts[0], how="contact")
        if len(customers) > 1:
            return Sender(None, problem=_("%(address)s is a contact of several customers.") % {"address": address})
        users = list(User.objects.filter(email__iexact=address, role=CUSTOMER, is_active=True,
                                         customer__isnull=False).select_related("customer")[:10])
        if len({u.customer_id for u in users}) == 1:
            return Sender(users[0].customer, user=users[0], how="user")
        domains = domains_of(address)
        known = {d.domain: d for d in CustomerMailDomain.objects.filter(domain__in=domains).select_related("customer")}
        for domain in domains:
            if domain in known:
                return Sender(known[domain].customer, how="domain")
    if channel.default_customer_id:
        return Sender(channel.default_customer, how="default")
    return Sender(None, problem=_("No contact, user or mail domain of a customer matches %(address)s.")
                  % {"address": address or "?"})
