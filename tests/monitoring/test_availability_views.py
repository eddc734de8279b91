"""Availability on pages: the CI page's monitoring panel (24 h, 7 d, 30 d and a bar each), the
customer page's items worst first, the availability page, scoping, and a query count that does
not grow with the number of state changes."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from opsdesk.monitoring.availability import panels
from opsdesk.monitoring.models import CheckStateChange, MaintenanceWindow
from tests.factories import ConfigurationItemFactory, make_check_in_state

pytestmark = pytest.mark.django_db


def with_history(item, changes: list[tuple[dt.datetime, str]], name: str = "ping"):
    check = make_check_in_state(item, changes[-1][1], name=name, since=changes[-1][0])
    previous = "pending"
    rows = []
    for at, state in changes:
        rows.append(CheckStateChange(monitor_check=check, previous=previous, state=state, at=at))
        previous = state
    CheckStateChange.objects.bulk_create(rows)
    return check


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def outage(customer_a, now):
    """Watched for 40 days, down from 3 h ago to 1 h ago."""
    item = ConfigurationItemFactory(customer=customer_a, name="db-01")
    with_history(item, [(now - dt.timedelta(days=40), "ok"), (now - dt.timedelta(hours=3), "critical"),
                        (now - dt.timedelta(hours=1), "ok")])
    return item


def ci_page(client, item) -> str:
    response = client.get(reverse("cmdb:configurationitem_detail", args=[item.pk]))
    assert response.status_code == 200
    return response.content.decode()


def percents(page: str) -> dict[str, str]:
    found = re.findall(r'data-period="(\w+)"><span[^>]*>[^<]*</span>'
                       r'<span class="av-percent [^"]*" data-percent>([^<]*)<', page)
    return dict(found)


def test_the_ci_page_shows_24_hours_7_days_and_30_days(engineer_client, outage):
    page = ci_page(engineer_client, outage)
    assert 'id="availability"' in page
    # 2 h down: of 24 h, of 168 h, of 720 h (never rounded up).
    assert percents(page) == {"24h": "91.66%", "7d": "98.80%", "30d": "99.72%"}
    pane = page[page.index('data-period-pane="24h"'):page.index('data-period-pane="7d"')]
    assert pane.count('data-state="av-critical"') == 1
    assert "2 h" in pane
    assert "monitoring/availability.css" in page
    for label in ("Down (critical)", "Warning", "No data", "Maintenance"):
        assert label in page  # the legend


def test_maintenance_is_hatched_and_left_out(engineer_client, customer_a, outage, now):
    MaintenanceWindow.objects.create(customer=customer_a, name="upgrade", starts_at=now - dt.timedelta(hours=4),
                                     ends_at=now - dt.timedelta(hours=2))
    page = ci_page(engineer_client, outage)
    assert percents(page)["24h"] == f"{int(10000 * 21 / 22) / 100:.2f}%"
    pane = page[page.index('data-period-pane="24h"'):page.index('data-period-pane="7d"')]
    assert pane.count('data-state="av-maintenance"') == 1
    assert 'data-summary="av-maintenance"' in pane


def test_an_item_without_results_has_no_availability_yet(engineer_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    make_check_in_state(item, "pending", name="new")
    page = ci_page(engineer_client, item)
    assert percents(page) == {"24h": "—", "7d": "—", "30d": "—"}
    assert "No result in this period" in page


def test_the_ci_pages_queries_do_not_grow_with_state_changes(engineer_client, customer_a, now):
    few = ConfigurationItemFactory(customer=customer_a)
    with_history(few, [(now - dt.timedelta(days=40), "ok"), (now - dt.timedelta(hours=2), "critical")])
    many = ConfigurationItemFactory(customer=customer_a)
    flapping = [(now - dt.timedelta(days=29) + dt.timedelta(minutes=20 * i), "critical" if i % 2 else "ok")
                for i in range(2000)]
    with_history(many, flapping, name="flapping")
    with_history(many, flapping[::3], name="other")
    for n in range(5):
        window = MaintenanceWindow.objects.create(customer=customer_a, name=f"w{n}", recurrence="daily",
                                                  starts_at=now - dt.timedelta(days=60, hours=n),
                                                  ends_at=now - dt.timedelta(days=60, hours=n - 1))
        window.configuration_items.add(many)

    def count(item) -> int:
        ci_page(engineer_client, item)
        with CaptureQueriesContext(connection) as ctx:
            page = ci_page(engineer_client, item)
        assert 'id="availability"' in page
        return len(ctx.captured_queries)

    assert count(few) == count(many)
    page = ci_page(engineer_client, many)
    # 2,000 changes in 30 days are drawn from buckets, not one block each.
    assert page.count('data-state="av-critical"') <= 3 * panels.BUCKETS


def test_the_customer_page_lists_its_items_worst_first(admin_client, customer_a, outage, now):
    fine = ConfigurationItemFactory(customer=customer_a, name="app-01")
    with_history(fine, [(now - dt.timedelta(days=40), "ok")])
    worse = ConfigurationItemFactory(customer=customer_a, name="zz-web")
    with_history(worse, [(now - dt.timedelta(days=40), "ok"), (now - dt.timedelta(hours=30), "critical"),
                         (now - dt.timedelta(hours=20), "ok")])
    ConfigurationItemFactory(customer=customer_a, name="not-watched")
    url = reverse("core:customer_detail", args=[customer_a.pk])

    page = admin_client.get(url).content.decode()
    assert 'id="panel-availability"' in page
    order = re.findall(r'<tr data-item="(\d+)">', page[page.index('id="availability-customer"'):])
    assert order == [str(worse.pk), str(outage.pk), str(fine.pk)]
    assert "not-watched" not in page[page.index('id="availability-customer"'):]
    by_name = admin_client.get(url, {"availability_sort": "name"}).content.decode()
    order = re.findall(r'<tr data-item="(\d+)">', by_name[by_name.index('id="availability-customer"'):])
    assert order == [str(fine.pk), str(outage.pk), str(worse.pk)]
    assert f"{reverse('monitoring:availability')}?customer={customer_a.pk}&amp;period=30d" in page


def test_the_customer_card_is_kept_a_minute_per_person_and_says_as_of_when(
        admin_client, engineer, customer_a, outage, now):
    from django.core.cache import cache
    from django.test import Client

    engineer_client = Client()
    engineer_client.force_login(engineer)
    url = reverse("core:customer_detail", args=[customer_a.pk])
    page = admin_client.get(url).content.decode()
    card = page[page.index('id="availability-customer"'):]
    assert re.search(r"Last 30 days, maintenance left out; as of \d\d:\d\d", card)
    assert "99.72%" in card
    # A change within the minute is not worked out again on the next load...
    CheckStateChange.objects.filter(monitor_check__configuration_item=outage).delete()
    again = admin_client.get(url).content.decode()
    assert "99.72%" in again[again.index('id="availability-customer"'):]
    # ...but each person's card is their own (their scope decides what counts), and a minute later it is.
    other = engineer_client.get(url).content.decode()
    assert "99.72%" not in other[other.index('id="availability-customer"'):]
    cache.clear()
    fresh = admin_client.get(url).content.decode()
    assert "99.72%" not in fresh[fresh.index('id="availability-customer"'):]


def test_the_availability_page_sorts_and_pages(engineer_client, customer_a, outage, now):
    fine = ConfigurationItemFactory(customer=customer_a, name="app-01")
    with_history(fine, [(now - dt.timedelta(days=40), "ok")])
    url = reverse("monitoring:availability")
    page = engineer_client.get(url).content.decode()
    assert re.findall(r'<tr data-item="(\d+)">', page) == [str(outage.pk), str(fine.pk)]
    assert "99.72%" in page and "100%" in page
    best = engineer_client.get(url, {"sort": "best", "period": "24h"}).content.decode()
    assert re.findall(r'<tr data-item="(\d+)">', best) == [str(fine.pk), str(outage.pk)]
    assert "91.66%" in best
    assert engineer_client.get(url, {"sort": "nonsense", "period": "1y", "page": "x"}).status_code == 200


def test_nobody_sees_another_customers_availability(client, customer_user, customer_a, customer_b, outage, now):
    theirs = ConfigurationItemFactory(customer=customer_b, name="their-db")
    with_history(theirs, [(now - dt.timedelta(days=40), "critical")])
    client.force_login(customer_user)
    page = client.get(reverse("monitoring:availability")).content.decode()
    assert "their-db" not in page and "db-01" in page
    assert client.get(reverse("monitoring:availability"), {"customer": customer_b.pk}).status_code == 404
    mine = client.get(reverse("core:customer_detail", args=[customer_a.pk])).content.decode()
    assert "their-db" not in mine


def test_words_and_numbers():
    assert panels.percent_text(99.9999) == "99.99%"
    assert panels.percent_text(100.0) == "100%"
    assert panels.percent_text(None) == "—"
    assert panels.duration(45) == "45 s"
    assert panels.duration(3 * 3600 + 20 * 60) == "3 h 20 min"
    assert panels.duration(50 * 3600) == "2 d 2 h"
    assert panels.duration(7 * 86400) == "7 d"
