"""The ticket API (conversation, files, SLA; the generic list and actions) and ticket events out
to a customer's system through a signed webhook."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from opsdesk.notify.models import Notification
from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import Ticket, TicketWebhook
from tests.conftest import api_client_for
from tests.factories import make_channel, make_ticket

pytestmark = pytest.mark.django_db


def test_open_reply_and_resolve_through_the_api(admin, customer_a):
    api = api_client_for(admin)
    created = api.post("/api/servicedesk/tickets/", {"customer": customer_a.pk, "title": "DNS 解析失败",
                                                      "description": "内网域名无法解析", "impact": "high",
                                                      "urgency": "medium"}, format="json")
    assert created.status_code == 201, created.content
    number = created.json()["id"]
    assert created.json()["priority"] == "p2" and created.json()["status"] == "new"
    assert api.post(f"/api/servicedesk/tickets/{number}/reply/", {"body": "正在检查"}, format="json").status_code == 200
    assert api.post(f"/api/servicedesk/tickets/{number}/resolve/", {"solution": "改了转发"}, format="json") \
        .status_code == 200
    entries = api.get(f"/api/servicedesk/tickets/{number}/entries/").json()
    assert [e["kind"] for e in entries if e["kind"] != "event"] == ["reply", "reply", "reply"]
    assert Ticket.objects.get(pk=number).status == "resolved"


def test_the_status_cannot_be_written_around_the_actions(admin, customer_a):
    ticket = make_ticket(customer_a)
    response = api_client_for(admin).patch(f"/api/servicedesk/tickets/{ticket.pk}/",
                                           {"status": "closed", "priority": "p1", "title": "renamed"}, format="json")
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert (ticket.status, ticket.title) == ("new", "renamed") and ticket.priority != "p1"


def test_a_bad_field_is_named_in_the_persons_language(admin, customer_a):
    admin.language = "zh-hans"
    admin.save()
    response = api_client_for(admin).post("/api/servicedesk/tickets/", {"customer": customer_a.pk, "title": "",
                                                                        "impact": "enormous"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "impact" in body and "title" in body


def test_the_categorys_fields_are_checked_through_the_api(admin, customer_a):
    from opsdesk.servicedesk.models import Category

    category = Category.objects.create(name="打印机", ticket_type="request", form_fields=[
        {"name": "serial", "label": {"en": "Serial number", "zh-hans": "序列号"}, "type": "text", "required": True},
        {"name": "floor", "label": "Floor", "type": "number"}])
    admin.language = "zh-hans"
    admin.save()
    api = api_client_for(admin)
    base = {"customer": customer_a.pk, "title": "卡纸", "category": category.pk}
    refused = api.post("/api/servicedesk/tickets/", {**base, "form_data": {"floor": "three", "colour": "red"}},
                       format="json")
    assert refused.status_code == 400, refused.content
    assert sorted(refused.json()["form_data"]) == ["Floor：输入一个数字。", "colour：该分类没有这个字段。"]
    assert not Ticket.objects.filter(title="卡纸").exists()
    # Staff may leave a required field for later; what they give is kept as the portal keeps it.
    created = api.post("/api/servicedesk/tickets/", {**base, "form_data": {"floor": "3"}}, format="json")
    assert created.status_code == 201, created.content
    assert Ticket.objects.get(pk=created.json()["id"]).form_data == {"floor": 3}


def test_a_customer_user_must_give_the_categorys_required_fields(customer_user, customer_a):
    from opsdesk.servicedesk.models import Category

    category = Category.objects.create(name="打印机", ticket_type="request", form_fields=[
        {"name": "serial", "label": {"en": "Serial number", "zh-hans": "序列号"}, "type": "text", "required": True}])
    with pytest.raises(ValidationError) as caught:
        services.open_ticket(actor=customer_user, customer=customer_a, title="卡纸", category=category)
    assert list(caught.value.message_dict) == ["form_data"]
    ticket = services.open_ticket(actor=customer_user, customer=customer_a, title="卡纸", category=category,
                                  form_data={"serial": "SN-1"})
    assert ticket.form_data == {"serial": "SN-1"}


def test_a_customer_user_reads_public_entries_only(customer_user, admin, customer_a):
    ticket = make_ticket(customer_a)
    services.note(ticket, actor=admin, body="secret internal note")
    entries = api_client_for(customer_user, write=False).get(f"/api/servicedesk/tickets/{ticket.pk}/entries/").json()
    assert entries and all(e["public"] for e in entries)
    assert "secret internal note" not in json.dumps(entries)


def test_entries_files_and_sla_of_another_customers_ticket_are_404(other_customer_user, customer_a):
    ticket = make_ticket(customer_a)
    api = api_client_for(other_customer_user, write=False)
    for suffix in ("entries/", "sla/", ""):
        assert api.get(f"/api/servicedesk/tickets/{ticket.pk}/{suffix}").status_code == 404


def test_files_through_the_api_with_the_limit_named(admin, customer_a, settings):
    settings.OPSDESK_ATTACHMENT_MAX_BYTES = 10
    ticket = make_ticket(customer_a)
    api = api_client_for(admin)
    url = f"/api/servicedesk/tickets/{ticket.pk}/attachments/"
    refused = api.post(url, {"files": [SimpleUploadedFile("big.txt", b"x" * 50)], "body": "log"}, format="multipart")
    assert refused.status_code == 400 and "big.txt" in refused.json()["files"][0]
    ok = api.post(url, {"files": [SimpleUploadedFile("ok.txt", b"tiny")]}, format="multipart")
    assert ok.status_code == 201 and ok.json()["attachments"][0]["name"] == "ok.txt"


def test_a_customers_webhook_gets_public_events_never_notes(admin, customer_a, customer_b):
    hook = TicketWebhook.objects.create(customer=customer_a, name="their ITSM", channel=make_channel(customer_a),
                                        events=["opened", "reply", "status"])
    ticket = make_ticket(customer_a)
    make_ticket(customer_b)
    services.take(ticket, actor=admin)
    services.note(ticket, actor=admin, body="internal")
    services.reply(ticket, actor=admin, body="public")
    rows = list(Notification.objects.filter(channel=hook.channel).order_by("pk"))
    assert [r.fields["event"] for r in rows] == ["opened", "status", "status", "reply"]
    assert all(r.fields["ticket"] == str(ticket.pk) for r in rows)
    assert len({r.key for r in rows}) == len(rows)


def test_a_webhook_cannot_use_another_customers_channel(customer_a, customer_b):
    hook = TicketWebhook(customer=customer_a, name="x", channel=make_channel(customer_b))
    with pytest.raises(ValidationError) as caught:
        hook.full_clean()
    assert "channel" in caught.value.message_dict
