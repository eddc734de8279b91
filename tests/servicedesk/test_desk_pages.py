"""The engineers' pages: the queue's tabs and order, bulk assign, saved filters, the ticket page
with its conversation and CI panel, the composer (a refused file keeps the text), macros."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import Macro, SavedFilter, Ticket
from tests.factories import ConfigurationItemFactory, make_alert, make_check_in_state, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(client, engineer, customer_a):
    client.force_login(engineer)
    return client


def _rows(page: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r'<tr data-ticket="(\d+)"', page)]


def test_the_queue_puts_the_nearest_sla_due_first_and_tickets_without_one_last(desk, customer_a):
    now = timezone.now()
    late, soon, none = make_ticket(customer_a), make_ticket(customer_a), make_ticket(customer_a)
    Ticket.objects.filter(pk=late.pk).update(sla_due_at=now + dt.timedelta(hours=5), sla_state="running")
    Ticket.objects.filter(pk=soon.pk).update(sla_due_at=now + dt.timedelta(minutes=20), sla_state="running")
    page = desk.get(reverse("servicedesk:ticket_list")).content.decode()
    assert _rows(page) == [soon.pk, late.pk, none.pk]


def test_the_tabs_mine_unassigned_and_about_to_breach(desk, engineer, customer_a):
    mine = make_ticket(customer_a)
    services.take(mine, actor=engineer)
    unassigned = make_ticket(customer_a)
    breaching = make_ticket(customer_a)
    Ticket.objects.filter(pk=breaching.pk).update(sla_state="warning", sla_due_at=timezone.now())
    url = reverse("servicedesk:ticket_list")
    assert _rows(desk.get(url, {"queue": "mine"}).content.decode()) == [mine.pk]
    assert set(_rows(desk.get(url, {"queue": "unassigned"}).content.decode())) == {unassigned.pk, breaching.pk}
    assert _rows(desk.get(url, {"queue": "breaching"}).content.decode()) == [breaching.pk]


def test_the_queue_shows_no_ticket_of_a_customer_the_engineer_does_not_serve(desk, customer_b):
    theirs = make_ticket(customer_b)
    for queue in ("open", "unassigned", "all", "breaching"):
        assert theirs.pk not in _rows(desk.get(reverse("servicedesk:ticket_list"), {"queue": queue}).content.decode())


def test_bulk_assign_assigns_all_or_none(desk, engineer, engineer_of_b, customer_a):
    team = engineer.teams.first()
    tickets = [make_ticket(customer_a) for _ in range(3)]
    url = reverse("servicedesk:ticket_bulk_assign")
    desk.post(url, {"pk": [t.pk for t in tickets], "assignee": engineer_of_b.pk})  # does not serve customer A
    assert not Ticket.objects.filter(assignee__isnull=False).exists()
    desk.post(url, {"pk": [t.pk for t in tickets], "assignee": engineer.pk, "team": team.pk})
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {engineer.pk}


def test_a_saved_filter_is_the_persons_own(desk, engineer, client, customer_a):
    desk.post(reverse("servicedesk:filter_save"), {"name": "P1 open", "query": "queue=open&priority=p1"})
    saved = SavedFilter.objects.get()
    assert (saved.user, saved.query) == (engineer, "queue=open&priority=p1")
    assert "P1 open" in desk.get(reverse("servicedesk:ticket_list")).content.decode()


def test_the_ticket_page_shows_the_conversation_notes_and_the_ci_with_its_state_and_alerts(desk, engineer, customer_a):
    item = ConfigurationItemFactory(customer=customer_a, name="erp-db-01")
    make_check_in_state(item, "critical", name="disk /data")
    alert = make_alert(item=item, title="erp-db-01 disk 97%")
    ticket = make_ticket(customer_a, configuration_items=[item], description="ERP 很慢")
    services.note(ticket, actor=engineer, body="looks like the disk")
    page = desk.get(reverse("servicedesk:ticket_detail", args=[ticket.pk])).content.decode()
    assert "ERP 很慢" in page and "looks like the disk" in page
    assert f'data-ci-panel="{item.pk}"' in page and "disk /data" in page and alert.title in page


def test_a_refused_attachment_keeps_the_text_and_names_the_limit(desk, customer_a, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.OPSDESK_ATTACHMENT_MAX_BYTES = 100
    ticket = make_ticket(customer_a)
    response = desk.post(reverse("servicedesk:ticket_compose", args=[ticket.pk]), {
        "body": "详细的回复 kept", "public": "1", "files": [SimpleUploadedFile("dump.log", b"x" * 500)]})
    assert response.status_code == 400
    page = response.content.decode()
    assert "详细的回复 kept" in page and "dump.log" in page and "100\xa0bytes" in page
    assert ticket.entries.count() == 1


def test_reply_and_resolve_from_the_composer(desk, engineer, customer_a):
    ticket = make_ticket(customer_a)
    services.take(ticket, actor=engineer)
    response = desk.post(reverse("servicedesk:ticket_compose", args=[ticket.pk]),
                         {"body": "Fixed the toner.", "public": "1", "status": "resolved"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and ticket.first_response_at is not None


def test_a_macro_fills_in_the_tickets_variables(desk, engineer, customer_a):
    ticket = make_ticket(customer_a)
    macro = Macro.objects.create(name="ack",
                                 body="您好，工单 #{{ ticket.number }}（{{ customer.name }}）"
                                      "由 {{ agent.name }} 处理。")
    text = desk.get(reverse("servicedesk:ticket_macro", args=[ticket.pk]), {"macro": macro.pk}).content.decode()
    assert f"工单 #{ticket.pk}（{customer_a.name}）由 {engineer.username} 处理" in text


def test_a_macro_cannot_reach_outside_its_variables(desk, customer_a):
    ticket = make_ticket(customer_a)
    macro = Macro.objects.create(name="evil", body="{{ ticket.__class__.__mro__ }}")
    text = desk.get(reverse("servicedesk:ticket_macro", args=[ticket.pk]), {"macro": macro.pk}).content.decode()
    assert "is unsafe" in text  # the sandbox's refusal, shown to the engineer
    assert "&lt;class" not in text and "<class" not in text


def test_the_attachment_of_another_customers_ticket_is_404(desk, customer_b, admin):
    ticket = make_ticket(customer_b)
    entry = services.reply(ticket, actor=admin, body="log", files=[("a.html", b"<script>x</script>", "text/html")])
    attachment = entry.attachments.get()
    assert desk.get(reverse("servicedesk:attachment", args=[attachment.pk])).status_code == 404


def test_an_html_attachment_is_downloaded_never_shown(client, admin, customer_a):
    ticket = make_ticket(customer_a)
    entry = services.reply(ticket, actor=admin, body="log", files=[("page.html", b"<script>x</script>", "text/html")])
    client.force_login(admin)
    response = client.get(reverse("servicedesk:attachment", args=[entry.attachments.get().pk]))
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_phone_desk_finds_the_caller_and_opens_a_phone_ticket_with_a_file(desk, customer_a, customer_b):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import ContactFactory

    caller = ContactFactory(customer=customer_a, name="韩梅梅", phone="+86 138-0013-8000")
    ContactFactory(customer=customer_b, name="Hidden", phone="13800138000")
    for typed in ("13800138000", "138 0013 8000", "0013-8000"):
        found = desk.get(reverse("servicedesk:ticket_callers"), {"phone": typed}).content.decode()
        assert "韩梅梅" in found and "Hidden" not in found  # B's contact with the same number stays hidden
    response = desk.post(reverse("servicedesk:ticket_add"), {
        "phone": "13800138000", "customer": customer_a.pk, "requester": caller.pk, "ticket_type": "incident",
        "title": "电话报障：门禁系统离线", "description": "前台来电", "impact": "medium", "urgency": "high",
        "language": "zh-hans", "files": [SimpleUploadedFile("photo.jpg", b"\xff\xd8jpeg")]})
    assert response.status_code == 302, response.content.decode()[:3000]
    ticket = Ticket.objects.get(title="电话报障：门禁系统离线")
    assert (ticket.channel, ticket.requester, ticket.priority) == ("phone", caller, "p2")
    assert ticket.attachments.get().name == "photo.jpg"


def test_the_desk_form_shows_the_categorys_fields_and_keeps_their_answers(desk, customer_a):
    from opsdesk.servicedesk.models import Category

    category = Category.objects.create(name="Account 账号", ticket_type="request", form_fields=[
        {"name": "employee", "label": "Employee 员工", "type": "text", "required": True},
        {"name": "start", "label": "Start 入职", "type": "date"}])
    url = reverse("servicedesk:ticket_add")
    assert 'name="cf_employee"' not in desk.get(url).content.decode()
    # Choosing the category re-renders the form with its fields (what htmx asks for).
    page = desk.get(url, {"category": category.pk}).content.decode()
    assert 'name="cf_employee"' in page and 'id="category-fields"' in page
    base = {"customer": customer_a.pk, "ticket_type": "request", "category": category.pk, "title": "新员工账号",
            "description": "周一入职", "impact": "low", "urgency": "medium", "language": "zh-hans"}
    refused = desk.post(url, {**base, "cf_start": "next monday"})
    assert refused.status_code == 400
    assert "Enter a valid date." in refused.content.decode()
    # The engineer may leave the required one for later.
    assert desk.post(url, {**base, "cf_start": "2026-12-07"}).status_code == 302
    ticket = Ticket.objects.get(title="新员工账号")
    assert ticket.form_data == {"start": "2026-12-07"}
    edit = reverse("servicedesk:ticket_edit", args=[ticket.pk])
    assert 'value="2026-12-07"' in desk.get(edit).content.decode()
    assert desk.post(edit, {k: v for k, v in base.items() if k != "customer"} | {
        "cf_employee": "王芳", "cf_start": "2026-12-07"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.form_data == {"employee": "王芳", "start": "2026-12-07"}
