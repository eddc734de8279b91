"""A customer user never reaches another customer's ticket, attachment or reply: by id (read or
write), list, search, export or API. Here a user of customer B tries customer A's tickets."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import Ticket
from tests.conftest import api_client_for
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

SECRET = "Alpha's payroll server 工资服务器"


@pytest.fixture
def tickets_of_a(customer_a, customer_user):
    """A's tickets in each state a write applies to, each with a file in its conversation."""
    made = {}
    for status in ("new", "resolved", "closed"):
        made[status] = make_ticket(customer_a, actor=customer_user, title=f"{SECRET} {status}", status=status,
                                   files=[(f"payroll-{status}.xlsx", b"salaries", "application/vnd.ms-excel")])
    return made


def _snapshot(tickets: dict) -> list:
    return [(t.pk, Ticket.objects.get(pk=t.pk).status, t.entries.count(), t.attachments.count(),
             LogEntry.objects.get_for_object(t).count()) for t in tickets.values()]


def test_by_id_every_portal_page_and_write_is_404(client, other_customer_user, tickets_of_a):
    before = _snapshot(tickets_of_a)
    client.force_login(other_customer_user)
    for ticket in tickets_of_a.values():
        portal = lambda name, t=ticket: reverse(f"servicedesk:portal_{name}", args=[t.pk])  # noqa: E731
        assert client.get(portal("detail")).status_code == 404
        assert client.post(portal("reply"), {"body": "sneaky"}).status_code == 404
        attach = {"body": "", "files": [SimpleUploadedFile("x.txt", b"x")]}
        assert client.post(portal("reply"), attach).status_code == 404
        assert client.post(portal("close")).status_code == 404
        assert client.post(portal("reopen"), {"reason": "sneaky"}).status_code == 404
        for attachment in ticket.attachments.all():
            url = reverse("servicedesk:attachment", args=[attachment.pk])
            assert client.get(url).status_code == 404
        assert client.get(reverse("servicedesk:ticket_detail", args=[ticket.pk])).status_code == 404
        for name in ("reply", "close", "reopen", "merge"):
            url = reverse("servicedesk:ticket_action", args=[ticket.pk, name])
            assert client.post(url, {"body": "sneaky"}).status_code == 404, name
    assert _snapshot(tickets_of_a) == before


def test_by_id_the_api_is_404_with_a_session_and_says_nothing_with_a_token(other_customer_user, tickets_of_a):
    before = _snapshot(tickets_of_a)
    session = APIClient()
    session.force_login(other_customer_user)
    token = api_client_for(other_customer_user, write=False)
    for ticket in tickets_of_a.values():
        base = f"/api/servicedesk/tickets/{ticket.pk}/"
        assert session.get(base).status_code == 404
        assert token.get(base).status_code == 404
        for action in ("reply", "close", "reopen"):
            assert session.post(f"{base}{action}/", {"body": "sneaky"}, format="json").status_code == 404, action
            # A read-only token writes nothing anywhere: the same answer as for a ticket that
            # does not exist, so the answer tells nothing either.
            theirs = token.post(f"{base}{action}/", {"body": "sneaky"}, format="json")
            nowhere = token.post(f"/api/servicedesk/tickets/{10**17}/{action}/", {"body": "sneaky"}, format="json")
            assert (theirs.status_code, theirs.json()) == (nowhere.status_code, nowhere.json()) \
                == (403, {"detail": "This token is read-only."})
        # Customer users may not merge at all: refused for any number, theirs or none.
        merged = session.post(f"{base}merge/", {"into": ticket.pk}, format="json")
        nowhere = session.post(f"/api/servicedesk/tickets/{10**17}/merge/", {"into": ticket.pk}, format="json")
        assert (merged.status_code, merged.json()) == (nowhere.status_code, nowhere.json())
        assert merged.status_code == 403
    assert _snapshot(tickets_of_a) == before


def test_lists_search_and_export_never_show_them(client, other_customer_user, customer_b, tickets_of_a):
    own = make_ticket(customer_b, actor=other_customer_user, title="Beta's own request")
    client.force_login(other_customer_user)
    numbers = [str(t.pk) for t in tickets_of_a.values()]
    pages = [client.get(reverse("servicedesk:portal_list"), params).content.decode()
             for params in ({}, {"whose": "company"}, {"state": "closed"}, {"q": "payroll"}, {"q": "工资"},
                            *({"q": f"#{n}"} for n in numbers))]
    pages.append(client.get(reverse("servicedesk:ticket_list"), {"q": "payroll"}).content.decode())
    pages.append(client.get(reverse("home")).content.decode())
    for html in pages:
        # (The search terms themselves come back in the search box.)
        assert "payroll server" not in html and "工资服务器" not in html and "payroll-" not in html
        for ticket in tickets_of_a.values():
            assert reverse("servicedesk:portal_detail", args=[ticket.pk]) not in html
    assert reverse("servicedesk:portal_detail", args=[own.pk]) in pages[0]
    exported = b"".join(client.get(reverse("servicedesk:ticket_list"), {"export": "csv"}).streaming_content)
    assert b"Beta's own request" in exported
    assert b"payroll" not in exported
    api = api_client_for(other_customer_user, write=False)
    for params in ({}, {"q": "payroll"}):
        listed = api.get("/api/servicedesk/tickets/", params).json()["results"]
        assert not {row["id"] for row in listed} & {t.pk for t in tickets_of_a.values()}
    # Filtering by A is refused (the customer is not a valid choice), not answered with A's tickets.
    assert api.get("/api/servicedesk/tickets/", {"customer": tickets_of_a["new"].customer_id}).status_code == 400
    assert own.pk in [row["id"] for row in api.get("/api/servicedesk/tickets/").json()["results"]]


def test_merging_into_another_customers_ticket_is_refused(client, other_customer_user, engineer_of_b, admin,
                                                           customer_b, tickets_of_a):
    theirs = tickets_of_a["new"]
    own = make_ticket(customer_b, actor=other_customer_user, title="Beta's duplicate")
    before = _snapshot(tickets_of_a)
    merge = reverse("servicedesk:ticket_action", args=[own.pk, "merge"])
    # The customer user may not merge at all.
    client.force_login(other_customer_user)
    assert client.post(merge, {"into": theirs.pk}).status_code == 403
    # An engineer of B is told exactly what a number that does not exist would tell.
    client.force_login(engineer_of_b)
    into_a = client.post(merge, {"into": theirs.pk})
    into_nothing = client.post(merge, {"into": 10**17})
    assert into_a.status_code == into_nothing.status_code == 400
    assert f"There is no ticket #{theirs.pk} you can see." in into_a.content.decode()
    # Someone who sees both customers is refused by the service.
    client.force_login(admin)
    response = client.post(merge, {"into": theirs.pk})
    assert response.status_code == 400
    assert "Choose another ticket of the same customer." in response.content.decode()
    own.refresh_from_db()
    assert own.merged_into_id is None and own.status == "new"
    assert _snapshot(tickets_of_a) == before


def test_a_reply_from_another_customers_side_cannot_be_slipped_in_through_the_service(other_customer_user,
                                                                                       tickets_of_a):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.reply(tickets_of_a["new"], actor=other_customer_user, body="sneaky")
    with pytest.raises(PermissionDenied):
        services.reopen(tickets_of_a["closed"], actor=other_customer_user)
    with pytest.raises(PermissionDenied):
        services.close(tickets_of_a["resolved"], actor=other_customer_user)
