"""The pages to act from: the dashboard's panels and the customer page's registered panels."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from opsdesk.core import services
from opsdesk.core.models import Site
from tests.factories import ConfigurationItemFactory, ContractFactory

pytestmark = pytest.mark.django_db


def card(page: str, card_id: str) -> str:
    """The HTML of one dashboard card (other cards, such as recent changes, link the same objects)."""
    start = page.index(f'id="{card_id}"')
    return page[start:page.index("</ul>", start)]


def test_contracts_ending_within_60_days_are_listed_and_later_ones_not(client, manager, customer_a):
    today = timezone.localdate()
    soon = ContractFactory(customer=customer_a, name="ends soon", end_date=today + dt.timedelta(days=20))
    later = ContractFactory(customer=customer_a, name="ends later", end_date=today + dt.timedelta(days=90))
    client.force_login(manager)
    ending = card(client.get(reverse("home")).content.decode(), "ending-contracts")
    assert reverse("core:contract_detail", args=[soon.pk]) in ending
    assert reverse("core:contract_detail", args=[later.pk]) not in ending


def test_recent_changes_name_the_action_in_the_readers_language(client, admin, customer_a):
    services.create(Site, {"customer": customer_a, "name": "新站点"}, actor=admin)
    client.force_login(admin)
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "新站点" in page and "创建" in page


def test_items_without_owner_team_are_listed(client, engineer, customer_a):
    orphan = ConfigurationItemFactory(customer=customer_a, name="orphan-item", owner_team=None)
    client.force_login(engineer)
    owned = ConfigurationItemFactory(customer=customer_a, name="owned-item", owner_team=engineer.teams.first())
    orphans = card(client.get(reverse("home")).content.decode(), "items-without-owner")
    assert reverse("cmdb:configurationitem_detail", args=[orphan.pk]) in orphans
    assert reverse("cmdb:configurationitem_detail", args=[owned.pk]) not in orphans


def test_the_customer_page_offers_add_shortcuts_only_to_those_who_may_add(client, manager, customer_user, customer_a):
    client.force_login(manager)
    page = client.get(reverse("core:customer_detail", args=[customer_a.pk])).content.decode()
    for panel in ("panel-contracts", "panel-sites", "panel-contacts", "panel-configuration_items"):
        assert f'id="{panel}"' in page, panel
    assert f"{reverse('core:contract_add')}?customer={customer_a.pk}" in page
    client.force_login(customer_user)
    page = client.get(reverse("core:customer_detail", args=[customer_a.pk])).content.decode()
    assert 'id="panel-sites"' in page
    assert reverse("core:site_add") not in page
    assert reverse("cmdb:configurationitem_add") not in page


def test_an_add_shortcut_comes_back_to_the_customer_page(client, manager, customer_a):
    client.force_login(manager)
    back = reverse("core:customer_detail", args=[customer_a.pk])
    response = client.post(f"{reverse('core:site_add')}?next={back}",
                           {"customer": customer_a.pk, "name": "Branch", "address": "", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert Site.objects.filter(customer=customer_a, name="Branch").exists()


def test_the_dashboard_reads_in_chinese_down_to_its_figures_titles(client, manager):
    from django.utils import translation

    client.force_login(manager)
    client.cookies["django_language"] = "zh-hans"
    with translation.override("zh-hans"):
        page = client.get(reverse("home")).content.decode()
    assert "满意度，30 天" in page and "Satisfaction" not in page
    assert "严重检查" in page and "Critical checks" not in page
