"""The relation graph in a real browser: names with markup are shown as text in the tooltips (no
script runs), customers of the same name can be told apart, an empty customer says what to do,
and "Fit to view" brings the whole graph back after zooming."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from opsdesk.cmdb.models import Relation
from opsdesk.core.models import Role
from tests.factories import ConfigurationItemFactory, CustomerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# If any of this reached the page as HTML, the broken image's onerror would set the flag (and
# open an alert, which the test would see as a dialog).
MARKUP = "<img src=x onerror=window.__xss=1;alert(1)>"
MARKUP_TARGET = "<b>db</b>&amp;<script>window.__xss=2</script>"

NODE_POSITION = """([id, name]) => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  const node = chart.getOption().series[0].data.find(n => n.name === name);
  return chart.convertToPixel({seriesIndex: 0}, [node.x, node.y]);
}"""


@pytest.fixture
def administrator():
    return UserFactory(username="ada", role=Role.ADMIN)


@pytest.fixture
def marked_up(db):
    customer = CustomerFactory(code="MARK", name="Markup <i>Co</i>")
    source = ConfigurationItemFactory(customer=customer, name=MARKUP)
    target = ConfigurationItemFactory(customer=customer, name=MARKUP_TARGET)
    Relation.objects.create(source=source, target=target, type="runs_on")
    return customer, source, target


def watch_for_script(page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def hover_at(page, x: float, y: float) -> None:
    """As a hand would: a few steps there, then a small move on the spot (a single jump from
    another item's tooltip can be lost while that tooltip hides)."""
    page.mouse.move(x - 3, y - 3, steps=6)
    page.mouse.move(x, y, steps=2)


def hover_node(page, graph_id: str, name: str):
    """Moves the mouse onto the node named `name` and returns the tooltip element."""
    graph = page.locator(f"#{graph_id}")
    expect(graph).to_have_class(re.compile(r"\bgraph-ready\b"))
    x, y = page.evaluate(NODE_POSITION, [graph_id, name])
    box = graph.bounding_box()
    hover_at(page, box["x"] + x, box["y"] + y)
    # ECharts puts its tooltip in a <div> inside the chart's element.
    tooltip = graph.locator("div", has_text=name).last
    expect(tooltip).to_be_visible()
    return tooltip


def assert_no_script_ran(page, dialogs) -> None:
    assert page.evaluate("window.__xss") is None
    assert dialogs == []


def test_a_name_with_markup_is_text_in_the_tooltip_of_the_item_graph(page, log_in, shot, administrator, marked_up):
    _customer, source, target = marked_up
    dialogs = watch_for_script(page)
    log_in(page, "ada")
    page.goto(f"/cmdb/configurationitems/{source.pk}/")
    expect(page.locator("main h1")).to_have_text(MARKUP)
    tooltip = hover_node(page, "ci-graph", MARKUP)
    expect(tooltip).to_contain_text(MARKUP)
    expect(tooltip.locator("img")).to_have_count(0)
    shot(page, "tooltip-node")
    assert_no_script_ran(page, dialogs)

    tooltip = hover_node(page, "ci-graph", MARKUP_TARGET)
    expect(tooltip).to_contain_text(MARKUP_TARGET)
    expect(tooltip.locator("b, script, img")).to_have_count(1)  # the formatter's own <b> around the name
    assert_no_script_ran(page, dialogs)

    # The edge's tooltip names both ends, as text: the mouse on the middle of the (slightly
    # curved, as ECharts draws it with `curveness`) line between them.
    (x1, y1), (x2, y2) = (page.evaluate(NODE_POSITION, ["ci-graph", n]) for n in (MARKUP, MARKUP_TARGET))
    curveness = page.evaluate("""() => echarts.getInstanceByDom(document.getElementById('ci-graph'))
        .getOption().series[0].lineStyle.curveness""")
    middle = ((x1 + x2) / 2 - (y1 - y2) * curveness / 2, (y1 + y2) / 2 - (x2 - x1) * curveness / 2)
    box = page.locator("#ci-graph").bounding_box()
    edge_tip = page.locator("#ci-graph div", has_text="runs on").last
    # The node's tooltip first goes (the mouse on an empty corner) and the chart's emphasis
    # animation ends: a hover of the edge while the node's tooltip faded was lost in some runs.
    for _attempt in range(3):
        hover_at(page, box["x"] + 8, box["y"] + 8)
        page.wait_for_timeout(500)
        hover_at(page, box["x"] + middle[0], box["y"] + middle[1])
        page.wait_for_timeout(300)
        if edge_tip.is_visible():
            break
    expect(edge_tip).to_be_visible()
    expect(edge_tip).to_contain_text(f"{MARKUP} runs on {MARKUP_TARGET}")
    expect(edge_tip.locator("img, script")).to_have_count(0)
    assert_no_script_ran(page, dialogs)


def test_a_name_with_markup_is_text_in_the_customer_graph(page, log_in, shot, administrator, marked_up):
    customer, _source, _target = marked_up
    dialogs = watch_for_script(page)
    log_in(page, "ada")
    page.goto(f"/cmdb/graph/?customer={customer.pk}")
    graph = page.locator("#customer-graph")
    expect(graph).to_have_attribute("data-nodes", "2")
    tooltip = hover_node(page, "customer-graph", MARKUP)
    expect(tooltip).to_contain_text(MARKUP)
    expect(tooltip.locator("img")).to_have_count(0)
    shot(page, "customer-graph-tooltip")
    assert_no_script_ran(page, dialogs)


def test_customers_of_one_name_are_told_apart_and_an_empty_one_says_what_to_do(page, log_in, shot, administrator):
    full = CustomerFactory(code="ACME-SH", name="Acme")
    empty = CustomerFactory(code="ACME-BJ", name="Acme")
    a, b = (ConfigurationItemFactory(customer=full) for _ in range(2))
    log_in(page, "ada")
    page.goto(f"/cmdb/graph/?customer={full.pk}")
    options = page.locator("#graph-customer option")
    expect(options).to_have_text(["Acme (ACME-BJ)", "Acme (ACME-SH)"])
    # Items without relations: drawn, with a hint and a link to add one.
    expect(page.locator("#graph-no-relations")).to_be_visible()
    expect(page.locator("#graph-no-relations a")).to_have_attribute("href", "/cmdb/relations/add/")
    expect(page.locator("#customer-graph")).to_have_attribute("data-nodes", "2")

    with page.expect_navigation():
        page.select_option("#graph-customer", label="Acme (ACME-BJ)")
    empty_card = page.locator("#graph-empty")
    expect(empty_card).to_be_visible()
    expect(empty_card).to_contain_text("Acme has no configuration items yet.")
    add_item = page.locator("#graph-add-item")
    expect(add_item).to_have_attribute("href", f"/cmdb/configurationitems/add/?customer={empty.pk}")
    expect(page.locator("#customer-graph")).to_have_count(0)
    shot(page, "empty-customer")
    assert a.pk and b.pk


def test_fit_to_view_brings_the_graph_back_after_zooming(page, log_in, administrator, marked_up):
    customer, source, _target = marked_up
    log_in(page, "ada")
    page.goto(f"/cmdb/graph/?customer={customer.pk}")
    graph = page.locator("#customer-graph")
    expect(graph).to_have_class(re.compile(r"\bgraph-ready\b"))
    before = page.evaluate(NODE_POSITION, ["customer-graph", MARKUP])
    box = graph.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(5):
        page.mouse.wheel(0, -300)
    page.wait_for_timeout(300)
    zoomed = page.evaluate(NODE_POSITION, ["customer-graph", MARKUP])
    assert abs(zoomed[0] - before[0]) + abs(zoomed[1] - before[1]) > 20, (before, zoomed)
    page.click("[data-graph-fit]")
    page.wait_for_timeout(500)
    after = page.evaluate(NODE_POSITION, ["customer-graph", MARKUP])
    assert abs(after[0] - before[0]) < 2 and abs(after[1] - before[1]) < 2, (before, after)
    # Every node is inside the chart.
    for name in (MARKUP, MARKUP_TARGET):
        x, y = page.evaluate(NODE_POSITION, ["customer-graph", name])
        assert 0 < x < box["width"] and 0 < y < box["height"], (name, x, y, box)


def test_every_page_names_its_icon_and_favicon_ico_answers(page, log_in, administrator):
    log_in(page, "ada")
    assert page.locator("head link[rel=icon]").count() >= 1
    response = page.request.get("/favicon.ico")
    assert response.ok and response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert response.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page.goto("/api/docs/")
    expect(page.locator("#opsdesk-topbar")).to_be_visible()
    with page.expect_navigation():
        page.click("#back-home")
    expect(page.locator("main h1")).to_have_text("Dashboard")
