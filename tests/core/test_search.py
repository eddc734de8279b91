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


# --- two characters, and the one declaration of what is searched --------------------------------

def _found(query: str) -> set[str]:
    from opsdesk.cmdb.models import ConfigurationItem

    fields = search_module.search_fields_for(registry_entry("configurationitem"))
    return set(ConfigurationItem.objects.filter(search_module.text_condition(ConfigurationItem, fields, query))
               .values_list("name", flat=True))


@pytest.fixture
def two_character_items(customer_a, customer_b):
    """Items where two-character words sit in each searched field, in either case, escaped in
    SQLite's JSON text, at the edge of a field, and in an attribute's name only."""
    ConfigurationItemFactory(customer=customer_a, name="db-01", attributes={"cpu_cores": 8})
    ConfigurationItemFactory(customer=customer_a, name="mail-DB", description="")
    ConfigurationItemFactory(customer=customer_a, name="web-01", description="生产环境，位于上海机房")
    ConfigurationItemFactory(customer=customer_a, name="sw-01", attributes={"vendor": "华为", "note": 'a "q" b\\c'})
    ConfigurationItemFactory(customer=customer_a, name="edge-x", description="y at the start")
    ConfigurationItemFactory(customer=customer_b, name="beta-01", attributes={"ip_address": "10.1.1.1"})


@pytest.mark.parametrize(("query", "expected"), [
    ("db", {"db-01", "mail-DB"}),                # name, any case
    ("Db", {"db-01", "mail-DB"}),
    ("上海", {"web-01"}),                        # description, Chinese
    ("华为", {"sw-01"}),                         # attribute value, Chinese (escaped in SQLite's JSON)
    ('"q', {"sw-01"}),                           # a quote, which JSON escapes
    ("\\c", {"sw-01"}),                          # a backslash, which JSON escapes
    ("xy", set()),                               # not across two fields (name "…-x", description "y…")
    ("cp", set()),                               # attribute names are not searched
    ("阿尔", {"db-01", "mail-DB", "web-01", "sw-01", "edge-x"}),  # customer A's name
    ("BE", {"beta-01"}),                         # customer B's code, and the name beta-01
    ("zq", set()),
])
def test_two_characters_find_what_longer_queries_would(two_character_items, query, expected):
    """Two characters are below what PostgreSQL's trigram indexes can answer: there a bigram
    index answers, and the rows must be the same as the plain conditions give (SQLite)."""
    assert _found(query) == expected


def test_two_characters_on_the_search_page(admin_client, two_character_items):
    page = results(admin_client, "上海")
    assert ">web-01</a>" in page and "生产环境，位于<mark>上海</mark>机房" in page
    page = results(admin_client, "华为")
    assert ">sw-01</a>" in page and "<mark>华为</mark>" in page


def test_the_registry_entry_declares_what_items_are_searched_by():
    """One declaration: the global search and the list's `q` both read the entry's fields."""
    entry = registry_entry("configurationitem")
    assert entry.search_fields == ["name", "description", "attributes", "customer__name", "customer__code"]
    assert search_module.search_fields_for(entry) == entry.search_fields
    # A FilterSet that still declares its own must declare the same (or the list's `q` differs).
    assert getattr(entry.filterset, "search_fields", None) in (None, [], entry.search_fields)


def test_the_bigram_index_expression_is_the_one_the_search_builds():
    """Migration cmdb 0006 writes the indexed expression out; the search builds it from the
    fields. If they differ, PostgreSQL silently stops using the index."""
    import importlib

    from opsdesk.cmdb.models import ConfigurationItem

    migration = importlib.import_module("opsdesk.cmdb.migrations.0006_search_bigram_index")
    fields = [(name, ConfigurationItem._meta.get_field(name)) for name in migration.FIELDS]
    assert search_module.bigram_text_sql(fields) == migration.TEXT
    # The fields the index holds are the item's own searched fields, in order.
    own = [f for f in registry_entry("configurationitem").search_fields if "__" not in f]
    assert list(migration.FIELDS) == own


def test_the_bigram_index_is_found_on_postgresql_only():
    from django.db import connection

    from opsdesk.cmdb.models import ConfigurationItem

    expected = ("name", "description", "attributes") if connection.vendor == "postgresql" else ()
    assert search_module.bigram_index_fields(connection, ConfigurationItem) == expected


@pytest.mark.parametrize("query", ["db", "上海"])
def test_postgresql_answers_two_characters_from_the_bigram_index(customer_a, query):
    """The plan of the item search reads the bigram index (and computes no bigrams per row),
    with and without a customer whose name matches too."""
    from django.db import connection

    from opsdesk.cmdb.models import ConfigurationItem
    from tests.factories import CustomerFactory

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no bigram index")
    ConfigurationItemFactory(customer=customer_a, name="db-01", description="上海")
    fields = search_module.search_fields_for(registry_entry("configurationitem"))

    def check() -> None:
        qs = ConfigurationItem.objects.filter(search_module.text_condition(ConfigurationItem, fields, query))
        sql, params = qs.values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: show what it would use
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "cmdb_configurationitem_search_bigrams" in plan, plan
        assert set(qs.values_list("name", flat=True)) == {"db-01"}

    check()
    CustomerFactory(code="DBX", name=f"{query} customer")  # a customer matches too: `customer IN (…) OR …`
    check()


def test_a_customer_and_the_items_own_text_match_together(customer_a, monkeypatch):
    """Two characters in a customer's name and in items' own text: on PostgreSQL two queries
    (the customer's items, the bigram index), merged; the same order and count as one."""
    from tests.factories import CustomerFactory

    db_corp = CustomerFactory(code="DBCORP", name="DB Corp")
    for name in ("x-2", "x-1"):
        ConfigurationItemFactory(customer=db_corp, name=name)
    for name in ("a-db", "db-01", "zz"):
        ConfigurationItemFactory(customer=customer_a, name=name)
    admin = UserFactory(role=Role.ADMIN)
    group = search_module.search_model(admin, registry_entry("configurationitem"), "db")
    assert [hit.obj.name for hit in group.hits] == ["db-01", "a-db", "x-1", "x-2"]
    assert (group.count, group.capped) == (4, False)
    monkeypatch.setattr(search_module, "COUNT_CAP", 3)
    group = search_module.search_model(admin, registry_entry("configurationitem"), "db")
    assert (group.count, group.capped) == (3, True)
    assert [hit.obj.name for hit in group.hits] == ["db-01", "a-db", "x-1", "x-2"]
    # Scoped like everything else: the customer user of customer A sees their own only.
    customer_user = UserFactory(role=Role.CUSTOMER, customer=customer_a)
    group = search_module.search_model(customer_user, registry_entry("configurationitem"), "db")
    assert [hit.obj.name for hit in group.hits] == ["db-01", "a-db"]


def test_two_characters_past_the_cap_show_the_best_names_first(admin_client, customer_a, monkeypatch):
    """Past the cap, a two-character search stops reading; the names equal to the query or
    starting with it still come first, and the page says the rest are some of the matches."""
    monkeypatch.setattr(search_module, "COUNT_CAP", 3)
    for name in ("a-db-1", "a-db-2", "a-db-3", "a-db-4", "db-x", "db"):
        ConfigurationItemFactory(customer=customer_a, name=name)
    group = search_module.search_model(UserFactory(role=Role.ADMIN), registry_entry("configurationitem"), "db")
    assert (group.count, group.capped, group.partial_order) == (3, True, True)
    names = [hit.obj.name for hit in group.hits]
    assert names[:2] == ["db", "db-x"] and set(names[2:]) <= {"a-db-1", "a-db-2", "a-db-3", "a-db-4"}
    assert len(names) == search_module.HITS_PER_MODEL
    page = results(admin_client, "db")
    assert 'class="card-footer small text-body-secondary search-partial"' in page
    # Under the cap the order is the full one, and nothing is said.
    monkeypatch.setattr(search_module, "COUNT_CAP", 1000)
    group = search_module.search_model(UserFactory(role=Role.ADMIN), registry_entry("configurationitem"), "db")
    assert (group.count, group.partial_order) == (6, False)
    assert [hit.obj.name for hit in group.hits] == ["db", "db-x", "a-db-1", "a-db-2", "a-db-3"]
    assert "search-partial" not in results(admin_client, "db")


def test_the_hint_says_two_characters_are_enough(admin_client):
    assert 'id="search-hint-two-characters"' in results(admin_client, "")
    page = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "输入两个字即可搜索" in page
