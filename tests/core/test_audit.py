"""Every change by a person — through the UI, the API or a command — is one audit row with who,
what and before/after values."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.urls import reverse

from opsdesk.core.models import Customer, User

pytestmark = pytest.mark.django_db


def entries_for(obj):
    return LogEntry.objects.get_for_object(obj).order_by("timestamp")


def test_a_change_in_the_ui_is_one_row_with_before_and_after(admin_client, admin, customer_a):
    before = entries_for(customer_a).count()
    response = admin_client.post(reverse("core:customer_edit", args=[customer_a.pk]),
                                 {"code": "ALPHA", "name": "Alpha Renamed", "is_active": "on", "notes": ""})
    assert response.status_code == 302
    rows = list(entries_for(customer_a))
    assert len(rows) == before + 1
    last = rows[-1]
    assert last.action == LogEntry.Action.UPDATE
    assert last.actor == admin
    assert last.changes_dict["name"] == ["Alpha 阿尔法", "Alpha Renamed"]


def test_a_change_through_the_api_names_the_token_owner(admin_api, admin, customer_a):
    response = admin_api.patch(f"/api/core/customers/{customer_a.pk}/", {"notes": "vip"}, format="json")
    assert response.status_code == 200, response.content
    last = entries_for(customer_a).last()
    assert last.action == LogEntry.Action.UPDATE
    assert last.actor == admin
    assert last.changes_dict["notes"] == ["", "vip"]


def test_a_create_and_delete_through_the_api_are_logged(admin_api, admin):
    created = admin_api.post("/api/core/customers/", {"code": "NEW1", "name": "New one"}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert admin_api.delete(f"/api/core/customers/{pk}/").status_code == 204
    rows = LogEntry.objects.filter(content_type__model="customer", object_pk=str(pk)).order_by("timestamp")
    assert [r.action for r in rows] == [LogEntry.Action.CREATE, LogEntry.Action.DELETE]
    assert all(r.actor == admin for r in rows)
    assert rows[1].changes_dict["name"][0] == "New one"


def test_a_command_leaves_one_row_naming_its_actor(admin):
    call_command("user", "add", "dora", "--role", "engineer", "--no-password", "--actor", admin.username)
    dora = User.objects.get(username="dora")
    rows = list(entries_for(dora))
    assert len(rows) == 1
    assert rows[0].action == LogEntry.Action.CREATE
    assert rows[0].actor == admin
    assert rows[0].changes_dict["role"][1] == "engineer"
    assert "password" not in rows[0].changes_dict


def test_secrets_never_reach_the_log(admin_api, customer_a):
    response = admin_api.post("/api/core/credentials/", {"customer": customer_a.pk, "name": "root on db",
                                                         "kind": "password", "secret": "hunter2-secret"},
                              format="json")
    assert response.status_code == 201, response.content
    for row in LogEntry.objects.filter(content_type__model="credential"):
        assert "hunter2" not in str(row.changes)
        assert "secret_encrypted" not in row.changes_dict


def test_the_object_page_and_the_global_list_show_the_change(admin_client, customer_a):
    admin_client.post(reverse("core:customer_edit", args=[customer_a.pk]),
                      {"code": "ALPHA", "name": "Alpha Two", "is_active": "on"})
    detail = admin_client.get(reverse("core:customer_detail", args=[customer_a.pk])).content.decode()
    assert "Alpha Two" in detail and 'id="history"' in detail
    listing = admin_client.get(reverse("audit_list"), {"object_repr": "Alpha Two"}).content.decode()
    assert "Alpha Two" in listing
    assert Customer.objects.get(pk=customer_a.pk).name == "Alpha Two"


def test_customers_do_not_read_the_audit_log(customer_client):
    assert customer_client.get(reverse("audit_list")).status_code == 404


def test_an_action_leaves_no_actor_behind_for_what_runs_next(admin, customer_a):
    """After a domain action the audit context is as it was, so a later write in the same thread
    (the next test, the next task) is never attributed to this action's actor."""
    from auditlog.context import auditlog_value

    from opsdesk.core import services
    from opsdesk.core.models import Site

    before = auditlog_value.get(None)
    services.create(Site, {"customer": customer_a, "name": "s1"}, actor=admin)
    assert auditlog_value.get(None) is before
