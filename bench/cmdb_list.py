#!/usr/bin/env python
"""How fast the configuration-item list answers with 100,000 items, in the UI and the API.

Builds its own database (a fresh SQLite file in a temporary data directory, or the PostgreSQL
database named by DATABASE_URL, dropped and created again), loads the items with bulk_create,
then requests the list filtered by customer and kind, sorted by name, page 1 and page 500, in
process with Django's test client, and prints the p95 of each case. The last line of output is
one JSON object (see bench/README.md); progress goes to stderr.

The data: one large customer owns 30,000 items of which 26,000 are servers (520 pages of 50), and
the other items are spread evenly over the other customers. An even spread would give one
customer and kind about 330 items, 7 pages: page 500 of "filtered by customer and kind" would not
exist, and Django's paginator would silently answer the last page instead.
"""

from __future__ import annotations

import argparse
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

BENCH = Bench("cmdb_list")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_P95_MS = 150.0
PER_PAGE = 50  # the default page size of both the UI and the API
DEEP_PAGE = 500
# The large customer's items of the measured kind: enough for DEEP_PAGE full pages (and a few more).
BIG_KIND_ROWS = 26_000


@dataclass(frozen=True)
class Size:
    customers: int
    rows: int
    big_customer_rows: int  # the large customer's items, BIG_KIND_ROWS of them of the measured kind
    requests: int  # timed requests per case


FULL = Size(customers=50, rows=100_000, big_customer_rows=30_000, requests=30)
# --quick keeps page 500 real (it needs 25,000 rows of one customer and kind), and cuts the rest.
QUICK = Size(customers=10, rows=30_000, big_customer_rows=27_000, requests=10)

STATUSES = ["active"] * 7 + ["maintenance", "planned", "retired"]
CRITICALITIES = ["critical", "high", "medium", "medium", "low"]


def load_data(size: Size, seed: int) -> dict[str, Any]:
    """Customers, sites, teams and items; returns the ids the requests use."""
    from django.db import connection, transaction

    from opsdesk.cmdb.models import CIKind, ConfigurationItem
    from opsdesk.core.models import Customer, Role, Site, Team, User

    rng = random.Random(seed)
    kinds = list(CIKind.objects.filter(builtin=True).order_by("pk"))
    server = next(k for k in kinds if k.slug == "server")
    others = [k for k in kinds if k.pk != server.pk]
    with transaction.atomic():
        customers = Customer.objects.bulk_create(
            Customer(code=f"C{i:03d}", name=f"Customer {i:03d}") for i in range(size.customers))
        sites = Site.objects.bulk_create(
            Site(customer=c, name=f"{c.code}-site-{j}") for c in customers for j in range(3))
        teams = Team.objects.bulk_create(Team(name=f"Team {i}") for i in range(10))
        admin = User(username="bench-admin", role=Role.ADMIN)
        admin.set_unusable_password()
        admin.save()
    sites_of: dict[int, list[Site]] = {}
    for site in sites:
        sites_of.setdefault(site.customer_id, []).append(site)

    big, rest = customers[0], customers[1:]
    big_others = [others[i % len(others)] for i in range(size.big_customer_rows - BIG_KIND_ROWS)]
    plan: list[tuple[Customer, list[CIKind]]] = [(big, [server] * BIG_KIND_ROWS + big_others)]
    remaining = size.rows - size.big_customer_rows
    for n, customer in enumerate(rest):
        count = remaining // len(rest) + (1 if n < remaining % len(rest) else 0)
        # Servers are the commonest kind, as in a real CMDB.
        plan.append((customer, [server if i % 3 == 0 else others[i % len(others)] for i in range(count)]))

    started = time.perf_counter()
    total = 0
    for customer, item_kinds in plan:
        # Numbers shuffled so that name order is not insertion (primary key) order: sorting by
        # name must not be able to ride on the table's physical order.
        numbers = list(range(len(item_kinds)))
        rng.shuffle(numbers)
        items = []
        for kind, number in zip(item_kinds, numbers, strict=True):
            name = f"{kind.slug}-{number:06d}"
            attributes: dict[str, Any] = {}
            if kind.pk == server.pk:
                attributes = {"hostname": f"{name}.{customer.code.lower()}.example", "os": "Debian 12",
                              "ip_address": f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}",
                              "cpu_cores": rng.choice([4, 8, 16, 32]), "memory_gb": rng.choice([16, 32, 64])}
            items.append(ConfigurationItem(
                customer=customer, kind=kind, name=name, site=rng.choice(sites_of[customer.pk]),
                owner_team=rng.choice(teams), status=rng.choice(STATUSES),
                criticality=rng.choice(CRITICALITIES), attributes=attributes))
        with transaction.atomic():
            ConfigurationItem.objects.bulk_create(items, batch_size=2000)
        total += len(items)
        if customer is big or total == size.rows:
            BENCH.log(f"{total} items loaded ({time.perf_counter() - started:.1f} s)")
    if connection.vendor == "postgresql":
        # What autovacuum would have done by the time anyone lists 100,000 items: without
        # statistics the planner guesses. SQLite gets no ANALYZE because opsdesk never runs one.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {"admin": admin, "big": big, "typical": rest[0], "kind": server}


def measure(client, url: str, requests: int, headers: dict[str, str], expect_first: str, api: bool,
            backend_pid: int | None) -> tuple[list[float], list[float]]:
    """Timed GETs of one URL after warm-up, wall-clock and CPU milliseconds; checks that the
    answer is the page asked for."""
    samples, cpu_samples = [], []
    for i in range(requests + 3):  # three warm-up requests: templates, URL resolver, caches
        cpu_started = cpu_ns(backend_pid)
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        cpu = (cpu_ns(backend_pid) - cpu_started) / 1e6
        if response.status_code != 200:
            raise SystemExit(f"cmdb_list: {url} answered {response.status_code}")
        if i < 3:
            # The paginator answers the last page for a page number past the end: make sure the
            # page measured is the one asked for, by its first row.
            if api:
                first = response.json()["results"][0]["name"]
                if first != expect_first:
                    raise SystemExit(f"cmdb_list: {url} starts with {first!r}, expected {expect_first!r}")
            elif f">{expect_first}</a>".encode() not in response.content:
                raise SystemExit(f"cmdb_list: {url} does not show {expect_first!r}")
            continue
        samples.append(elapsed)
        cpu_samples.append(cpu)
    return samples, cpu_samples


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = QUICK if args.quick else FULL
    requests = args.requests or size.requests
    return BENCH.run(args.keep, lambda database, data_dir: measure_all(args, size, requests, database, data_dir))


def measure_all(args: argparse.Namespace, size: Size, requests: int, database: str, data_dir: str) -> dict[str, Any]:
    started = time.perf_counter()
    # Other work on the machine shows in the figures: the load average says how much there was.
    load_before = os.getloadavg()[0]

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.test import APIClient

    from opsdesk.cmdb.models import ConfigurationItem
    from opsdesk.core import services

    BENCH.log(f"database {database}, data directory {data_dir}; migrating")
    call_command("migrate", interactive=False, verbosity=0)
    BENCH.log(f"loading {size.rows} items across {size.customers} customers")
    ids = load_data(size, args.seed)
    setup_s = time.perf_counter() - started

    big, kind, typical = ids["big"], ids["kind"], ids["typical"]
    filtered = ConfigurationItem.objects.filter(customer=big, kind=kind).order_by("name", "pk")
    filtered_rows = filtered.count()
    assert filtered_rows > (DEEP_PAGE - 1) * PER_PAGE, "the data has no page 500"

    ui = Client()
    ui.force_login(ids["admin"])
    _token, raw = services.create_token(ids["admin"], name="bench")
    api = APIClient()
    auth = {"Authorization": f"Bearer {raw}"}

    ui_list, api_list = "/cmdb/configurationitems/", "/api/cmdb/configurationitems/"
    spec = f"customer={big.pk}&kind={kind.pk}"
    typical_first = ConfigurationItem.objects.filter(customer=typical, kind=kind).order_by("name", "pk")[0].name
    all_first = ConfigurationItem.objects.order_by("name", "pk")[0].name
    # (key, client, url, headers, name of the first row expected, is the API)
    cases = [
        ("ui_p95_ms_page1", ui, f"{ui_list}?{spec}&sort=name", {}, filtered[0].name, False),
        ("ui_p95_ms_page500", ui, f"{ui_list}?{spec}&sort=name&page={DEEP_PAGE}", {},
         filtered[(DEEP_PAGE - 1) * PER_PAGE].name, False),
        ("api_p95_ms_page1", api, f"{api_list}?{spec}&ordering=name", auth, filtered[0].name, True),
        ("api_p95_ms_page500", api, f"{api_list}?{spec}&ordering=name&page={DEEP_PAGE}", auth,
         filtered[(DEEP_PAGE - 1) * PER_PAGE].name, True),
        # Not part of the target, shown for context: an ordinary customer (a few pages), and the
        # unfiltered list that opens from the menu (counts every item).
        ("ui_p95_ms_typical_customer_page1", ui, f"{ui_list}?customer={typical.pk}&kind={kind.pk}&sort=name", {},
         typical_first, False),
        ("ui_p95_ms_unfiltered_page1", ui, f"{ui_list}?sort=name", {}, all_first, False),
        ("api_p95_ms_unfiltered_page1", api, f"{api_list}?ordering=name", auth, all_first, True),
    ]
    ui.get(cases[0][2])  # opens the database connection whose server process is watched
    backend_pid = database_backend_pid()
    result: dict[str, Any] = {}
    medians: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for key, client, url, headers, first, is_api in cases:
        samples, cpu_samples = measure(client, url, requests, headers, first, is_api, backend_pid)
        result[key] = round(p95(samples), 1)
        medians[key.replace("_p95_", "_p50_")] = round(statistics.median(samples), 1)
        cpu[key.replace("_p95_", "_p95_cpu_")] = round(p95(cpu_samples), 1)
        BENCH.log(f"{key}: p95 {result[key]} ms, median {statistics.median(samples):.1f} ms, "
            f"CPU p95 {p95(cpu_samples):.1f} ms  ({url})")
    # The server process must have been the same throughout for its CPU time to count.
    cpu_includes_database = database == "sqlite" or (backend_pid is not None and database_backend_pid() == backend_pid)

    queries_ui = BENCH.count_queries(ui, cases[0][2], args.show_queries)
    queries_api = BENCH.count_queries(api, cases[2][2], args.show_queries, auth)
    load_after = os.getloadavg()[0]
    ui_p95 = max(result["ui_p95_ms_page1"], result["ui_p95_ms_page500"])
    api_p95 = max(result["api_p95_ms_page1"], result["api_p95_ms_page500"])
    return {
        # The spec's case: worst of page 1 and page 500 of the list filtered by customer and kind.
        "ui_p95_ms": ui_p95,
        "api_p95_ms": api_p95,
        "queries_per_page": queries_ui,
        "api_queries_per_page": queries_api,
        # CPU time of the same requests: this process plus the database server process.
        "ui_p95_cpu_ms": max(cpu["ui_p95_cpu_ms_page1"], cpu["ui_p95_cpu_ms_page500"]),
        "api_p95_cpu_ms": max(cpu["api_p95_cpu_ms_page1"], cpu["api_p95_cpu_ms_page500"]),
        "cpu_includes_database": cpu_includes_database,
        **result,
        **medians,
        **cpu,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": ui_p95 < TARGET_P95_MS and api_p95 < TARGET_P95_MS,
        "database": database,
        "rows": size.rows,
        "customers": size.customers,
        "filtered_rows": filtered_rows,
        "per_page": PER_PAGE,
        "requests_per_case": requests,
        "setup_s": round(setup_s, 1),
        "cpus": os.cpu_count(),
        "loadavg_1m_before": round(load_before, 2),
        "loadavg_1m_after": round(load_after, 2),
        "quick": args.quick,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="30,000 items across 10 customers, 10 requests per case (under a minute)")
    parser.add_argument("--requests", type=int, default=0, help="timed requests per case (default 30, quick 10)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated data")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of one page request to stderr")
    parser.add_argument("--keep", action="store_true",
                        help="keep the data directory and the PostgreSQL database for a look afterwards")
    args = parser.parse_args()
    # A SIGTERM (timeout, kill) still removes the temporary database and directory.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    result = run(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
