"""Every named action the registry declares, through the UI and the API: a person whose role
may not do it gets 403 (404 where they cannot see the object at all), nothing is written; a
person who may do it writes exactly one audit row naming the action. A new action is covered by
being declared (and given a candidate object in tests/factories.py), not by a copy of these."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from opsdesk.core import registry
from opsdesk.core.permissions import STAFF, can
from tests.conftest import api_client_for
from tests.factories import ACTION_PARAMS, UserFactory, make_actionable

pytestmark = pytest.mark.django_db

ACTIONS = [(entry, action) for entry in registry.entries() for action in entry.actions]


def _ids(pair) -> str:
    entry, action = pair
    return f"{entry.model.__name__}.{action.name}"


def _urls(entry, action, obj) -> tuple[str, str]:
    ui = reverse(entry.url_name("action"), args=[obj.pk, action.name])
    api = f"/api/{entry.app_label}/{entry.url_slug}/{obj.pk}/{action.name.replace('_', '-')}/"
    return ui, api


def _person(role: str, obj):
    user = UserFactory(role=role)
    return user


def _params(entry, action, obj) -> dict:
    """The action's form data from tests/factories.py: a dict, or made for the object (another
    ticket to merge into, a person who may be assigned)."""
    params = ACTION_PARAMS.get((entry.model, action.name), {})
    return params(obj) if callable(params) else params


def _snapshot(obj) -> dict:
    return type(obj).objects.filter(pk=obj.pk).values().get()


@pytest.mark.parametrize("pair", ACTIONS, ids=_ids)
def test_a_role_that_may_not_gets_403_and_nothing_changes(client, pair):
    entry, action = pair
    obj = make_actionable(entry.model, action)
    refused = sorted(r for r in STAFF if r not in entry.roles_for(action.name) and r in entry.view_roles)
    if not refused:
        return  # every staff role that can see it may do it: the 404 test below covers outsiders
    person = _person(refused[0], obj)
    assert can(person, "view", obj), "the test must try someone who can see the object"
    ui, api_url = _urls(entry, action, obj)
    api = api_client_for(person, write=True)
    before, logged = _snapshot(obj), LogEntry.objects.count()
    client.force_login(person)
    assert client.get(ui).status_code == 403
    params = _params(entry, action, obj)
    assert client.post(ui, params).status_code == 403
    response = api.post(api_url, params, format="json")
    assert response.status_code == 403
    assert "detail" in response.json()
    assert _snapshot(obj) == before
    assert LogEntry.objects.count() == logged
    detail = client.get(reverse(entry.url_name("detail"), args=[obj.pk])).content.decode()
    assert f'id="action-{action.name}"' not in detail


@pytest.mark.parametrize("pair", ACTIONS, ids=_ids)
def test_someone_who_cannot_see_the_object_gets_404(client, customer_user, pair):
    entry, action = pair
    obj = make_actionable(entry.model, action)
    if can(customer_user, "view", obj):
        return
    ui, api_url = _urls(entry, action, obj)
    client.force_login(customer_user)
    assert client.post(ui).status_code == 404
    assert api_client_for(customer_user, write=False).post(api_url, {}, format="json").status_code in (403, 404)


@pytest.mark.parametrize("channel", ["ui", "api"])
@pytest.mark.parametrize("pair", ACTIONS, ids=_ids)
def test_an_allowed_action_writes_exactly_one_audit_row(client, pair, channel):
    entry, action = pair
    obj = make_actionable(entry.model, action)
    role = sorted(entry.roles_for(action.name))[0]
    person = _person(role, obj)
    assert can(person, action.name, obj)
    ui, api_url = _urls(entry, action, obj)
    params = _params(entry, action, obj)
    api = api_client_for(person, write=True)
    logged = LogEntry.objects.count()
    if channel == "ui":
        client.force_login(person)
        detail = client.get(reverse(entry.url_name("detail"), args=[obj.pk])).content.decode()
        assert f'id="action-{action.name}"' in detail
        response = client.post(ui, params)
        assert response.status_code == 302, response.content.decode()[:2000]
    else:
        response = api.post(api_url, params, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["id"] == obj.pk
    rows = list(LogEntry.objects.order_by("pk")[logged:])
    assert len(rows) == 1, [(r.changes, r.additional_data) for r in rows]
    assert rows[0].additional_data == {"action": action.name}
    assert rows[0].actor_id == person.pk
    assert rows[0].object_pk == str(obj.pk)
