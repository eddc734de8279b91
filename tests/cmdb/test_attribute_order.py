"""The order of a kind's attributes is its schema's `x-order`, the same on SQLite and PostgreSQL
(whose jsonb sorts an object's keys by length, then bytes): the CI form, the detail rows and the
import template follow it, a kind saved through the form keeps the order it was typed in, and the
data migration gives the kinds already in a database their order."""

from __future__ import annotations

import csv
import importlib
import io
import json
import re
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse
from django.utils import translation

from opsdesk.cmdb.attributes import ORDER, display_rows, form_fields, property_order, schema_problems, with_order
from opsdesk.cmdb.builtin_kinds import BUILTIN_KINDS
from opsdesk.cmdb.forms import CIKindForm
from opsdesk.cmdb.models import CIKind
from tests.factories import CIKindFactory, ConfigurationItemFactory, kind

pytestmark = pytest.mark.django_db

SERVER = ["hostname", "ip_address", "os", "cpu_cores", "memory_gb", "serial_number", "virtual"]
# Neither alphabetical nor jsonb's order (length, then bytes): only an explicit order keeps it.
TYPED = ["zone", "asset_tag", "purchase_date_text", "uplink", "bay"]


def typed_schema(keys: list[str]) -> str:
    """The JSON text an administrator types, properties in the order of `keys`."""
    props = ",\n".join(f'    "{k}": {{"type": "string", "title": "{k.title()}"}}' for k in keys)
    return '{"type": "object", "properties": {\n' + props + "\n}}"


def field_order_on_page(page: str) -> list[str]:
    return re.findall(r'name="attr_([a-z_]+)"', page)


def test_property_order_lists_x_order_first_then_the_others_alphabetically():
    schema = {"properties": {"b": {}, "c": {}, "a": {}, "d": {}}, ORDER: ["d", "gone", "b", "d", 7]}
    assert property_order(schema) == ["d", "b", "a", "c"]
    assert property_order({"properties": {"b": {}, "a": {}}}) == ["a", "b"]  # no list: alphabetical
    assert property_order({}) == [] and property_order(None) == []
    assert with_order({"properties": {"b": {}, "a": {}}})[ORDER] == ["b", "a"]  # a parsed text's own order
    assert with_order({"properties": {"b": {}, "a": {}}, ORDER: ["a"]})[ORDER] == ["a", "b"]


def test_every_builtin_kind_declares_its_order_and_the_database_has_it():
    for spec in BUILTIN_KINDS:
        schema = spec["attribute_schema"]
        assert schema[ORDER] == list(schema["properties"]), spec["slug"]
        assert kind(spec["slug"]).attribute_schema[ORDER] == schema[ORDER], spec["slug"]
    assert property_order(kind("server").attribute_schema) == SERVER


def test_the_ci_form_follows_the_declared_order(admin_client):
    assert list(form_fields(kind("server").attribute_schema)) == [f"attr_{k}" for k in SERVER]
    page = admin_client.get(reverse("cmdb:configurationitem_add"), {"kind": kind("server").pk}).content.decode()
    assert field_order_on_page(page) == SERVER


def test_the_detail_rows_follow_the_declared_order_then_other_keys_alphabetically(admin_client, customer_a):
    values = {"virtual": True, "os": "Linux", "hostname": "web-01", "ip_address": "10.0.0.1", "zz": 1, "extra": 2}
    item = ConfigurationItemFactory(customer=customer_a, kind=kind("server"), attributes=values)
    item.refresh_from_db()  # the attributes as the database gives them back
    with translation.override("en"):
        rows = item.attribute_rows()
        assert [label for label, _value in rows] == [
            "Host name", "IP address", "Operating system", "Virtual machine", "extra", "zz"]
        page = admin_client.get(reverse("cmdb:configurationitem_detail", args=[item.pk]),
                                HTTP_ACCEPT_LANGUAGE="en").content.decode()
    table = page[page.index('id="ci-attributes"'):]
    table = table[:table.index("</table>")]
    labels = re.findall(r"<th[^>]*>([^<]*)</th>", table)
    assert labels == ["Host name", "IP address", "Operating system", "Virtual machine", "extra", "zz"]
    assert display_rows({}, {"b": 1, "a": 2}) == [("a", 2), ("b", 1)]


def test_the_import_template_follows_the_declared_order(admin_client, customer_a):
    response = admin_client.get(reverse("cmdb:import"), {"template": "csv"}, HTTP_ACCEPT_LANGUAGE="en")
    content = b"".join(response.streaming_content) if response.streaming else response.content
    header = next(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    attrs = [column[5:] for column in header if column.startswith("attr:")]
    assert attrs and attrs == [k for k in SERVER if k in attrs]


def test_a_kind_saved_through_the_form_keeps_the_typed_order(admin_client, customer_a):
    response = admin_client.post(reverse("cmdb:cikind_add"), {"slug": "rack", "name": "Rack", "icon": "bi-box",
                                                               "attribute_schema": typed_schema(TYPED)})
    assert response.status_code == 302, response.content.decode()[-2000:]
    rack = CIKind.objects.get(slug="rack")
    assert rack.attribute_schema[ORDER] == TYPED
    assert property_order(rack.attribute_schema) == TYPED
    page = admin_client.get(reverse("cmdb:configurationitem_add"), {"kind": rack.pk}).content.decode()
    assert field_order_on_page(page) == TYPED

    # The edit form shows the properties in that order, without the list it is derived into.
    edit = reverse("cmdb:cikind_edit", args=[rack.pk])
    page = admin_client.get(edit).content.decode()
    text = re.search(r'<textarea name="attribute_schema"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert ORDER not in text
    assert re.findall(r"&quot;(\w+)&quot;: \{", text) == ["properties", *TYPED]

    # Moving a property in the text moves it on the pages.
    reordered = [TYPED[-1], *TYPED[:-1]]
    response = admin_client.post(edit, {"slug": "rack", "name": "Rack", "icon": "bi-box",
                                        "attribute_schema": typed_schema(reordered)})
    assert response.status_code == 302, response.content.decode()[-2000:]
    rack.refresh_from_db()
    assert property_order(rack.attribute_schema) == reordered


def test_an_order_typed_by_hand_is_kept_and_a_wrong_one_refused(admin):
    schema = json.loads(typed_schema(TYPED)) | {ORDER: ["bay", "zone"]}
    form = CIKindForm({"slug": "pdu", "name": "PDU", "icon": "bi-box", "attribute_schema": json.dumps(schema)},
                      user=admin)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["attribute_schema"][ORDER] == ["bay", "zone", "asset_tag", "purchase_date_text",
                                                           "uplink"]
    with translation.override("en"):
        bad = CIKindForm({"slug": "pdu", "name": "PDU", "icon": "bi-box",
                          "attribute_schema": json.dumps(schema | {ORDER: ["bay", "nope"]})}, user=admin)
        assert not bad.is_valid()
        assert bad.errors["attribute_schema"] == ["x-order names keys that are not attributes: nope."]
        assert schema_problems(schema | {ORDER: "bay"}) == ["x-order must be a list of attribute keys."]
    with translation.override("zh-hans"):
        assert schema_problems(schema | {ORDER: ["nope"]}) == ["x-order 中有不是属性的标识：nope。"]


def test_the_migration_gives_existing_kinds_their_order():
    migration = importlib.import_module("opsdesk.cmdb.migrations.0007_kind_attribute_order")
    server = kind("server")
    server.attribute_schema = {k: v for k, v in server.attribute_schema.items() if k != ORDER}
    server.attribute_schema["properties"]["asset_tag"] = {"type": "string"}  # an administrator's addition
    server.save()
    custom = CIKindFactory(slug="ups", attribute_schema=json.loads(typed_schema(TYPED)))
    listed = CIKindFactory(slug="pdu", attribute_schema=json.loads(typed_schema(TYPED)) | {ORDER: ["uplink"]})
    empty = CIKindFactory(slug="blank", attribute_schema={})

    migration.add_order(apps, SimpleNamespace(connection=connection))

    for item in (server, custom, listed, empty):
        item.refresh_from_db()
    assert server.attribute_schema[ORDER] == [*SERVER, "asset_tag"]
    # SQLite kept the typed order; PostgreSQL did not, and alphabetical is what is known there.
    rest = [k for k in TYPED if k != "uplink"]
    if connection.vendor == "sqlite":
        assert custom.attribute_schema[ORDER] == TYPED
        assert listed.attribute_schema[ORDER] == ["uplink", *rest]
    else:
        assert custom.attribute_schema[ORDER] == sorted(TYPED)
        assert listed.attribute_schema[ORDER] == ["uplink", *sorted(rest)]
    assert empty.attribute_schema == {}
