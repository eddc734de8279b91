"""Attributes in the person's language: labels of enumerated values (in forms, on the detail page,
in messages and in imports), validator messages that name the attribute with no English left in
them, and yes/no attributes as a checkbox."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.urls import reverse
from django.utils import translation

from opsdesk.cmdb.attributes import coerce, display_rows, enum_choices, form_fields, validate_attributes
from opsdesk.cmdb.builtin_kinds import BUILTIN_KINDS
from tests.factories import ConfigurationItemFactory, kind

pytestmark = pytest.mark.django_db

# A kind an administrator wrote: enum with parallel labels (and Chinese ones), and oneOf/const.
CUSTOM = {"type": "object", "properties": {
    "tier": {"type": "string", "title": "Tier", "x-title-zh-hans": "等级", "enum": ["gold", "silver"],
             "x-enum-titles": ["Gold", "Silver"], "x-enum-titles-zh-hans": ["金牌", "银牌"]},
    "rack": {"type": "integer", "title": "Rack", "oneOf": [
        {"const": 1, "title": "Rack one", "x-title-zh-hans": "一号机架"}, {"const": 2, "title": "Rack two"}]},
}}


def schema_of(slug: str) -> dict:
    return kind(slug).attribute_schema


def test_builtin_enum_values_have_labels_in_both_languages():
    schema = schema_of("network_device")
    with translation.override("en"):
        assert ("core", "Core") in enum_choices("role", schema["properties"]["role"])
    with translation.override("zh-hans"):
        roles = dict(enum_choices("role", schema["properties"]["role"]))
        engines = dict(enum_choices("engine", schema_of("database")["properties"]["engine"]))
    assert roles["core"] == "核心" and roles["access"] == "接入" and roles["load_balancer"] == "负载均衡"
    assert engines["dameng"] == "达梦" and engines["kingbase"] == "人大金仓" and engines["mysql"] == "MySQL"
    assert engines["other"] == "其他"


def test_a_schema_stored_before_the_labels_existed_still_shows_them():
    """Databases migrated before the labels keep the old schema (enum only)."""
    old = {"type": "string", "enum": ["mysql", "dameng", "other"]}
    with translation.override("zh-hans"):
        assert enum_choices("engine", old) == [("mysql", "MySQL"), ("dameng", "达梦"), ("other", "其他")]
    # Another attribute with the same values is not a built-in one: shown as stored.
    assert enum_choices("flavour", old) == [("mysql", "mysql"), ("dameng", "dameng"), ("other", "other")]


def test_labels_an_administrator_wrote_enum_titles_and_one_of():
    with translation.override("zh-hans"):
        assert enum_choices("tier", CUSTOM["properties"]["tier"]) == [("gold", "金牌"), ("silver", "银牌")]
        assert enum_choices("rack", CUSTOM["properties"]["rack"]) == [(1, "一号机架"), (2, "Rack two")]
        fields = form_fields(CUSTOM)
    assert list(fields["attr_tier"].choices) == [("", "—"), ("gold", "金牌"), ("silver", "银牌")]
    assert fields["attr_rack"].clean("2") == 2  # the value in the schema's type, not the text "2"
    with translation.override("en"):
        assert enum_choices("tier", CUSTOM["properties"]["tier"]) == [("gold", "Gold"), ("silver", "Silver")]
        assert validate_attributes(CUSTOM, {"tier": "gold", "rack": 1}) == []
        problems = dict(validate_attributes(CUSTOM, {"tier": "bronze", "rack": 3}))
    assert problems == {"tier": "Tier must be one of: Gold (gold), Silver (silver).",
                        "rack": "Rack must be one of: Rack one (1), Rack two (2)."}


def test_the_form_offers_labels_and_the_detail_rows_show_them():
    schema = schema_of("network_device")
    with translation.override("zh-hans"):
        choices = dict(form_fields(schema)["attr_role"].choices)
        rows = display_rows(schema, {"role": "firewall", "vendor": "华为", "extra": 1})
    assert choices["firewall"] == "防火墙"
    # The schema's properties first, then any others. (Their order among themselves is the
    # database's: PostgreSQL's jsonb does not keep the order of object keys.)
    assert sorted(rows[:2]) == sorted([("厂商", "华为"), ("角色", "防火墙")])
    assert rows[2] == ("extra", 1)


def test_validator_messages_name_the_attribute_and_have_no_english_left():
    schema = schema_of("server")
    bad = {"ip_address": "300.1.1.1", "cpu_cores": 0, "memory_gb": "lots", "virtual": "x", "hostname": "h" * 300,
           "colour": "red"}
    with translation.override("zh-hans"):
        problems = dict(validate_attributes(schema, bad))
        engine = dict(validate_attributes(schema_of("database"), {"engine": "db2"}))
        role = dict(validate_attributes(schema_of("network_device"), {"role": "spine"}))
    assert problems["ip_address"] == "“IP 地址”不是有效的 IPv4 地址。"
    assert problems["cpu_cores"] == "“CPU 核数”不能小于 1。"
    assert "内存 (GB)" in problems["memory_gb"] and "数字" in problems["memory_gb"]
    assert "虚拟机" in problems["virtual"]
    assert "主机名" in problems["hostname"] and "253" in problems["hostname"]
    assert "colour" in problems["colour"]
    assert engine["engine"].startswith("“数据库引擎”必须是以下值之一：")
    assert "达梦 (dameng)" in engine["engine"] and "人大金仓 (kingbase)" in engine["engine"]
    assert "核心 (core)" in role["role"]
    for message in [*problems.values(), *engine.values(), *role.values()]:
        # jsonschema's English ("is not a 'ipv4'", "is not one of") never shows through.
        assert not re.search(r"\b(is|not|of|a|valid)\b", message), message
        assert "ipv4" not in message, message
    with translation.override("en"):
        assert dict(validate_attributes(schema, {"ip_address": "x"})) == {
            "ip_address": "IP address is not a valid IPv4 address."}
        assert dict(validate_attributes(schema_of("database"), {})) == {"engine": "Engine is required."}


def test_an_import_cell_may_give_the_label_in_either_language():
    role = schema_of("network_device")["properties"]["role"]
    with translation.override("en"):
        assert coerce(role, "Load balancer", "role") == "load_balancer"
        assert coerce(role, "核心", "role") == "core"  # a Chinese file, an English person
        assert coerce(role, "access", "role") == "access"
        assert coerce(role, "spine", "role") == "spine"  # left to the validator, which names the choices
    with translation.override("zh-hans"):
        assert coerce(role, "防火墙", "role") == "firewall"
        assert coerce(role, "Firewall", "role") == "firewall"


def test_a_yes_no_attribute_is_a_checkbox(admin_client, customer_a):
    fields = form_fields(schema_of("server"))
    assert isinstance(fields["attr_virtual"], forms.BooleanField)
    assert isinstance(fields["attr_virtual"].widget, forms.CheckboxInput)
    url = reverse("cmdb:configurationitem_add")
    page = admin_client.get(url, {"kind": kind("server").pk}).content.decode()
    assert re.search(r'<input type="checkbox" name="attr_virtual"[^>]*class="form-check-input"', page)
    data = {"customer": customer_a.pk, "name": "vm-1", "kind": kind("server").pk, "status": "active",
            "criticality": "medium", "attr_virtual": "on"}
    assert admin_client.post(url, data).status_code == 302
    item = kind("server").items.get(name="vm-1")
    assert item.attributes == {"virtual": True}
    # Unticked is "no".
    data.pop("attr_virtual")
    edit = reverse("cmdb:configurationitem_edit", args=[item.pk])
    assert admin_client.post(edit, data).status_code == 302
    item.refresh_from_db()
    assert item.attributes == {"virtual": False}


def test_the_ci_form_in_chinese_offers_translated_choices(admin_client, customer_a):
    admin_client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    page = admin_client.get(reverse("cmdb:configurationitem_add"), {"kind": kind("database").pk}).content.decode()
    assert '<option value="dameng">达梦</option>' in page
    assert '<option value="kingbase">人大金仓</option>' in page


def test_every_builtin_label_is_translated():
    from django.utils.translation import gettext

    titles = [t for spec in BUILTIN_KINDS for prop in spec["attribute_schema"]["properties"].values()
              for t in prop.get("x-enum-titles", [])]
    assert titles
    with translation.override("zh-hans"):
        # Product names stay as they are; the rest has a Chinese label.
        words = [t for t in titles if t in ("Core", "Access", "Firewall", "Router", "Wireless", "Load balancer",
                                            "Dameng", "KingbaseES", "Other")]
        assert words and all(gettext(t) != t for t in words)


def test_the_detail_page_shows_the_label_of_an_enumerated_value(admin_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a, kind=kind("network_device"),
                                    attributes={"role": "load_balancer"})
    admin_client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    page = admin_client.get(reverse("cmdb:configurationitem_detail", args=[item.pk])).content.decode()
    table = page[page.index('id="ci-attributes"'):]
    table = table[:table.index("</table>")]
    assert "负载均衡" in table and "load_balancer" not in table


def test_a_kind_icon_cell_draws_the_icon_and_other_text_stays_text():
    from opsdesk.core.templatetags.opsdesk import cell

    class IconName(str):
        is_icon = True

    assert cell(IconName("bi-hdd-stack")) == (
        '<i class="bi bi-hdd-stack" aria-hidden="true"></i> <code class="small text-muted">bi-hdd-stack</code>')
    assert cell("bi-hdd-stack") == "bi-hdd-stack"  # a text that only looks like one
    assert cell(IconName('bi-x" onmouseover="alert(1)')) == 'bi-x" onmouseover="alert(1)'
