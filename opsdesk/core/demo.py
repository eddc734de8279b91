"""Demo data for a first look, core's part: two customers with their sites, contracts, contacts
and users, and the teams that serve them. Each app adds its own part through the registry
(registry.add_demo); `load_demo()` runs them all in order, in one transaction."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from opsdesk.core import services
from opsdesk.core.models import Contact, Contract, Customer, Role, ServiceLevel, Site, Team, User
from opsdesk.core.registry import registry

DEMO_PASSWORD = "opsdesk-demo-2026"

CUSTOMERS = [
    {"code": "ACME", "name": "Acme Manufacturing 艾克米制造", "sites": [("Shanghai DC", "上海市浦东新区张江路 88 号"),
                                                                    ("Suzhou plant", "苏州工业园区星湖街 1 号")],
     "contacts": [("王伟", "IT manager", "wang.wei@acme.example", "13800000001", True),
                  ("Li Na", "Network admin", "li.na@acme.example", "13800000002", False)],
     "user": ("acme.li", "li.na@acme.example")},
    {"code": "BLUESKY", "name": "Bluesky Retail 蓝天零售", "sites": [("Beijing HQ", "北京市朝阳区建国路 1 号")],
     "contacts": [("张敏", "CIO", "zhang.min@bluesky.example", "13900000001", True)],
     "user": ("bluesky.zhang", "zhang.min@bluesky.example")},
]


def load_core() -> str:
    level = ServiceLevel.objects.order_by("pk").first()
    ops = Team.objects.filter(name="Operations 运维组").first() or services.create(
        Team, {"name": "Operations 运维组", "email": "ops@example.com"}, actor=None)
    if not Team.objects.filter(name="Service desk 服务台").exists():
        services.create(Team, {"name": "Service desk 服务台", "email": "desk@example.com"}, actor=None)
    for name, role in (("engineer", Role.ENGINEER), ("manager", Role.MANAGER)):
        if not User.objects.filter(username=name).exists():
            user = services.create_user({"username": name, "role": role, "email": f"{name}@example.com",
                                         "password": DEMO_PASSWORD}, actor=None)
            if role == Role.ENGINEER:
                ops.members.add(user)
    for spec in CUSTOMERS:
        customer = services.create(Customer, {"code": spec["code"], "name": spec["name"]}, actor=None)
        # The operations team serves both demo customers, so the demo engineer sees them.
        ops.customers.add(customer)
        for name, address in spec["sites"]:
            services.create(Site, {"customer": customer, "name": name, "address": address}, actor=None)
        for name, title, email, phone, primary in spec["contacts"]:
            services.create(Contact, {"customer": customer, "name": name, "title": title, "email": email,
                                      "phone": phone, "is_primary": primary}, actor=None)
        services.create(Contract, {
            "customer": customer, "number": f"{spec['code']}-2026-01", "name": "Managed services 2026",
            "start_date": dt.date(2026, 1, 1), "end_date": dt.date(2026, 12, 31), "service_level": level},
            actor=None)
        username, email = spec["user"]
        services.create_user({"username": username, "role": Role.CUSTOMER, "customer": customer, "email": email,
                              "password": DEMO_PASSWORD}, actor=None)
    return (f"2 customers; users engineer, manager, acme.li and bluesky.zhang have the password "
            f"{DEMO_PASSWORD}")


def load_demo() -> str:
    """Every app's demo data, in order; loaded once (a second run changes nothing)."""
    if Customer.objects.filter(code__in=[c["code"] for c in CUSTOMERS]).exists():
        return "demo data is already loaded"
    with transaction.atomic():
        return "; ".join(step.run() for step in registry["demo"])
