"""The lists' filters: the CI search reaches attributes and the customer, the filter form keeps
each parameter once, yes/no filters start on "All", and an impossible id is no 500."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from opsdesk.core.models import Customer
from tests.conftest import api_client_for
from tests.factories import ConfigurationItemFactory, CustomerFactory, SiteFactory

pytestmark = pytest.mark.django_db

CI_LIST = "/cmdb/configurationitems/"
CI_API = "/api/cmdb/configurationitems/"
HUGE = "99999999999999999999"  # past the 64-bit range of any id


def listed(client, url: str, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def items(customer_a, customer_b):
    return {
        "web": ConfigurationItemFactory(customer=customer_a, name="web-01",
                                        attributes={"ip_address": "192.168.7.21", "os": "Ubuntu 22.04",
                                                    "hostname": "web-01.alpha.example"}),
        "db": ConfigurationItemFactory(customer=customer_a, name="db-01", description="Orders database",
                                       attributes={"ip_address": "192.168.7.30", "os": "统信 UOS 20"}),
        "beta": ConfigurationItemFactory(customer=customer_b, name="beta-01", attributes={"ip_address": "10.1.1.1"}),
    }


@pytest.mark.parametrize(("query", "expected"), [
    ("192.168.7.21", {"web"}),                  # IP address
    ("192.168.7", {"web", "db"}),               # part of one
    ("ubuntu", {"web"}),                        # OS, any case
    ("统信", {"db"}),                           # Chinese in an attribute (escaped in SQLite's JSON)
    ("alpha.example", {"web"}),                 # host name
    ("orders", {"db"}),                         # description
    ("阿尔法", {"web", "db"}),                  # the customer's name
    ("ALPHA", {"web", "db"}),                   # the customer's code
    ("beta", {"beta"}),
    ("hostname", set()),                        # attribute names are not what is searched
    ("ip_", set()),
])
def test_the_item_search_reaches_attributes_and_the_customer(admin_client, items, query, expected):
    page = listed(admin_client, CI_LIST, q=query)
    found = {key for key, item in items.items() if f">{item.name}</a>" in page}
    assert found == expected


def test_the_api_search_is_the_same(admin_api, items):
    names = {row["name"] for row in admin_api.get(CI_API, {"q": "192.168.7"}).json()["results"]}
    assert names == {"web-01", "db-01"}


def test_the_item_search_stays_within_the_customers_one_may_see(client, customer_user, items):
    client.force_login(customer_user)
    assert "beta-01" not in listed(client, CI_LIST, q="beta")
    assert "beta-01" not in listed(client, CI_LIST, q="10.1.1.1")


def test_the_filter_form_does_not_repeat_the_parameters_already_in_the_url(admin_client, items, customer_a):
    page = listed(admin_client, CI_LIST, customer=customer_a.pk, q="web", sort="name", per_page=25)
    form = re.search(r'<form method="get"[^>]*id="filter-form"[^>]*>', page).group(0)
    # htmx adds the form's fields to hx-get's URL: that URL must carry no query of its own.
    assert f'hx-get="{CI_LIST}"' in form and f'action="{CI_LIST}"' in form
    # Each link carries each parameter once.
    for link in re.findall(r'href="(\?[^"]*)"', page):
        keys = [pair.split("=")[0] for pair in link[1:].replace("&amp;", "&").split("&")]
        assert len(keys) == len(set(keys)), link
    assert page.count('name="sort"') == 1 and page.count('name="per_page"') == 1


def test_an_htmx_filter_updates_the_export_links(admin_client, items, customer_a):
    page = admin_client.get(CI_LIST, {"q": "web"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="object-table")
    body = page.content.decode()
    assert 'id="list-export" hx-swap-oob="true"' in body
    assert 'href="?q=web&amp;export=csv"' in body


def test_yes_no_filters_start_on_all(admin_client, customer_a):
    CustomerFactory(code="GONE", name="Gone", is_active=False)
    url = reverse("core:customer_list")
    for language, all_label in (("en", "All"), ("zh-hans", "全部")):
        page = admin_client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        select = re.search(r'<select name="is_active".*?</select>', page, re.S).group(0)
        options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select)
        assert options[0] == ("", " selected", all_label), options
        assert [value for value, _s, _label in options] == ["", "true", "false"]
        assert "未知" not in select and "Unknown" not in select
    inactive = listed(admin_client, url, is_active="false")
    assert ">Gone</a>" not in inactive or "GONE" in inactive
    assert "Alpha" not in listed(admin_client, url, is_active="false")
    assert "Alpha" in listed(admin_client, url, is_active="")
    assert Customer.objects.filter(is_active=False).count() == 1


@pytest.mark.parametrize("param", ["customer", "kind", "site", "owner_team"])
@pytest.mark.parametrize("value", [HUGE, f"-{HUGE}", f"1,{HUGE}"])
def test_an_impossible_id_is_an_invalid_choice_in_the_list(admin_client, items, param, value):
    response = admin_client.get(CI_LIST, {param: value})
    assert response.status_code == 200
    page = response.content.decode()
    assert "web-01" not in page  # an invalid filter lists nothing rather than everything


def test_an_impossible_id_is_an_invalid_choice_in_the_generated_filtersets(admin_client, customer_a):
    SiteFactory(customer=customer_a, name="hq")
    response = admin_client.get(reverse("core:site_list"), {"customer": HUGE})
    assert response.status_code == 200 and ">hq</a>" not in response.content.decode()


@pytest.mark.parametrize("param", ["customer", "site", "kind"])
def test_an_impossible_id_is_a_400_in_the_api(admin_api, items, param):
    response = admin_api.get(CI_API, {param: HUGE})
    assert response.status_code == 400
    assert param in response.json()


def test_an_impossible_id_is_a_400_for_a_customer_too(customer_user, items):
    api = api_client_for(customer_user, write=False)
    assert api.get(CI_API, {"customer": HUGE}).status_code == 400


def test_items_without_an_owner_team(admin_client, admin_api, customer_a):
    """The dashboard's link `?owner_team__isnull=true`: only the items no team owns."""
    from tests.factories import TeamFactory

    team = TeamFactory(name="Ops")
    ConfigurationItemFactory(customer=customer_a, name="owned-01", owner_team=team)
    ConfigurationItemFactory(customer=customer_a, name="orphan-01", owner_team=None)
    ConfigurationItemFactory(customer=customer_a, name="orphan-02", owner_team=None, status="retired")
    orphans, owned = {"orphan-01", "orphan-02"}, {"owned-01"}

    def ui(value: str) -> set[str]:
        page = listed(admin_client, CI_LIST, owner_team__isnull=value)
        return {name for name in orphans | owned if f">{name}</a>" in page}

    def api(value: str) -> set[str]:
        response = admin_api.get(CI_API, {"owner_team__isnull": value})
        assert response.status_code == 200
        return {row["name"] for row in response.json()["results"]}

    assert ui("true") == orphans and api("true") == orphans
    assert ui("false") == owned and api("false") == owned
    assert ui("") == orphans | owned and api("") == orphans | owned
    # Combined with the dashboard's other condition (its count is of active items).
    assert {row["name"] for row in admin_api.get(CI_API, {"owner_team__isnull": "true", "status": "active"})
            .json()["results"]} == {"orphan-01"}
    # An All / Yes / No select, labelled in the reader's language.
    for language, label, all_label in (("en", "Without owner team", "All"), ("zh-hans", "没有负责团队", "全部")):
        body = admin_client.get(CI_LIST, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        select = re.search(r'<select name="owner_team__isnull".*?</select>', body, re.S).group(0)
        options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select)
        assert options[0] == ("", " selected", all_label), options
        assert [value for value, _s, _label in options] == ["", "true", "false"]
        assert f'for="id_owner_team__isnull">{label}' in body or f">{label}<" in body


def test_a_chosen_yes_no_filter_shows_as_chosen(admin_client, customer_a):
    page = admin_client.get(reverse("cmdb:configurationitem_list"), {"owner_team__isnull": "false"}).content.decode()
    select = page[page.index('name="owner_team__isnull"'):]
    select = select[:select.index("</select>")]
    assert 'value="false" selected' in select
    assert 'value="" selected' not in select
