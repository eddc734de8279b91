"""Configuration items: attributes checked against their kind's schema, relations, the graph."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import translation

from opsdesk.cmdb import services
from opsdesk.cmdb.attributes import validate_attributes
from opsdesk.cmdb.models import CIKind, ConfigurationItem, Relation
from tests.factories import ConfigurationItemFactory, kind

pytestmark = pytest.mark.django_db


def test_attributes_are_checked_against_the_schema_with_the_attribute_named():
    schema = kind("server").attribute_schema
    problems = dict(validate_attributes(schema, {"ip_address": "300.1.1.1", "cpu_cores": 0, "color": "red"}))
    assert set(problems) == {"ip_address", "cpu_cores", "color"}
    with translation.override("zh-hans"):
        problems = dict(validate_attributes(schema, {"cpu_cores": 0}))
    assert problems["cpu_cores"] != "Must be at least 1."  # translated


def test_the_form_builds_fields_from_the_kind_and_refuses_bad_values(admin_client, customer_a):
    url = reverse("cmdb:configurationitem_add")
    page = admin_client.get(url, {"kind": kind("database").pk}).content.decode()
    assert 'name="attr_engine"' in page and 'name="attr_port"' in page
    response = admin_client.post(url, {"customer": customer_a.pk, "name": "db", "kind": kind("database").pk,
                                       "status": "active", "criticality": "high", "attr_port": "70000"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-field="attr_port"' in page and 'data-field="attr_engine"' in page
    assert not ConfigurationItem.objects.exists()
    response = admin_client.post(url, {"customer": customer_a.pk, "name": "db", "kind": kind("database").pk,
                                       "status": "active", "criticality": "high", "attr_engine": "mysql",
                                       "attr_port": "3306"})
    assert response.status_code == 302
    assert ConfigurationItem.objects.get(name="db").attributes == {"engine": "mysql", "port": 3306}


def test_an_administrator_adds_a_kind_with_a_schema(admin_client):
    schema = {"type": "object", "properties": {"rack": {"type": "string", "title": "Rack"}}, "required": ["rack"]}
    response = admin_client.post(reverse("cmdb:cikind_add"), {"slug": "ups", "name": "UPS", "icon": "bi-battery",
                                                               "attribute_schema": json.dumps(schema)})
    assert response.status_code == 302, response.content.decode()[-2000:]
    # Saved with the order the properties were typed in (x-order), which jsonb would lose.
    assert CIKind.objects.get(slug="ups").attribute_schema == {**schema, "x-order": ["rack"]}
    array_schema = {"type": "object", "properties": {"x": {"type": "array"}}}
    bad = admin_client.post(reverse("cmdb:cikind_add"),
                            {"slug": "pdu", "name": "PDU", "attribute_schema": json.dumps(array_schema)})
    assert bad.status_code == 400
    assert not CIKind.objects.filter(slug="pdu").exists()


def test_engineers_cannot_change_kinds(engineer_client):
    assert engineer_client.get(reverse("cmdb:cikind_add")).status_code == 403


def test_relations_stay_within_one_customer(customer_a, customer_b):
    from django.core.exceptions import ValidationError

    a = ConfigurationItemFactory(customer=customer_a)
    b = ConfigurationItemFactory(customer=customer_b)
    with pytest.raises(ValidationError):
        services.relate(a, b, "runs_on")
    with pytest.raises(ValidationError):
        services.relate(a, a, "runs_on")
    rel = services.relate(a, ConfigurationItemFactory(customer=customer_a), "depends_on")
    assert rel.customer == customer_a


def test_the_graph_around_an_item_follows_relations_two_hops(admin, customer_a):
    app, vm, host, far = (ConfigurationItemFactory(customer=customer_a) for _ in range(4))
    services.relate(app, vm, "runs_on")
    services.relate(vm, host, "runs_on")
    services.relate(host, far, "connected_to")
    data = services.graph(admin, item=app, depth=2)
    assert {n["name"] for n in data["nodes"]} == {app.name, vm.name, host.name}
    assert len(data["links"]) == 2
    whole = services.graph(admin, customer_id=customer_a.pk)
    assert len(whole["nodes"]) == 4 and len(whole["links"]) == 3


def test_the_detail_page_shows_attributes_relations_and_the_graph(admin_client, customer_a):
    a = ConfigurationItemFactory(customer=customer_a, attributes={"ip_address": "10.1.1.1"})
    b = ConfigurationItemFactory(customer=customer_a)
    Relation.objects.create(source=a, target=b, type="runs_on")
    page = admin_client.get(reverse("cmdb:configurationitem_detail", args=[a.pk])).content.decode()
    assert "10.1.1.1" in page and b.name in page and 'id="ci-graph"' in page
    data = admin_client.get(reverse("cmdb:graph_json"), {"item": a.pk}).json()
    assert len(data["nodes"]) == 2 and data["links"][0]["type"] == "runs_on"


def test_the_list_filters_sorts_and_exports_xlsx(admin_client, customer_a, customer_b):
    ConfigurationItemFactory(customer=customer_a, name="zeta")
    ConfigurationItemFactory(customer=customer_a, name="alpha")
    ConfigurationItemFactory(customer=customer_b, name="other-customers-item")
    url = reverse("cmdb:configurationitem_list")
    page = admin_client.get(url, {"customer": customer_a.pk, "sort": "-name"}).content.decode()
    assert page.index("zeta") < page.index("alpha") and "other-customers-item" not in page
    response = admin_client.get(url, {"customer": customer_a.pk, "export": "xlsx"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    import io

    from openpyxl import load_workbook

    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("customer", "name", "kind")
    assert sorted(r[1] for r in rows[1:]) == ["alpha", "zeta"]


def test_bulk_delete_asks_then_deletes_only_what_is_visible(admin_client, customer_a):
    items = [ConfigurationItemFactory(customer=customer_a) for _ in range(3)]
    url = reverse("cmdb:configurationitem_bulk_delete")
    ask = admin_client.post(url, {"pk": [items[0].pk, items[1].pk]})
    assert ask.status_code == 200 and ConfigurationItem.objects.count() == 3
    done = admin_client.post(url, {"pk": [items[0].pk, items[1].pk], "confirm": "yes"})
    assert done.status_code == 302
    assert list(ConfigurationItem.objects.values_list("pk", flat=True)) == [items[2].pk]


def test_bulk_edit_sets_only_the_ticked_fields_and_validates_each_item(admin_client, customer_a, customer_b):
    from tests.factories import SiteFactory, TeamFactory

    items = [ConfigurationItemFactory(customer=customer_a, criticality="low", status="active") for _ in range(3)]
    team = TeamFactory()
    url = reverse("cmdb:configurationitem_bulk_edit")
    pks = [i.pk for i in items[:2]]
    assert admin_client.post(url, {"pk": pks}).status_code == 200  # the form
    done = admin_client.post(url, {"pk": pks, "apply": "yes", "criticality": "critical", "set_criticality": "on",
                                   "status": "retired", "owner_team": team.pk, "set_owner_team": "on"})
    assert done.status_code == 302
    changed = ConfigurationItem.objects.filter(pk__in=pks)
    assert {(c.criticality, c.status, c.owner_team_id) for c in changed} == {("critical", "active", team.pk)}
    assert ConfigurationItem.objects.get(pk=items[2].pk).criticality == "low"
    # A site of another customer is refused for every item, and nothing changes.
    other_site = SiteFactory(customer=customer_b)
    refused = admin_client.post(url, {"pk": pks, "apply": "yes", "site": other_site.pk, "set_site": "on"})
    assert refused.status_code == 400
    assert not ConfigurationItem.objects.filter(site=other_site).exists()


def test_customers_cannot_bulk_edit(customer_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    response = customer_client.post(reverse("cmdb:configurationitem_bulk_edit"),
                                    {"pk": [item.pk], "apply": "yes", "status": "retired", "set_status": "on"})
    assert response.status_code == 403
    assert ConfigurationItem.objects.get(pk=item.pk).status == "active"


def test_adding_a_relation_from_a_ci_page_comes_back_to_it(client, engineer, customer_a):
    from opsdesk.cmdb.models import Relation

    source = ConfigurationItemFactory(customer=customer_a, name="app-1")
    target = ConfigurationItemFactory(customer=customer_a, name="vm-1")
    client.force_login(engineer)
    page = client.get(reverse("cmdb:configurationitem_detail", args=[source.pk])).content.decode()
    assert 'id="add-relation"' in page
    back = reverse("cmdb:configurationitem_detail", args=[source.pk])
    form = client.get(reverse("cmdb:relation_add"), {"source": source.pk, "next": back}).content.decode()
    assert f'name="next" value="{back}"' in form
    response = client.post(f"{reverse('cmdb:relation_add')}?source={source.pk}",
                           {"source": source.pk, "type": "runs_on", "target": target.pk, "note": "", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert Relation.objects.filter(source=source, target=target).exists()


def test_a_customer_user_is_offered_no_relation_to_add(client, customer_user, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    client.force_login(customer_user)
    page = client.get(reverse("cmdb:configurationitem_detail", args=[item.pk])).content.decode()
    assert 'id="add-relation"' not in page
    assert reverse("cmdb:relation_add") not in page


def test_the_relation_form_offers_only_items_of_the_sources_customer(client, engineer_of_b, customer_a, customer_b):
    """An engineer serving both customers sees both in general, but once the source is chosen
    only its customer's items can be the other end."""
    team = engineer_of_b.teams.first()
    team.customers.add(customer_a)
    source = ConfigurationItemFactory(customer=customer_a, name="src-a")
    ConfigurationItemFactory(customer=customer_a, name="same-customer")
    ConfigurationItemFactory(customer=customer_b, name="other-customer")
    client.force_login(engineer_of_b)
    form = client.get(reverse("cmdb:relation_add"), {"source": source.pk}).content.decode()
    target = form[form.index('name="target"'):]
    target = target[:target.index("</select>")]
    assert "same-customer" in target and "other-customer" not in target


def test_a_customer_users_api_schema_lists_no_write_operation(customer_user):
    from tests.conftest import api_client_for

    schema = api_client_for(customer_user, write=False).get("/api/schema/", {"format": "json"}).json()
    methods = {method for operations in schema["paths"].values() for method in operations}
    assert "get" in methods
    assert not methods & {"post", "put", "patch", "delete"}, methods
