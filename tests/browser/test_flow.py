"""The first thing an administrator does in opsdesk, in a real browser: log in, pick a language,
add a customer and its configuration items, relate them, look at the graph, and import a file
that has a mistake in it."""

from __future__ import annotations

import re

import polib
import pytest
from django.conf import settings
from playwright.sync_api import expect

from opsdesk.cmdb.models import ConfigurationItem, Relation
from opsdesk.core.models import Customer, Role
from tests.factories import CustomerFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    # live_server needs committed data, so each test ends with a flush of every table;
    # serialized_rollback puts back what the migrations wrote (content types, built-in CI kinds,
    # the default service level) before the next one.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def administrator():
    return UserFactory(username="ada", role=Role.ADMIN)


def translation_of(msgid: str, language: str = "zh_Hans") -> str:
    """The translation in the catalogue as it is now (the translator works on it in parallel)."""
    po_path = settings.LOCALE_PATHS[0] / language / "LC_MESSAGES" / "django.po"
    assert po_path.exists(), f"{po_path} does not exist: the {language} catalogue is missing"
    entry = polib.pofile(str(po_path)).find(msgid)
    assert entry is not None, f"{msgid!r} is not in {po_path}: run `make messages`"
    assert entry.translated(), f"{msgid!r} has no translation in {po_path} (empty or fuzzy)"
    return entry.msgstr


def test_log_in_and_switch_language(page, log_in, shot, administrator):
    log_in(page, "ada")
    html, heading = page.locator("html"), page.locator("main h1")
    expect(html).to_have_attribute("lang", "en")
    expect(heading).to_have_text("Dashboard")
    # Nothing to count yet: the charts say so rather than drawing a pie of equal slices.
    pie = page.locator("#ci-by-criticality")
    expect(pie).to_have_class(re.compile(r"\bchart-ready\b"))
    expect(pie).to_have_class(re.compile(r"\bchart-empty\b"))
    shot(page, "dashboard-en")

    dashboard_zh = translation_of("Dashboard")
    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    expect(html).to_have_attribute("lang", "zh-hans")
    expect(heading).to_have_text(dashboard_zh)
    expect(page.locator("aside")).to_contain_text(dashboard_zh)
    expect(page.locator("#language-select")).to_have_value("zh-hans")
    shot(page, "dashboard-zh")

    # The choice sticks for the next page, and switching back works.
    page.goto("/cmdb/configurationitems/")
    expect(html).to_have_attribute("lang", "zh-hans")
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/cmdb/configurationitems/$"))
    expect(page.locator("aside")).to_contain_text("Dashboard")


def add_server(page, shot, customer_name: str, name: str, ip: str) -> int:
    page.goto("/cmdb/configurationitems/add/")
    # Customers are offered as "name (code)", so two of the same name can be told apart.
    value = page.locator("#id_customer option", has_text=customer_name).first.get_attribute("value")
    page.select_option("#id_customer", value=value)
    page.fill("#id_name", name)
    # Choosing the kind re-renders the attribute fields (htmx) with the kind's schema.
    expect(page.locator("#id_attr_ip_address")).to_have_count(0)
    page.select_option("#id_kind", label="Server")
    page.locator("#attribute-fields #id_attr_ip_address").fill(ip)
    expect(page.locator("#id_name")).to_have_value(name)  # the re-render left the rest alone
    expect(page.locator("#id_kind")).to_have_count(1)
    shot(page, f"add-{name}")
    with page.expect_navigation():
        page.click("#save")
    expect(page).to_have_url(re.compile(r"/cmdb/configurationitems/\d+/$"))
    expect(page.locator("main h1")).to_have_text(name)
    expect(page.locator("#ci-attributes")).to_contain_text(ip)
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def test_customer_items_relation_and_graph(page, log_in, shot, administrator):
    log_in(page, "ada")

    # A customer, from its list.
    page.goto("/core/customers/")
    with page.expect_navigation():
        page.click("#add-object")
    expect(page).to_have_url(re.compile(r"/core/customers/add/$"))
    page.fill("#id_code", "ACME")
    page.fill("#id_name", "Acme 艾克米")
    with page.expect_navigation():
        page.click("#save")
    expect(page.locator("main h1")).to_have_text("Acme 艾克米")
    assert Customer.objects.filter(code="ACME", name="Acme 艾克米").exists()

    # Two servers of it.
    app_id = add_server(page, shot, "Acme 艾克米", "app-01", "10.1.0.11")
    shot(page, "ci-detail-before-relation")
    db_id = add_server(page, shot, "Acme 艾克米", "db-01", "10.1.0.12")
    assert ConfigurationItem.objects.get(pk=db_id).attributes["ip_address"] == "10.1.0.12"

    # app-01 runs on db-01, from app-01's page.
    page.goto(f"/cmdb/configurationitems/{app_id}/")
    with page.expect_navigation():
        page.click("#add-relation")
    expect(page).to_have_url(re.compile(rf"/cmdb/relations/add/\?source={app_id}&next=/cmdb/configurationitems/{app_id}/$"))
    expect(page.locator("#id_source")).to_have_value(str(app_id))
    page.select_option("#id_type", label="runs on")
    page.select_option("#id_target", label="db-01 (ACME)")
    with page.expect_navigation():
        page.click("#save")
    expect(page.locator(".alert-success")).to_be_visible()
    relation = Relation.objects.get()
    assert (relation.source_id, relation.type, relation.target_id) == (app_id, "runs_on", db_id)

    # Saving brought the person back to the CI, whose page lists the relation and draws the
    # graph: two nodes, one link.
    expect(page).to_have_url(re.compile(rf"/cmdb/configurationitems/{app_id}/$"))
    expect(page.locator("#ci-relations")).to_contain_text("runs on")
    expect(page.locator("#ci-relations a", has_text="db-01")).to_have_count(1)
    graph = page.locator("#ci-graph")
    expect(graph).to_have_class(re.compile(r"\bgraph-ready\b"))
    expect(graph).to_have_attribute("data-nodes", "2")
    expect(graph).to_have_attribute("data-links", "1")
    canvas = graph.locator("canvas")
    expect(canvas.first).to_be_visible()
    box = canvas.first.bounding_box()
    assert box["width"] > 200 and box["height"] > 200, box
    shot(page, "ci-detail-graph")

    # The other end shows it too, as an incoming relation.
    page.goto(f"/cmdb/configurationitems/{db_id}/")
    expect(page.locator("#ci-relations")).to_contain_text("app-01")
    expect(page.locator("#ci-graph")).to_have_attribute("data-links", "1")

    # The dashboard counts them.
    page.goto("/")
    expect(page.locator("#ci-by-kind")).to_have_class(re.compile(r"\bchart-ready\b"))
    expect(page.locator("#ci-by-kind")).not_to_have_class(re.compile(r"\bchart-empty\b"))
    shot(page, "dashboard")


@pytest.mark.parametrize(
    ("bad_row", "column", "value", "message"),
    [
        ("ACME,imp-bad,server,999.1.1.1", "attr:ip_address", "999.1.1.1", "is not a valid IPv4 address"),
        ("ACME,imp-bad,toaster,10.2.0.2", "kind", "toaster", "No kind toaster"),
    ],
    ids=["bad-ip", "unknown-kind"],
)
def test_import_with_an_error_row_writes_nothing(page, log_in, shot, administrator, bad_row, column, value,
                                                 message):
    CustomerFactory(code="ACME", name="Acme")
    log_in(page, "ada")

    header = "customer,name,kind,attr:ip_address"
    content = f"{header}\nACME,imp-good,server,10.2.0.1\n{bad_row}\n".encode()
    page.goto("/cmdb/import/")
    page.set_input_files("#id_file", files=[{"name": "items.csv", "mimeType": "text/csv", "buffer": content}])
    # Not a dry run: the error alone must stop the good row from being written.
    expect(page.locator("#id_dry_run")).to_be_checked()
    page.uncheck("#id_dry_run")
    with page.expect_navigation():
        page.click("#import-submit")

    expect(page.locator("#import-result")).to_have_class(re.compile(r"\balert-danger\b"))
    expect(page.locator("#import-result")).to_contain_text("nothing was written")
    problems = page.locator("#import-problems tbody tr")
    expect(problems).to_have_count(1)
    cells = problems.first.locator("td")
    expect(cells.nth(0)).to_have_text("3")  # the header is line 1, the bad row line 3
    expect(cells.nth(1)).to_have_text(column)
    expect(cells.nth(2)).to_have_text(value)  # the bad value is repeated
    expect(cells.nth(3)).to_contain_text(message)
    shot(page, "import-problems")
    assert not ConfigurationItem.objects.filter(name__startswith="imp-").exists()

    # The same file without the bad row is written: the check above was not vacuous.
    page.set_input_files("#id_file", files=[{"name": "items.csv", "mimeType": "text/csv",
                                             "buffer": f"{header}\nACME,imp-good,server,10.2.0.1\n".encode()}])
    page.uncheck("#id_dry_run")
    with page.expect_navigation():
        page.click("#import-submit")
    expect(page.locator("#import-result")).to_have_class(re.compile(r"\balert-success\b"))
    assert list(ConfigurationItem.objects.filter(name__startswith="imp-").values_list("name", flat=True)) == \
        ["imp-good"]
