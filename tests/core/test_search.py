"""The global search: every model a person may see, CI attributes included, never another
customer's object."""

from __future__ import annotations

import pytest
from django.urls import reverse

from opsdesk.core import search as search_module
from opsdesk.core.models import Role
from tests.factories import (
    ConfigurationItemFactory,
    ContactFactory,
    CredentialFactory,
    SiteFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

URL = "/search/"


def results(client, query: str) -> str:
    response = client.get(URL, {"q": query})
    assert response.status_code == 200
    return response.content.decode()


def detail(obj) -> str:
    return reverse(f"{obj._meta.app_label}:{obj._meta.model_name}_detail", args=[obj.pk])


def test_an_ip_address_finds_the_item_with_a_link_to_it(admin_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a, name="web-01",
                                    attributes={"ip_address": "10.20.30.40", "os": "Debian 12"})
    ConfigurationItemFactory(customer=customer_a, name="web-02", attributes={"ip_address": "10.20.31.1"})
    page = results(admin_client, "10.20.30.40")
    assert 'id="search-cmdb-configurationitem"' in page
    assert f'href="{detail(item)}"' in page and ">web-01</a>" in page
    assert "web-02" not in page
    # What matched is named with the attribute's title, the match marked.
    assert "IP address: <mark>10.20.30.40</mark>" in page


def test_every_searchable_model_is_searched_and_grouped(admin_client, customer_a):
    site = SiteFactory(customer=customer_a, name="Shanghai DC 上海机房")
    contact = ContactFactory(customer=customer_a, name="Wang Shanghai")
    item = ConfigurationItemFactory(customer=customer_a, name="sh-fw-01", description="Firewall in Shanghai DC")
    page = results(admin_client, "shanghai")
    for obj in (site, contact, item):
        assert f'href="{detail(obj)}"' in page
    assert 'id="search-core-site"' in page and 'id="search-core-contact"' in page
    # Chinese in the middle of a name.
    assert f'href="{detail(site)}"' in results(admin_client, "机房")


def test_chinese_attribute_values_are_found(admin_client, customer_a):
    """SQLite stores JSON with non-ASCII characters escaped: the search must still find them."""
    item = ConfigurationItemFactory(customer=customer_a, name="kylin-01", attributes={"os": "银河麒麟 V10"})
    page = results(admin_client, "麒麟")
    assert f'href="{detail(item)}"' in page


def test_the_count_and_the_more_link_agree_with_the_list(admin_client, customer_a):
    for n in range(7):
        ConfigurationItemFactory(customer=customer_a, name=f"app-{n}", attributes={"os": "Rocky Linux 9"})
    ConfigurationItemFactory(customer=customer_a, name="other", attributes={"os": "Debian 12"})
    page = results(admin_client, "rocky")
    assert page.count('class="fw-semibold text-decoration-none search-hit"') == search_module.HITS_PER_MODEL
    assert '<span class="badge text-bg-secondary rounded-pill search-count">7</span>' in page
    more = reverse("cmdb:configurationitem_list") + "?q=rocky"
    assert f'href="{more}"' in page
    listed = admin_client.get(more).content.decode()
    assert listed.count(">app-") == 7 and ">other</a>" not in listed


def test_a_count_stops_at_the_cap(admin_client, customer_a, monkeypatch):
    monkeypatch.setattr(search_module, "COUNT_CAP", 3)
    monkeypatch.setattr(search_module, "HITS_PER_MODEL", 2)
    for n in range(5):
        ConfigurationItemFactory(customer=customer_a, name=f"node-{n}")
    group = search_module.search_model(UserFactory(role=Role.ADMIN), registry_entry("configurationitem"),
                                       "node", limit=2)
    assert group is not None and (group.count, group.capped, len(group.hits)) == (3, True, 2)


def registry_entry(model_name: str):
    from opsdesk.core import registry

    return next(e for e in registry.entries() if e.model_name == model_name)


def test_exact_and_leading_name_matches_come_first(admin_client, customer_a):
    for name in ("a-db", "db", "zz", "db-2"):
        ConfigurationItemFactory(customer=customer_a, name=name, description="" if name != "zz" else "db host")
    group = search_module.search_model(UserFactory(role=Role.ADMIN), registry_entry("configurationitem"), "db")
    assert [hit.obj.name for hit in group.hits] == ["db", "db-2", "a-db", "zz"]


def test_a_customer_user_never_finds_another_customers_objects(client, customer_a, customer_b, customer_user):
    theirs = [ConfigurationItemFactory(customer=customer_b, name="beta-secret-host",
                                       attributes={"ip_address": "10.9.9.9"}),
              SiteFactory(customer=customer_b, name="beta-secret-site"),
              ContactFactory(customer=customer_b, name="beta-secret-contact")]
    own = ConfigurationItemFactory(customer=customer_a, name="alpha-host", attributes={"ip_address": "10.9.9.8"})
    client.force_login(customer_user)
    for query in ("beta-secret", "10.9.9.9", "Beta", "BETA", "贝塔"):
        page = results(client, query)
        assert 'id="search-nothing"' in page, query
        assert not any(detail(obj) in page for obj in theirs), query
    page = results(client, "10.9.9")
    assert f'href="{detail(own)}"' in page and not any(detail(obj) in page for obj in theirs)
    # Staff-only models are not searched for customers: users, teams, credentials.
    cred = CredentialFactory(customer=customer_a, name="alpha-root-cred")
    UserFactory(username="alpha-operator", role=Role.ENGINEER)
    page = results(client, "alpha-")
    assert detail(cred) not in page and ">alpha-operator</a>" not in page
    assert 'id="search-core-user"' not in page and 'id="search-core-credential"' not in page


def test_an_engineer_finds_only_the_customers_their_teams_serve(client, customer_a, customer_b, engineer):
    """The `engineer` fixture's team serves customer A only."""
    theirs = [ConfigurationItemFactory(customer=customer_b, name="beta-db", attributes={"ip_address": "10.8.8.8"}),
              CredentialFactory(customer=customer_b, name="beta-cred"), customer_b]
    mine = ConfigurationItemFactory(customer=customer_a, name="alpha-db", attributes={"ip_address": "10.8.8.7"})
    client.force_login(engineer)
    for query in ("beta", "10.8.8.8", "贝塔"):
        page = results(client, query)
        assert 'id="search-nothing"' in page, query
        assert not any(detail(obj) in page for obj in theirs), query
    page = results(client, "-db")
    assert f'href="{detail(mine)}"' in page and detail(theirs[0]) not in page


def test_staff_find_people_and_teams(admin_client):
    UserFactory(username="operator-li", role=Role.ENGINEER, email="li@example.com")
    TeamFactory(name="operator team")
    page = results(admin_client, "operator")
    assert 'id="search-core-user"' in page and 'id="search-core-team"' in page


def test_empty_short_and_unmatched_queries_say_what_to_do(admin_client):
    assert 'id="search-hint"' in results(admin_client, "")
    assert 'id="search-hint"' in results(admin_client, "   ")
    assert 'id="search-too-short"' in results(admin_client, "x")
    page = results(admin_client, "no-such-thing-anywhere")
    assert 'id="search-nothing"' in page and "no-such-thing-anywhere" in page


def test_the_hints_are_translated(admin_client):
    page = admin_client.get(URL, {"q": "no-such-thing"}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<html lang="zh-hans"' in page
    assert "Nothing you can see matches" not in page


def test_the_query_is_escaped(admin_client, customer_a):
    ConfigurationItemFactory(customer=customer_a, name="<b>odd</b> name")
    page = results(admin_client, "<b>odd")
    assert "<b>odd</b> name" not in page
    assert "<mark>&lt;b&gt;odd</mark>&lt;/b&gt; name" in page
    assert "<script>alert(1)" not in results(admin_client, "<script>alert(1)</script>")


def test_every_page_has_the_search_box_and_search_needs_a_login(client, admin_client):
    page = admin_client.get("/").content.decode()
    assert 'id="global-search"' in page and 'action="/search/"' in page
    assert 'aria-keyshortcuts="/"' in page
    client.logout()
    response = client.get(URL, {"q": "x"})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_related_ids_past_the_cap_become_a_subquery(admin_client, customer_a, monkeypatch):
    """Through a foreign key, the matching related rows are an id list (PostgreSQL) or, past the
    cap and on SQLite, a subquery: the same rows either way."""
    monkeypatch.setattr(search_module, "RELATED_IDS_CAP", 1)
    from opsdesk.cmdb.models import ConfigurationItem
    from tests.factories import CustomerFactory

    gamma = CustomerFactory(code="GAMMA1", name="Gamma One")
    CustomerFactory(code="GAMMA2", name="Gamma Two")
    item = ConfigurationItemFactory(customer=customer_a, name="x-1")
    gamma_item = ConfigurationItemFactory(customer=gamma, name="x-2")
    condition = search_module.text_condition(ConfigurationItem, ["name", "customer__name"], "gamma")
    assert list(ConfigurationItem.objects.filter(condition)) == [gamma_item]
    condition = search_module.text_condition(ConfigurationItem, ["name", "customer__name"], "alpha")
    assert list(ConfigurationItem.objects.filter(condition)) == [item]


def test_attribute_values_match_and_attribute_names_do_not(customer_a):
    from opsdesk.cmdb.models import ConfigurationItem

    both = ConfigurationItemFactory(customer=customer_a, attributes={"cpu_cores": 8, "role": "Core"})
    ConfigurationItemFactory(customer=customer_a, attributes={"cpu_cores": 16})
    quoted = ConfigurationItemFactory(customer=customer_a, attributes={"note": 'say "hi" 你好'})
    number = ConfigurationItemFactory(customer=customer_a, attributes={"memory_gb": 64})

    def found(query: str) -> set:
        condition = search_module.text_condition(ConfigurationItem, ["attributes"], query)
        return set(ConfigurationItem.objects.filter(condition))

    assert found("core") == {both}  # "cpu_cores" is a name, "Core" a value
    assert found("cpu") == set()
    assert found("64") == {number}
    assert found('"hi"') == {quoted}
    assert found("你好") == {quoted}
