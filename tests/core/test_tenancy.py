"""Tenancy, for every customer-owned model the registry knows: a user of customer A reaches
nothing of customer B — by id, list, search, export or API. A new model is covered by being
registered (and given a factory in tests/factories.py), not by a copy of these tests."""

from __future__ import annotations

import pytest
from django.urls import reverse

from opsdesk.core import registry
from tests.conftest import api_client_for
from tests.factories import make_owned

pytestmark = pytest.mark.django_db

OWNED_ENTRIES = [e for e in registry.entries() if e.tenant_path is not None]


def _ids(entry) -> str:
    return entry.model.__name__


def _api_url(entry, pk=None) -> str:
    base = f"/api/{entry.app_label}/{entry.url_slug}/"
    return f"{base}{pk}/" if pk is not None else base


def _searchable(obj, entry) -> str:
    for field in entry.search_fields:
        value = getattr(obj, field, None)
        if isinstance(value, str) and value:
            return value
    return str(obj)


@pytest.fixture
def theirs(request, customer_b):
    entry = request.param
    return entry, make_owned(entry.model, customer_b)


@pytest.fixture
def ours(customer_a):
    return customer_a


def test_every_customer_owned_model_has_a_factory():
    from tests.factories import OWNED

    missing = [e.model.__name__ for e in OWNED_ENTRIES if e.model not in OWNED]
    assert not missing, f"add these to tests/factories.py OWNED: {missing}"


@pytest.mark.parametrize("theirs", OWNED_ENTRIES, ids=_ids, indirect=True)
def test_by_id_it_answers_404(client, customer_user, theirs):
    entry, obj = theirs
    client.force_login(customer_user)
    for action in ("detail", "edit", "delete"):
        assert client.get(reverse(entry.url_name(action), args=[obj.pk])).status_code == 404, action
    assert client.post(reverse(entry.url_name("delete"), args=[obj.pk])).status_code == 404
    assert entry.model.objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("theirs", OWNED_ENTRIES, ids=_ids, indirect=True)
def test_lists_search_and_export_leave_it_out(client, customer_user, theirs, ours):
    entry, obj = theirs
    mine = make_owned(entry.model, ours)
    client.force_login(customer_user)
    if customer_user.role not in entry.view_roles:
        assert client.get(reverse(entry.url_name("list"))).status_code == 404
        return
    detail = reverse(entry.url_name("detail"), args=[obj.pk])
    page = client.get(reverse(entry.url_name("list"))).content.decode()
    assert detail not in page
    assert reverse(entry.url_name("detail"), args=[mine.pk]) in page  # the test can see what it should
    term = _searchable(obj, entry)
    assert detail not in client.get(reverse(entry.url_name("list")), {"q": term}).content.decode()
    exported = b"".join(client.get(reverse(entry.url_name("list")), {"export": "csv"}).streaming_content).decode()
    assert str(obj) not in exported or str(obj) == str(mine)


@pytest.mark.parametrize("theirs", OWNED_ENTRIES, ids=_ids, indirect=True)
def test_the_api_neither_lists_nor_reaches_it(customer_user, theirs, ours):
    entry, obj = theirs
    if not entry.api:
        pytest.skip(f"{entry.model.__name__} has no API endpoint")
    api = api_client_for(customer_user, write=False)
    listed = api.get(_api_url(entry))
    if customer_user.role not in entry.view_roles:
        assert listed.status_code == 403
        return
    assert listed.status_code == 200
    assert obj.pk not in [row["id"] for row in listed.json()["results"]]
    assert api.get(_api_url(entry, obj.pk)).status_code == 404
    searched = api.get(_api_url(entry), {"q": _searchable(obj, entry)}).json()["results"]
    assert obj.pk not in [row["id"] for row in searched]


@pytest.mark.parametrize("entry", OWNED_ENTRIES, ids=_ids)
def test_a_staff_token_of_read_write_still_cannot_write_across_by_a_customer(entry, customer_a, customer_b):
    """Writes by id: a customer user with a read-write role would still get 404 (and no change)."""
    obj = make_owned(entry.model, customer_b)
    from tests.factories import UserFactory

    intruder = UserFactory(role="customer", customer=customer_a)
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(intruder)
    response = api.delete(_api_url(entry, obj.pk))
    assert response.status_code in (403, 404)
    assert entry.model.objects.filter(pk=obj.pk).exists()


def test_a_customer_user_cannot_attach_an_item_to_another_customers_site(customer_a, customer_b, engineer):
    """Choices are scoped too: posting a guessed id of another customer's object fails."""
    from opsdesk.cmdb.forms import ConfigurationItemForm
    from tests.factories import SiteFactory, UserFactory, kind

    site_b = SiteFactory(customer=customer_b)
    someone = UserFactory(role="customer", customer=customer_a)
    form = ConfigurationItemForm(
        {"customer": customer_b.pk, "site": site_b.pk, "kind": kind("service").pk, "name": "x",
         "status": "active", "criticality": "low"}, user=someone)
    assert not form.is_valid()
    assert "customer" in form.errors and "site" in form.errors


@pytest.mark.parametrize("entry", [e for e in OWNED_ENTRIES if "customer" in e.tenant_path or e.tenant_path == "pk"],
                         ids=_ids)
def test_filter_choices_name_no_other_customer(client, customer_user, customer_b, entry):
    """The filter dropdowns of a list must not reveal other customers, their sites or teams."""
    from tests.factories import SiteFactory, TeamFactory

    site = SiteFactory(customer=customer_b, name="Hidden site of B")
    team = TeamFactory(name="Team only staff see")
    client.force_login(customer_user)
    response = client.get(reverse(entry.url_name("list")))
    if response.status_code == 404:
        return
    page = response.content.decode()
    for secret in (customer_b.name, site.name, team.name):
        assert secret not in page, secret
    api = api_client_for(customer_user, write=False)
    if entry.api and api.get(_api_url(entry)).status_code == 200 and "customer" in entry.tenant_path:
        assert api.get(_api_url(entry), {"customer": customer_b.pk}).status_code == 400


def test_graph_json_of_another_customer_is_404(client, customer_user, customer_b):
    from tests.factories import ConfigurationItemFactory

    item = ConfigurationItemFactory(customer=customer_b)
    client.force_login(customer_user)
    assert client.get(reverse("cmdb:graph_json"), {"item": item.pk}).status_code == 404
    assert client.get(reverse("cmdb:graph_json"), {"customer": customer_b.pk}).status_code == 404


def test_staff_see_every_customer(engineer_client, customer_a, customer_b):
    page = engineer_client.get(reverse("core:customer_list")).content.decode()
    assert customer_a.name in page and customer_b.name in page
