"""The ticket actions: the workflow, the timeline they write, and the refusals that name a field."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from opsdesk.core.models import Role
from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import PriorityRule, Ticket, TicketEntry
from tests.factories import ConfigurationItemFactory, ContactFactory, TeamFactory, UserFactory, make_ticket

pytestmark = pytest.mark.django_db


def _events(ticket) -> list[str]:
    return list(ticket.entries.filter(kind="event").values_list("event", flat=True))


def test_an_opened_ticket_goes_to_the_team_serving_the_customer_with_the_matrix_priority(customer_a):
    team = TeamFactory()
    team.customers.add(customer_a)
    contact = ContactFactory(customer=customer_a, email="li@example.com")
    ticket = services.open_ticket(actor=None, customer=customer_a, title="ERP down", description="登录报错\n\n第二段",
                                  requester=contact, impact="high", urgency="high", channel="phone")
    assert (ticket.team, ticket.priority, ticket.status) == (team, "p1", "new")
    assert ticket.requester_email == "li@example.com"
    opening = ticket.entries.get()
    assert opening.public and opening.body == "<p>登录报错</p><p>第二段</p>"


def test_the_matrix_an_administrator_sets_wins_over_the_default(customer_a):
    PriorityRule.objects.create(impact="low", urgency="low", priority="p2")
    assert make_ticket(customer_a, impact="low", urgency="low").priority == "p2"


def test_take_reply_wait_customer_reply_resolve_close(customer_a, engineer, customer_user):
    ticket = make_ticket(customer_a)
    services.take(ticket, actor=engineer)
    assert (ticket.status, ticket.assignee) == ("in_progress", engineer)
    services.reply(ticket, actor=engineer, body="Which printer?")
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None
    services.change_status(ticket, actor=engineer, status="waiting_customer")
    services.reply(ticket, actor=customer_user, body="The one on floor 3")
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"  # the customer's answer resumes it
    services.resolve(ticket, actor=engineer, solution="Toner replaced.")
    services.close(ticket, actor=customer_user)
    ticket.refresh_from_db()
    assert ticket.status == "closed" and ticket.closed_at is not None
    statuses = [(e.data["old"], e.data["new"]) for e in ticket.entries.filter(event="status")]
    assert statuses == [("new", "assigned"), ("assigned", "in_progress"), ("in_progress", "waiting_customer"),
                        ("waiting_customer", "in_progress"), ("in_progress", "resolved"), ("resolved", "closed")]


def test_a_customer_reply_reopens_a_resolved_ticket(customer_a, customer_user):
    ticket = make_ticket(customer_a, status="resolved")
    services.reply(ticket, actor=customer_user, body="Still broken")
    ticket.refresh_from_db()
    assert ticket.status == "in_progress" and ticket.resolved_at is None
    assert "reopened" in _events(ticket)


def test_a_forbidden_transition_names_the_status(customer_a, engineer):
    ticket = make_ticket(customer_a, status="in_progress")
    with pytest.raises(ValidationError) as caught:
        services.change_status(ticket, actor=engineer, status="new")
    assert "status" in caught.value.message_dict


def test_a_customer_user_writes_no_internal_note_and_sees_none(customer_a, customer_user, engineer):
    ticket = make_ticket(customer_a)
    with pytest.raises(PermissionDenied):
        services.reply(ticket, actor=customer_user, body="psst", public=False)
    services.note(ticket, actor=engineer, body="customer is difficult")
    assert not TicketEntry.objects.filter(ticket=ticket, public=False, author=customer_user).exists()


def test_a_customer_user_opens_only_for_their_own_customer(customer_a, customer_b, customer_user):
    ticket = services.open_ticket(actor=customer_user, customer=customer_b, title="sneaky")
    assert ticket.customer == customer_a and ticket.requester_user == customer_user


def test_items_of_another_customer_are_refused_by_field(customer_a, customer_b):
    with pytest.raises(ValidationError) as caught:
        services.open_ticket(actor=None, customer=customer_a, title="x",
                             configuration_items=[ConfigurationItemFactory(customer=customer_b)])
    assert "configuration_items" in caught.value.message_dict
    assert not Ticket.objects.exists()


def test_an_engineer_who_does_not_serve_the_customer_cannot_be_assigned(customer_a, engineer_of_b):
    ticket = make_ticket(customer_a)
    with pytest.raises(ValidationError) as caught:
        services.assign(ticket, actor=UserFactory(role=Role.ADMIN), assignee=engineer_of_b)
    assert "assignee" in caught.value.message_dict


def test_merge_moves_the_conversation_and_closes_the_duplicate(customer_a, engineer):
    first, second = make_ticket(customer_a), make_ticket(customer_a, description="same printer")
    services.merge(second, actor=engineer, into=first)
    second.refresh_from_db()
    assert second.merged_into == first and second.status == "closed"
    assert first.entries.filter(data__merged_from=second.pk).count() == 1
    with pytest.raises(PermissionDenied):  # "reply" no longer applies to it
        services.reply(second, actor=engineer, body="hello")


def test_merge_into_another_customers_ticket_is_refused(customer_a, customer_b, admin):
    with pytest.raises(ValidationError) as caught:
        services.merge(make_ticket(customer_a), actor=admin, into=make_ticket(customer_b))
    assert "into" in caught.value.message_dict


def test_an_attachment_over_the_limit_is_refused_with_the_limit(customer_a, engineer, settings):
    settings.OPSDESK_ATTACHMENT_MAX_BYTES = 1024
    ticket = make_ticket(customer_a)
    with pytest.raises(ValidationError) as caught:
        services.reply(ticket, actor=engineer, body="log", files=[("big.log", b"x" * 2048, "text/plain")])
    assert "1.0\xa0KB" in caught.value.message_dict["files"][0]
    with pytest.raises(ValidationError) as caught:
        services.reply(ticket, actor=engineer, body="tool", files=[("fix.exe", b"MZ", "")])
    assert ".exe" in caught.value.message_dict["files"][0]
    assert ticket.entries.count() == 1  # only the opening


def test_an_attachment_is_kept_with_its_reply(customer_a, engineer):
    ticket = make_ticket(customer_a)
    entry = services.reply(ticket, actor=engineer, body="see log", files=[("a.log", b"line 1\n", "text/plain")])
    attachment = entry.attachments.get()
    assert (attachment.name, attachment.size, attachment.file.read()) == ("a.log", 7, b"line 1\n")


def test_take_it_is_not_offered_on_a_ticket_already_yours_and_in_progress(customer_a, engineer, client):
    from opsdesk.core.permissions import can

    colleague = UserFactory(username="colleague", role=Role.ENGINEER)
    engineer.teams.first().members.add(colleague)
    ticket = make_ticket(customer_a)
    assert can(engineer, "take", ticket) and can(colleague, "take", ticket)
    services.take(ticket, actor=engineer)
    assert not can(engineer, "take", ticket)
    assert can(colleague, "take", ticket)  # a colleague may still take it over
    client.force_login(engineer)
    page = client.get(f"/servicedesk/tickets/{ticket.pk}/").content.decode()
    assert "/actions/take/" not in page
    client.force_login(colleague)
    assert "/actions/take/" in client.get(f"/servicedesk/tickets/{ticket.pk}/").content.decode()
