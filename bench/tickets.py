#!/usr/bin/env python
"""How fast the service desk answers with a million tickets: the engineer's team queue, the
customer's ticket list and the ticket page, and how many queries the ticket page costs.

Builds its own database (a fresh SQLite file in a temporary data directory, or the PostgreSQL
database named by DATABASE_URL, dropped and created again: its name must contain "bench"), loads
1,000,000 tickets over 100 customers with `bulk_create` (each with its opening entry), 10 teams
each serving 10 customers with five engineers, and a customer user per customer. About one ticket
in ten is open, with an SLA due date within two days either side of now; the rest are closed.
PostgreSQL gets an ANALYZE after the load, as autovacuum would have done by then.

Requests run in process with Django's test client, logged in (`force_login`), each case with three
warm-up requests and then timed ones; the p95 of each is printed. The last line of output is one
JSON object (see bench/README.md); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _scratch import Bench, cpu_ns, database_backend_pid, p95

BENCH = Bench("tickets")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGETS_MS = {"queue_p95_ms": 100.0, "portal_p95_ms": 100.0, "ticket_page_p95_ms": 150.0}
OPEN_SHARE = 0.1
BATCH = 5000


@dataclass(frozen=True)
class Size:
    tickets: int
    customers: int
    requests: int


FULL = Size(tickets=1_000_000, customers=100, requests=30)
QUICK = Size(tickets=20_000, customers=20, requests=10)


def load(size: Size, seed: int) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from opsdesk.cmdb.models import CIKind, ConfigurationItem
    from opsdesk.core.models import Customer, Role, Team, User
    from opsdesk.servicedesk import services
    from opsdesk.servicedesk.models import Ticket, TicketEntry
    from opsdesk.servicedesk.models.tickets import OPEN_STATUSES

    rng = random.Random(seed)
    now = timezone.now()
    customers = Customer.objects.bulk_create([Customer(code=f"C{i:03d}", name=f"客户 {i:03d} Customer")
                                              for i in range(size.customers)])
    teams = [Team.objects.create(name=f"team-{t}") for t in range(max(1, size.customers // 10))]
    engineers: dict[int, list[User]] = {}
    for t, team in enumerate(teams):
        team.customers.set(customers[t * 10:(t + 1) * 10])
        people = [User.objects.create(username=f"eng-{t}-{n}", role=Role.ENGINEER) for n in range(5)]
        team.members.set(people)
        engineers[team.pk] = people
    team_of = {c.pk: teams[min(i // 10, len(teams) - 1)] for i, c in enumerate(customers)}
    portal_users = {c.pk: User.objects.create(username=f"cust-{c.code}", role=Role.CUSTOMER, customer=c)
                    for c in customers}
    open_statuses = sorted(OPEN_STATUSES)
    started = time.perf_counter()
    per_customer = size.tickets // size.customers
    made = 0
    for customer in customers:
        team = team_of[customer.pk]
        rows = []
        for n in range(per_customer):
            created = now - dt.timedelta(minutes=(per_customer - n) * 30)
            is_open = rng.random() < OPEN_SHARE
            status = rng.choice(open_statuses) if is_open else "closed"
            due = now + dt.timedelta(minutes=rng.randint(-2880, 2880)) if is_open else None
            state = ("breached" if due < now else rng.choice(["running", "running", "warning"])) if is_open \
                else "met"
            rows.append(Ticket(
                customer=customer, title=f"工单 {n} ticket about something broken", ticket_type="incident",
                impact=rng.choice(["high", "medium", "low"]), urgency=rng.choice(["high", "medium", "low"]),
                priority=rng.choice(["p1", "p2", "p3", "p4"]), status=status, team=team,
                assignee=rng.choice(engineers[team.pk]) if status != "new" else None, channel="portal",
                created_at=created, requester_user=portal_users[customer.pk] if n % 3 == 0 else None,
                sla_due_at=due, sla_state=state, closed_at=None if is_open else created + dt.timedelta(hours=5),
                resolved_at=None if is_open else created + dt.timedelta(hours=4)))
        with transaction.atomic():
            Ticket.objects.bulk_create(rows, batch_size=BATCH)
        made += len(rows)
        if made % 100_000 < per_customer or made == size.tickets:
            BENCH.log(f"{made} tickets ({time.perf_counter() - started:.0f} s)")
    with connection.cursor() as cursor:
        # The opening entry of every ticket, written by the database itself (a million rows).
        cursor.execute(
            "INSERT INTO servicedesk_ticketentry (ticket_id, kind, public, author_name, author_email, body, event, "
            "data, via, message_id, created_at) SELECT id, 'reply', %s, '', '', '<p>它坏了。It is broken.</p>', '', "
            "'{}', 'portal', '', created_at FROM servicedesk_ticket", [True])
    BENCH.log(f"entries written ({time.perf_counter() - started:.0f} s)")

    # The ticket whose page is measured: a real conversation, two CIs, a change history.
    customer = customers[0]
    engineer = engineers[team_of[customer.pk].pk][0]
    kind = CIKind.objects.filter(slug="server").first() or CIKind.objects.create(slug="server", name="Server")
    items = [ConfigurationItem.objects.create(customer=customer, kind=kind, name=f"erp-db-0{i}") for i in (1, 2)]
    ticket = services.open_ticket(actor=None, customer=customer, title="ERP 登录缓慢", description="从早上开始很慢",
                                  configuration_items=items)
    services.take(ticket, actor=engineer)
    for i in range(15):
        services.reply(ticket, actor=engineer, body=f"第 {i} 次回复：正在检查数据库。")
        services.note(ticket, actor=engineer, body=f"note {i}: iostat shows 90% util")
    assert TicketEntry.objects.filter(ticket=ticket).count() > 30
    if connection.vendor == "postgresql":
        # What autovacuum does after a bulk load (PostgreSQL 13+ vacuums on inserts too): the
        # statistics, and the visibility map that lets a count read the index alone.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return {"engineer": engineer, "portal_user": portal_users[customer.pk], "ticket": ticket,
            "customer": customer}


def measure(client, url: str, requests: int, backend_pid: int | None) -> tuple[list[float], list[float]]:
    samples, cpu_samples = [], []
    for i in range(requests + 3):
        cpu_started = cpu_ns(backend_pid)
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        cpu = (cpu_ns(backend_pid) - cpu_started) / 1e6
        if response.status_code != 200:
            raise SystemExit(f"tickets: {url} answered {response.status_code}")
        if i >= 3:
            samples.append(elapsed)
            cpu_samples.append(cpu)
    return samples, cpu_samples


def portal_list_url() -> str:
    """The customer's ticket list of the portal when it is installed, else the API's list (what
    a portal of the customer's own would read)."""
    from django.urls import NoReverseMatch, reverse

    for name in ("servicedesk:portal_tickets", "servicedesk:portal_list", "servicedesk:portal"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return "/api/servicedesk/tickets/"


def measure_all(args: argparse.Namespace, size: Size, database: str, data_dir: str) -> dict[str, Any]:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    BENCH.log(f"database {database}, data directory {data_dir}; migrating")
    call_command("migrate", interactive=False, verbosity=0)
    BENCH.log(f"loading {size.tickets} tickets across {size.customers} customers")
    data = load(size, args.seed)
    setup_s = time.perf_counter() - started
    requests = args.requests or size.requests

    desk, portal = Client(), Client()
    desk.force_login(data["engineer"])
    portal.force_login(data["portal_user"])
    ticket_url = reverse("servicedesk:ticket_detail", args=[data["ticket"].pk])
    cases = [
        ("queue_p95_ms", desk, reverse("servicedesk:ticket_list") + "?queue=team"),
        ("portal_p95_ms", portal, portal_list_url()),
        ("ticket_page_p95_ms", desk, ticket_url),
        # For context: the engineer's own queue, and every open ticket their teams' customers have.
        ("queue_mine_p95_ms", desk, reverse("servicedesk:ticket_list") + "?queue=mine"),
        ("queue_open_p95_ms", desk, reverse("servicedesk:ticket_list") + "?queue=open"),
    ]
    desk.get(cases[0][2])
    backend_pid = database_backend_pid()
    result: dict[str, Any] = {}
    for key, client, url in cases:
        samples, cpu_samples = measure(client, url, requests, backend_pid)
        result[key] = round(p95(samples), 1)
        result[key.replace("_p95_", "_p50_")] = round(statistics.median(samples), 1)
        result[key.replace("_p95_ms", "_p95_cpu_ms")] = round(p95(cpu_samples), 1)
        BENCH.log(f"{key}: p95 {result[key]} ms, median {statistics.median(samples):.1f} ms ({url})")
    with CaptureQueriesContext(connection) as ctx:
        desk.get(ticket_url)
    if args.show_queries:
        for query in ctx.captured_queries:
            BENCH.log(f"  [{query['time']}s] {query['sql'][:300]}")
    return {
        **{k: result[k] for k in TARGETS_MS},
        "ticket_page_queries": len(ctx.captured_queries),
        **{k: v for k, v in result.items() if k not in TARGETS_MS},
        "meets_target": all(result[k] < target for k, target in TARGETS_MS.items()),
        "targets_ms": TARGETS_MS,
        "portal_url": portal_list_url(),
        "database": database,
        "tickets": size.tickets,
        "customers": size.customers,
        "requests_per_case": requests,
        "setup_s": round(setup_s, 1),
        "cpus": os.cpu_count(),
        "loadavg_1m_before": round(load_before, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "quick": args.quick,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="20,000 tickets across 20 customers, 10 requests per case (under a minute)")
    parser.add_argument("--requests", type=int, default=0, help="timed requests per case (default 30, quick 10)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated data")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of the ticket page to stderr")
    parser.add_argument("--keep", action="store_true",
                        help="keep the data directory and the PostgreSQL database for a look afterwards")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    size = QUICK if args.quick else FULL
    result = BENCH.run(args.keep, lambda database, data_dir: measure_all(args, size, database, data_dir))
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
