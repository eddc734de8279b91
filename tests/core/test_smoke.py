import pytest
from django.urls import reverse

from opsdesk.core import registry
from opsdesk.core.permissions import can

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_people_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_shows_the_dashboard(admin_client):
    response = admin_client.get("/")
    assert response.status_code == 200
    assert b"ci-by-kind" in response.content


@pytest.mark.parametrize("entry", registry.entries(), ids=lambda e: e.model.__name__)
def test_every_registered_list_add_and_api_page_answers(admin_client, admin_api, entry):
    assert admin_client.get(reverse(entry.url_name("list"))).status_code == 200
    assert admin_client.get(reverse(entry.url_name("list")) + "?export=csv").status_code == 200
    assert admin_client.get(reverse(entry.url_name("list")) + "?export=xlsx").status_code == 200
    if entry.creatable:
        assert admin_client.get(reverse(entry.url_name("add"))).status_code == 200
    assert admin_api.get(f"/api/{entry.app_label}/{entry.url_slug}/").status_code == 200


@pytest.mark.parametrize("entry", registry.entries(), ids=lambda e: e.model.__name__)
def test_a_list_offers_add_exactly_when_the_person_may_add(admin_client, admin, entry):
    """Whether a person may add, not whether they may change, decides the button (a discovery
    run is added but never changed)."""
    page = admin_client.get(reverse(entry.url_name("list"))).content.decode()
    may_add = entry.creatable and can(admin, "add", entry.model)
    assert ('id="add-object"' in page) is may_add
