"""How changes read in the history of an object and in the audit log: one row per changed key of a
JSON field, related objects by name, times in the person's time zone, and the audit list's
filters and layout."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone, translation

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.models import User
from opsdesk.core.templatetags.opsdesk import ChangeRows, cell, change_rows
from tests.factories import ConfigurationItemFactory, SiteFactory, kind

pytestmark = pytest.mark.django_db


def last_entry(obj) -> LogEntry:
    return LogEntry.objects.get_for_object(obj).order_by("-timestamp", "-pk").first()


def test_a_json_field_change_is_one_row_per_changed_key(admin_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a, kind=kind("server"),
                                    attributes={"ip_address": "10.0.0.1", "os": "Kylin V10", "cpu_cores": 8})
    url = reverse("cmdb:configurationitem_edit", args=[item.pk])
    response = admin_client.post(url, {"customer": customer_a.pk, "name": item.name, "kind": kind("server").pk,
                                       "status": "active", "criticality": "medium", "attr_ip_address": "10.0.0.2",
                                       "attr_os": "Kylin V10", "attr_memory_gb": "64"})
    assert response.status_code == 302, response.content.decode()[-1500:]
    with translation.override("en"):
        rows = change_rows(last_entry(item))
    assert ("attributes.ip_address", "10.0.0.1", "10.0.0.2") in rows
    assert ("attributes.cpu_cores", "8", "—") in rows
    assert ("attributes.memory_gb", "—", "64.0") in rows
    assert ("attributes.virtual", "—", "No") in rows  # an unticked checkbox is "no"
    assert not [r for r in rows if r[0] == "attributes.os"]  # unchanged: no row
    page = admin_client.get(reverse("cmdb:configurationitem_detail", args=[item.pk])).content.decode()
    assert "attributes.ip_address" in page and "{&#x27;" not in page and "{'" not in page


def test_rows_of_an_old_entry_with_a_python_dict_as_text_are_split_too(admin, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    entry = LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(ConfigurationItem), object_pk=str(item.pk),
        object_id=item.pk, object_repr=item.name, action=LogEntry.Action.UPDATE, actor=admin,
        changes={"attributes": ["{'ip_address': '10.0.0.1', 'virtual': True}",
                                "{'ip_address': '10.0.0.9', 'virtual': True}"]})
    assert change_rows(entry) == [("attributes.ip_address", "10.0.0.1", "10.0.0.9")]


def test_related_objects_and_choices_read_as_people_read_them(admin_client, customer_a):
    site = SiteFactory(customer=customer_a, name="Suzhou plant")
    item = ConfigurationItemFactory(customer=customer_a, status="planned")
    admin_client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    admin_client.post(reverse("cmdb:configurationitem_edit", args=[item.pk]),
                      {"customer": customer_a.pk, "name": item.name, "kind": item.kind_id, "site": site.pk,
                       "status": "active", "criticality": "medium", "attr_ip_address": "10.0.0.1"})
    with translation.override("zh-hans"):
        rows = {r[0]: r[1:] for r in change_rows(last_entry(item))}
    assert rows["站点"] == ("—", "Suzhou plant")
    assert rows["状态"] == ("规划中", "在用")


def test_times_inside_a_change_are_in_the_persons_time_zone(admin, admin_client):
    """django-auditlog writes a changed datetime as naive UTC text; it reads in the person's zone,
    like the time of the entry itself."""
    admin.time_zone = "America/New_York"
    admin.save()
    subject = User.objects.create(username="zed", role="engineer")
    LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(User), object_pk=str(subject.pk), object_id=subject.pk,
        object_repr="zed", action=LogEntry.Action.UPDATE, actor=admin,
        changes={"date_joined": ["2026-01-01 00:00:00", "2026-01-02 15:30:00.123456"]})
    page = admin_client.get(reverse("audit_list"), {"object_repr": "zed"}).content.decode()
    new_york = zoneinfo.ZoneInfo("America/New_York")
    with timezone.override(new_york), translation.override("en"):
        before = cell(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        after = cell(dt.datetime(2026, 1, 2, 15, 30, tzinfo=dt.UTC))
    with timezone.override(dt.UTC), translation.override("en"):
        after_in_utc = cell(dt.datetime(2026, 1, 2, 15, 30, tzinfo=dt.UTC))
    assert "10:30" in after  # New York is five hours behind UTC in winter
    assert before in page and after in page
    assert after_in_utc not in page and "2026-01-02 15:30" not in page


def test_a_deleted_related_object_is_named_by_its_id(admin, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    entry = LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(ConfigurationItem), object_pk=str(item.pk),
        object_id=item.pk, object_repr=item.name, action=LogEntry.Action.UPDATE, actor=admin,
        changes={"site": [None, 987654], "owner_team": [None, None]})
    with translation.override("en"):
        assert ChangeRows().rows(entry) == [("site", "—", "#987654")]


def test_the_audit_list_has_date_pickers_and_filters_by_day_in_the_persons_zone(admin, admin_client, customer_a):
    page = admin_client.get(reverse("audit_list")).content.decode()
    assert 'type="date" name="since"' in page and 'type="date" name="until"' in page
    assert 'id="audit-table"' in page and "<colgroup>" in page
    item = ConfigurationItemFactory(customer=customer_a, name="dated-item")
    entry = last_entry(item)
    # 20:00 UTC on 1 March is 04:00 on 2 March in Shanghai.
    LogEntry.objects.filter(pk=entry.pk).update(timestamp=dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC))
    admin.time_zone = "Asia/Shanghai"
    admin.save()
    on_the_second = admin_client.get(reverse("audit_list"), {"object_repr": "dated-item", "since": "2026-03-02",
                                                             "until": "2026-03-02"}).content.decode()
    assert "dated-item" in on_the_second
    assert 'value="2026-03-02"' in on_the_second  # the picker keeps the chosen day
    on_the_first = admin_client.get(reverse("audit_list"), {"object_repr": "dated-item", "since": "2026-03-01",
                                                            "until": "2026-03-01"}).content.decode()
    assert "dated-item" not in on_the_first.split('id="audit-table"')[1]


def test_the_audit_list_reads_each_related_object_once_per_page(admin_client, customer_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    site = SiteFactory(customer=customer_a)
    ConfigurationItemFactory(customer=customer_a, site=site, name="solo")
    for i in range(12):
        ConfigurationItemFactory(customer=customer_a, site=site, name=f"bulk-{i:02d}")
    # A first page warms what a process caches once (content types): which test ran before this
    # one in the same worker decided whether the measured request found them cached.
    admin_client.get(reverse("audit_list"), {"object_repr": "solo"})
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse("audit_list"), {"object_repr": "solo"})
    with CaptureQueriesContext(connection) as many:
        admin_client.get(reverse("audit_list"), {"object_repr": "bulk-"})
    # 1 entry or 12 entries naming the same customer, kind and site: the same number of queries.
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_count_of_one_is_a_number_and_an_actions_own_key_is_named_in_the_persons_language(admin, customer_a):
    # An escalation policy's "repeat: 1" read "Yes" (1 == True in Python), and an alert's comment
    # showed its key, "comment", in every language.
    from opsdesk.monitoring.alerting import lifecycle
    from opsdesk.notify.models import EscalationPolicy
    from tests.factories import make_alert

    entry = LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(EscalationPolicy), object_pk="1", object_id=1,
        object_repr="standard", action=LogEntry.Action.UPDATE, actor=admin, changes={"repeat": [0, 1]})
    with translation.override("en"):
        assert ChangeRows().rows(entry) == [("repeat", "0", "1")]
    alert = make_alert(customer_a)
    lifecycle.comment(alert, actor=admin, text="looking into it")
    with translation.override("zh-hans"):
        rows = ChangeRows().rows(last_entry(alert))
    assert ("评论", "—", "looking into it") in rows
