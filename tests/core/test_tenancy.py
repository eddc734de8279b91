"""Tenancy, for every customer-owned model the registry knows: an outsider reaches nothing of
customer B — by id, list, search, export, API, choice lists or graph. Two outsiders are tried,
each with their own customer A: a customer user of A, and an engineer whose team serves only A.
A new model is covered by being registered (and given a factory in tests/factories.py), not by
a copy of these tests."""

from __future__ import annotations

import pytest
from django.urls import reverse

from opsdesk.core import registry
from opsdesk.core.permissions import can
from tests.conftest import api_client_for
from tests.factories import make_owned

pytestmark = pytest.mark.django_db

OWNED_ENTRIES = [e for e in registry.entries() if e.tenant_path is not None]
OUTSIDERS = ["customer_user", "engineer"]


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


@pytest.fixture(params=OUTSIDERS)
def outsider(request, customer_a):
    """Someone who belongs to customer A only."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def theirs(request, customer_b):
    entry = request.param
    return entry, make_owned(entry.model, customer_b)


def test_every_customer_owned_model_has_a_factory():
    from tests.factories import OWNED

    missing = [e.model.__name__ for e in OWNED_ENTRIES if e.model not in OWNED]
    assert not missing, f"add these to tests/factories.py OWNED: {missing}"


@pytest.mark.parametrize("theirs", OWNED_ENTRIES, ids=_ids, indirect=True)
def test_by_id_it_answers_404(client, outsider, theirs):
    entry, obj = theirs
    client.force_login(outsider)
    for action in ("detail", "edit", "delete"):
        assert client.get(reverse(entry.url_name(action), args=[obj.pk])).status_code == 404, action
    assert client.post(reverse(entry.url_name("delete"), args=[obj.pk])).status_code == 404
    for named in entry.actions:
        url = reverse(entry.url_name("action"), args=[obj.pk, named.name])
        assert client.post(url).status_code == 404, named.name
    assert entry.model.objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("theirs", OWNED_ENTRIES, ids=_ids, indirect=True)
def test_lists_search_and_export_leave_it_out(client, outsider, theirs, customer_a):
    entry, obj = theirs
    client.force_login(outsider)
    if not can(outsider, "view", entry.model):
        assert client.get(reverse(entry.url_name("list"))).status_code == 404
        return
    mine = make_owned(entry.model, customer_a)
    detail = reverse(entry.url_name("detail"), args=[obj.pk])
    page = client.get(reverse(entry.url_name("list"))).content.decode()
    assert detail not in page
    assert reverse(entry.url_name("detail"), args=[mine.pk]) in page  # the test can see what it should
    term = _searchable(obj, entry)
    assert detail not in client.get(reverse(entry.url_name("list")), {"q": term}).content.decode()
    exported = b"".join(client.get(reverse(entry.url_name("list")), {"export": "csv"}).streaming_content).decode()
    first = lambda o: str(getattr(o, entry.columns[0]))  # noqa: E731  (the first exported column)
    assert first(mine) in exported
    if first(obj) != first(mine):
        assert first(obj) not in exported


@pytest.mark.parametrize("theirs", OWNED_ENTRIES, ids=_ids, indirect=True)
def test_the_api_neither_lists_nor_reaches_it(outsider, theirs):
    entry, obj = theirs
    assert entry.api, f"{entry.model.__name__} has no API endpoint: test its own way of reaching it"
    api = api_client_for(outsider, write=False)
    listed = api.get(_api_url(entry))
    if not can(outsider, "view", entry.model):
        assert listed.status_code == 403
        return
    assert listed.status_code == 200
    assert obj.pk not in [row["id"] for row in listed.json()["results"]]
    assert api.get(_api_url(entry, obj.pk)).status_code == 404
    searched = api.get(_api_url(entry), {"q": _searchable(obj, entry)}).json()["results"]
    assert obj.pk not in [row["id"] for row in searched]


@pytest.mark.parametrize("entry", OWNED_ENTRIES, ids=_ids)
def test_an_engineer_with_a_read_write_token_cannot_write_to_another_customer(entry, engineer, customer_b):
    """Customer B's objects are 404 for update, partial update, delete and every named action
    (403 where the engineer's role may not do that to any object of the model), and nothing
    changes."""
    obj = make_owned(entry.model, customer_b)
    api = api_client_for(engineer, write=True)
    before = entry.model.objects.filter(pk=obj.pk).values().get()

    def expected(action: str) -> int:
        return 404 if can(engineer, action, entry.model) else 403

    assert api.delete(_api_url(entry, obj.pk)).status_code == expected("delete")
    assert api.patch(_api_url(entry, obj.pk), {}, format="json").status_code == expected("change")
    assert api.put(_api_url(entry, obj.pk), {}, format="json").status_code == expected("change")
    for named in entry.actions:
        url = f"{_api_url(entry, obj.pk)}{named.name.replace('_', '-')}/"
        assert api.post(url).status_code == expected(named.name)
    assert entry.model.objects.filter(pk=obj.pk).values().get() == before


def test_an_engineer_cannot_create_for_a_customer_their_teams_do_not_serve(engineer, customer_a, customer_b):
    from opsdesk.cmdb.models import ConfigurationItem
    from tests.factories import kind

    api = api_client_for(engineer, write=True)
    body = {"customer": customer_b.pk, "kind": kind("service").pk, "name": "sneaky", "status": "active",
            "criticality": "low", "attributes": {}}
    response = api.post("/api/cmdb/configurationitems/", body, format="json")
    assert response.status_code == 400
    assert "customer" in response.json()
    assert not ConfigurationItem.objects.filter(name="sneaky").exists()
    body["customer"] = customer_a.pk
    assert api.post("/api/cmdb/configurationitems/", body, format="json").status_code == 201


def test_an_engineer_cannot_move_an_item_to_a_customer_their_teams_do_not_serve(engineer, customer_a, customer_b):
    from opsdesk.cmdb import services
    from opsdesk.core.actions import PermissionDenied
    from tests.factories import ConfigurationItemFactory

    item = ConfigurationItemFactory(customer=customer_a)
    with pytest.raises(PermissionDenied):
        services.update_item(item, {"customer": customer_b}, actor=engineer)
    item.refresh_from_db()
    assert item.customer_id == customer_a.pk


@pytest.mark.parametrize("role", OUTSIDERS)
def test_choices_offer_nothing_of_another_customer(request, role, customer_a, customer_b):
    """Choices are scoped too: posting a guessed id of another customer's object fails."""
    from opsdesk.cmdb.forms import ConfigurationItemForm
    from tests.factories import SiteFactory, kind

    someone = request.getfixturevalue(role)
    site_b = SiteFactory(customer=customer_b)
    form = ConfigurationItemForm(
        {"customer": customer_b.pk, "site": site_b.pk, "kind": kind("service").pk, "name": "x",
         "status": "active", "criticality": "low"}, user=someone)
    assert not form.is_valid()
    assert "customer" in form.errors and "site" in form.errors
    assert customer_b not in form.fields["customer"].queryset
    assert site_b not in form.fields["site"].queryset


@pytest.mark.parametrize("entry", [e for e in OWNED_ENTRIES if "customer" in e.tenant_path or e.tenant_path == "pk"],
                         ids=_ids)
def test_filter_choices_name_no_other_customer(client, outsider, customer_b, entry):
    """The filter dropdowns of a list must not reveal other customers or their sites."""
    from tests.factories import SiteFactory

    site = SiteFactory(customer=customer_b, name="Hidden site of B")
    client.force_login(outsider)
    response = client.get(reverse(entry.url_name("list")))
    if not can(outsider, "view", entry.model):
        assert response.status_code == 404
        return
    page = response.content.decode()
    for secret in (customer_b.name, site.name):
        assert secret not in page, secret
    if "customer" in entry.tenant_path:
        api = api_client_for(outsider, write=False)
        assert api.get(_api_url(entry), {"customer": customer_b.pk}).status_code == 400


def test_teams_are_staff_only(client, customer_user):
    from tests.factories import TeamFactory

    team = TeamFactory(name="Team only staff see")
    client.force_login(customer_user)
    assert client.get(reverse("core:team_list")).status_code == 404
    assert team.name not in client.get(reverse("cmdb:configurationitem_list")).content.decode()


@pytest.mark.parametrize("role", OUTSIDERS)
def test_graph_json_of_another_customer_is_404(client, request, role, customer_b):
    from tests.factories import ConfigurationItemFactory

    item = ConfigurationItemFactory(customer=customer_b)
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("cmdb:graph_json"), {"item": item.pk}).status_code == 404
    assert client.get(reverse("cmdb:graph_json"), {"customer": customer_b.pk}).status_code == 404


def test_an_engineer_sees_the_customers_their_teams_serve(client, engineer, customer_a, customer_b):
    client.force_login(engineer)
    page = client.get(reverse("core:customer_list")).content.decode()
    assert customer_a.name in page
    assert customer_b.name not in page


def test_managers_see_every_customer(client, manager, customer_a, customer_b):
    client.force_login(manager)
    page = client.get(reverse("core:customer_list")).content.decode()
    assert customer_a.name in page and customer_b.name in page


def test_a_setting_lets_engineers_see_every_customer(client, settings, engineer, customer_a, customer_b):
    settings.OPSDESK_ENGINEERS_SEE_ALL_CUSTOMERS = True
    client.force_login(engineer)
    page = client.get(reverse("core:customer_list")).content.decode()
    assert customer_a.name in page and customer_b.name in page


def test_the_audit_log_shows_an_engineer_nothing_of_another_customer(client, engineer, admin, customer_a, customer_b):
    from opsdesk.core import services
    from opsdesk.core.models import Site

    services.create(Site, {"customer": customer_b, "name": "Secret site of B"}, actor=admin)
    services.create(Site, {"customer": customer_a, "name": "Site of A"}, actor=admin)
    client.force_login(engineer)
    page = client.get(reverse("audit_list")).content.decode()
    assert "Site of A" in page
    assert "Secret site of B" not in page
    home = client.get(reverse("home")).content.decode()
    assert "Site of A" in home and "Secret site of B" not in home


def test_customer_choices_tell_customers_of_the_same_name_apart(admin):
    from opsdesk.core.generic.forms import form_for
    from opsdesk.core.models import Site
    from tests.factories import CustomerFactory

    CustomerFactory(code="SH1", name="Same 同名")
    CustomerFactory(code="SH2", name="Same 同名")
    form = form_for(registry.get(Site))(user=admin)
    labels = [label for _value, label in form.fields["customer"].choices]
    assert "Same 同名 (SH1)" in labels and "Same 同名 (SH2)" in labels


# Every named action that customer users may run (reply to, close, reopen a ticket…): the portal
# is where they write first, so writes are tried too, not only reads.
CUSTOMER_ACTIONS = [(e, a) for e in OWNED_ENTRIES for a in e.actions if "customer" in a.roles]


@pytest.mark.parametrize(("entry", "named"), CUSTOMER_ACTIONS,
                         ids=[f"{e.model.__name__}.{a.name}" for e, a in CUSTOMER_ACTIONS])
def test_a_customer_user_runs_no_action_on_another_customers_object(client, customer_user, entry, named):
    """On an object of another customer, in a state where the action applies: 404 in the UI and
    in the API with the person's session; with their (read-only) token, the same 403 as for an
    id that does not exist. Nothing changes and no audit row is written."""
    from auditlog.models import LogEntry
    from rest_framework.test import APIClient

    from opsdesk.core.scoping import tenant_id
    from tests.factories import ACTION_PARAMS, make_actionable

    obj = make_actionable(entry.model, named)
    assert tenant_id(obj) != customer_user.customer_id
    params = ACTION_PARAMS.get((entry.model, named.name), {})
    params = params(obj) if callable(params) else params
    before = entry.model.objects.filter(pk=obj.pk).values().get()
    audit_rows = LogEntry.objects.get_for_object(obj).count()

    client.force_login(customer_user)
    assert client.post(reverse(entry.url_name("action"), args=[obj.pk, named.name]), params).status_code == 404
    session = APIClient()
    session.force_login(customer_user)
    path = f"{named.name.replace('_', '-')}/"
    assert session.post(f"{_api_url(entry, obj.pk)}{path}", params, format="json").status_code == 404
    token = api_client_for(customer_user, write=False)
    theirs = token.post(f"{_api_url(entry, obj.pk)}{path}", params, format="json")
    nowhere = token.post(f"{_api_url(entry, 10**17)}{path}", params, format="json")
    assert (theirs.status_code, theirs.json()) == (nowhere.status_code, nowhere.json())
    assert theirs.status_code == 403

    assert entry.model.objects.filter(pk=obj.pk).values().get() == before
    assert LogEntry.objects.get_for_object(obj).count() == audit_rows
