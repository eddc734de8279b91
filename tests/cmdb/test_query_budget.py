"""The configuration-item and customer lists cost a fixed number of queries, whatever the page
size (NetBox's query-count tests): a related object read per row without select_related would
add a query per row, and this is where it shows.

The budgets are the counts measured when they were written; a change that adds a query to every
list request must raise them knowingly. Speed itself is measured by bench/cmdb_list.py.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opsdesk.core.models import Customer
from tests.factories import ConfigurationItemFactory, CustomerFactory, SiteFactory, TeamFactory, kind

pytestmark = pytest.mark.django_db

# UI list: session, user, the four filter-form choice lists (customers, kinds, sites, teams),
# count, page — plus, when filtered by customer and kind, the two selected choices validated.
CI_LIST_UI_BUDGET = 8
CI_LIST_UI_FILTERED_BUDGET = 10
# API list with a token: token with its user, count, page — plus the two filter choices.
CI_LIST_API_BUDGET = 3
CI_LIST_API_FILTERED_BUDGET = 5
# A customer user's page also shows their customer's name in the menu (one query, not per row).
CI_LIST_UI_CUSTOMER_USER_BUDGET = 9
# Customer list: session, user, count, page (no choice filters: the Customer FilterSet has only
# is_active, a boolean).
CUSTOMER_LIST_UI_BUDGET = 4
CUSTOMER_LIST_API_BUDGET = 3

ROWS = 60  # servers of one customer: more than the larger page size, so both pages are full


@pytest.fixture
def items(customer_a) -> list:
    """60 servers and 10 databases over six sites and six teams, each with site and owner team
    set, so that reading any related object per row would cost a query per row."""
    sites = [SiteFactory(customer=customer_a) for _ in range(6)]
    teams = [TeamFactory() for _ in range(6)]
    servers = [
        ConfigurationItemFactory(customer=customer_a, kind=kind("server"), site=sites[i % 6],
                                 owner_team=teams[i % 6], name=f"server-{i:03d}")
        for i in range(ROWS)
    ]
    databases = [
        ConfigurationItemFactory(customer=customer_a, kind=kind("database"), site=sites[i % 6],
                                 owner_team=teams[i % 6], name=f"db-{i:03d}", attributes={"engine": "postgresql"})
        for i in range(10)
    ]
    return servers + databases


def queries_for(client, url: str) -> int:
    client.get(url)  # warm-up: a token's first use records when it was used (one write)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(ctx.captured_queries)


def ci_filter(customer: Customer) -> str:
    return f"customer={customer.pk}&kind={kind('server').pk}"


@pytest.mark.parametrize("filtered", [False, True], ids=["all", "by-customer-and-kind"])
def test_ci_list_page_costs_the_same_queries_for_25_and_50_rows(admin_client, customer_a, items, filtered):
    base = "/cmdb/configurationitems/?sort=name" + (f"&{ci_filter(customer_a)}" if filtered else "")
    small = queries_for(admin_client, f"{base}&per_page=25")
    large = queries_for(admin_client, f"{base}&per_page=50")
    second_page = queries_for(admin_client, f"{base}&per_page=25&page=2")
    assert small == large == second_page
    assert large <= (CI_LIST_UI_FILTERED_BUDGET if filtered else CI_LIST_UI_BUDGET)


def test_ci_list_page_shows_the_related_objects_it_fetched_in_one_query(admin_client, items):
    response = admin_client.get("/cmdb/configurationitems/?sort=name&per_page=50")
    html = response.content.decode()
    assert html.count('href="/cmdb/configurationitems/') >= 50
    # Site and owner team really are on the page, so the count above includes reading them.
    assert items[0].site.name in html
    assert items[0].owner_team.name in html


@pytest.mark.parametrize("filtered", [False, True], ids=["all", "by-customer-and-kind"])
def test_ci_api_list_costs_the_same_queries_for_25_and_50_rows(admin_api, customer_a, items, filtered):
    base = "/api/cmdb/configurationitems/?ordering=name" + (f"&{ci_filter(customer_a)}" if filtered else "")
    small = queries_for(admin_api, f"{base}&page_size=25")
    large = queries_for(admin_api, f"{base}&page_size=50")
    assert admin_api.get(f"{base}&page_size=50").json()["results"][49]["site"] is not None
    assert small == large
    assert large <= (CI_LIST_API_FILTERED_BUDGET if filtered else CI_LIST_API_BUDGET)


@pytest.mark.parametrize("prefix", ["/cmdb/configurationitems/?sort=name&", "/api/cmdb/configurationitems/?"])
def test_ci_list_filtered_by_customer_and_kind_needs_no_distinct(admin_client, customer_a, items, prefix):
    # Customer and kind are columns of the item itself: filtering on them cannot repeat a row, so
    # DISTINCT only costs time (the database de-duplicates every matching row before it can take
    # one page, and the count becomes a count over a DISTINCT subquery): docs/performance.md.
    with CaptureQueriesContext(connection) as ctx:
        assert admin_client.get(f"{prefix}{ci_filter(customer_a)}").status_code == 200
    assert not [q["sql"] for q in ctx.captured_queries if "DISTINCT" in q["sql"]]


def test_customer_list_costs_the_same_queries_for_25_and_50_rows(admin_client, admin_api):
    CustomerFactory.create_batch(ROWS)
    ui_small = queries_for(admin_client, "/core/customers/?per_page=25")
    ui_large = queries_for(admin_client, "/core/customers/?per_page=50")
    api_small = queries_for(admin_api, "/api/core/customers/?page_size=25")
    api_large = queries_for(admin_api, "/api/core/customers/?page_size=50")
    assert ui_small == ui_large <= CUSTOMER_LIST_UI_BUDGET
    assert api_small == api_large <= CUSTOMER_LIST_API_BUDGET


def test_a_customer_user_list_costs_no_more_than_staff(client, customer_user, customer_a, items):
    # Scoping adds a WHERE, never a query per row.
    client.force_login(customer_user)
    small = queries_for(client, "/cmdb/configurationitems/?sort=name&per_page=25")
    large = queries_for(client, "/cmdb/configurationitems/?sort=name&per_page=50")
    assert small == large <= CI_LIST_UI_CUSTOMER_USER_BUDGET
