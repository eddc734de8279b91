"""Satisfaction surveys: asked on each resolution, answered once (portal, signed link, action,
API), a low rating tells the assignee, another customer never reaches a survey, and the
managers' CSAT figure counts only the customers a person serves."""

from __future__ import annotations

import re

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from opsdesk.core import registry
from opsdesk.notify.models import ContactMethod, Notification
from opsdesk.servicedesk import services, surveys
from opsdesk.servicedesk.models import OutgoingMail, SurveyResponse
from opsdesk.servicedesk.registrations_surveys import csat_widgets
from tests.conftest import api_client_for
from tests.factories import make_channel, make_mail_channel, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolved(customer_a, engineer):
    ticket = make_ticket(customer_a, impact="low", urgency="low")
    services.take(ticket, actor=engineer)
    services.resolve(ticket, actor=engineer, solution="重启了打印服务。")
    return ticket


def _survey(ticket) -> SurveyResponse:
    return SurveyResponse.objects.get(ticket=ticket, answered_at__isnull=True)


def _audit_rows(survey) -> list[LogEntry]:
    return list(LogEntry.objects.filter(object_pk=str(survey.pk), content_type__model="surveyresponse"))


# --- asking ---------------------------------------------------------------------------------------

def test_resolving_asks_once_and_a_second_resolution_after_an_answer_asks_again(resolved, engineer,
                                                                                customer_user):
    first = SurveyResponse.objects.get(ticket=resolved)
    assert first.customer_id == resolved.customer_id and first.rating is None
    surveys.answer(first, actor=customer_user, rating=5)
    services.reopen(resolved, actor=customer_user, reason="又坏了")
    services.resolve(resolved, actor=engineer)
    assert SurveyResponse.objects.filter(ticket=resolved).count() == 2
    assert _survey(resolved).pk != first.pk


def test_reopened_and_resolved_before_an_answer_keeps_one_open_survey(resolved, engineer, customer_user):
    services.reopen(resolved, actor=customer_user, reason="又坏了")
    services.resolve(resolved, actor=engineer)
    assert SurveyResponse.objects.filter(ticket=resolved).count() == 1


def test_other_status_changes_ask_nothing(customer_a, engineer):
    ticket = make_ticket(customer_a, status="in_progress")
    services.change_status(ticket, actor=engineer, status="waiting_customer")
    assert not SurveyResponse.objects.exists()


def test_a_merged_ticket_is_not_asked_about(customer_a, engineer):
    ticket, into = make_ticket(customer_a, status="in_progress"), make_ticket(customer_a, status="in_progress")
    services.merge(ticket, actor=engineer, into=into)
    ticket.refresh_from_db()
    assert ticket.status == "closed"
    assert not SurveyResponse.objects.exists()


# --- answering ------------------------------------------------------------------------------------

def test_the_customer_sees_the_card_and_answers_in_the_portal_with_one_audit_row(client, resolved, customer_user):
    survey = _survey(resolved)
    client.force_login(customer_user)
    page = client.get(reverse("servicedesk:portal_detail", args=[resolved.pk])).content.decode()
    assert 'id="survey-form"' in page and 'id="survey-rate-5"' in page
    response = client.post(reverse("servicedesk:portal_survey_answer", args=[survey.pk]),
                           {"rating": "4", "comment": "很快"})
    assert response.status_code == 302
    survey.refresh_from_db()
    assert (survey.rating, survey.comment, survey.answered_by) == (4, "很快", customer_user)
    rows = _audit_rows(survey)
    assert len(rows) == 1 and rows[0].additional_data == {"action": "answer"} and rows[0].actor == customer_user
    page = client.get(reverse("servicedesk:portal_detail", args=[resolved.pk])).content.decode()
    assert 'id="survey-form"' not in page and "4/5" in page


def test_staff_see_the_answer_on_the_desk_and_the_portal_but_get_no_form(client, resolved, customer_user,
                                                                           engineer):
    surveys.answer(_survey(resolved), actor=customer_user, rating=3, comment="还可以")
    client.force_login(engineer)
    desk = client.get(reverse("servicedesk:ticket_detail", args=[resolved.pk])).content.decode()
    assert 'id="ticket-survey"' in desk and "3/5" in desk and "还可以" in desk
    portal = client.get(reverse("servicedesk:portal_detail", args=[resolved.pk])).content.decode()
    assert 'id="survey-answer"' in portal and 'id="survey-form"' not in portal


def test_the_signed_link_answers_without_login_once(resolved):
    survey = _survey(resolved)
    link = surveys.survey_link(survey)
    anonymous = Client(enforce_csrf_checks=True)  # a browser's rules: the page's own form must work
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = anonymous.get("/" + path)
    assert page.status_code == 200 and 'id="survey-form"' in page.content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    answered = anonymous.post("/" + path, {"rating": "5", "comment": "谢谢", "csrfmiddlewaretoken": csrf})
    assert answered.status_code == 200 and 'id="survey-done"' in answered.content.decode()
    survey.refresh_from_db()
    assert survey.rating == 5 and survey.answered_by is None
    rows = _audit_rows(survey)
    assert len(rows) == 1 and rows[0].actor is None
    again = anonymous.post("/" + path, {"rating": "1", "csrfmiddlewaretoken": csrf})
    assert again.status_code == 400 and 'id="survey-done"' in again.content.decode()
    survey.refresh_from_db()
    assert survey.rating == 5 and len(_audit_rows(survey)) == 1


def test_answering_twice_is_refused(resolved, customer_user):
    survey = _survey(resolved)
    surveys.answer(survey, actor=customer_user, rating=4)
    with pytest.raises(ValidationError) as refused:
        surveys.answer(SurveyResponse.objects.get(pk=survey.pk), actor=None, rating=1)
    assert "rating" in refused.value.message_dict
    survey.refresh_from_db()
    assert survey.rating == 4 and len(_audit_rows(survey)) == 1


@pytest.mark.parametrize("rating", [0, 6, "five", None])
def test_a_rating_outside_1_to_5_is_named_in_the_persons_language(resolved, customer_user, rating):
    survey = _survey(resolved)
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        surveys.answer(survey, actor=customer_user, rating=rating)
    assert list(refused.value.message_dict) == ["rating"]
    # Translated when raised, in the language active then (the zh-Hans text is in the catalogue
    # once /tmp/msg/survey.json is merged into opsdesk/locale).
    with translation.override("zh-hans"):
        assert refused.value.message_dict["rating"] == [translation.gettext("Choose a rating from 1 to 5.")]
    survey.refresh_from_db()
    assert survey.answered_at is None and _audit_rows(survey) == []


def test_the_api_refuses_a_bad_rating_with_a_400_naming_it(resolved, admin):
    survey = _survey(resolved)
    response = api_client_for(admin).post(f"/api/servicedesk/surveys/{survey.pk}/answer/", {"rating": 9},
                                          format="json")
    assert response.status_code == 400
    assert "rating" in response.json()
    survey.refresh_from_db()
    assert survey.answered_at is None


@pytest.mark.parametrize("tamper", ["expired", "tampered", "other-salt"])
def test_an_expired_or_tampered_link_shows_a_clear_page_and_writes_nothing(resolved, monkeypatch, tamper):
    from django.core import signing

    survey = _survey(resolved)
    token = surveys.survey_link(survey).rstrip("/").rsplit("/", 1)[1]
    if tamper == "expired":
        monkeypatch.setattr(surveys, "LINK_MAX_AGE", -1)
        expected = 410
    elif tamper == "tampered":
        token = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
        expected = 404
    else:
        token = signing.dumps({"s": survey.pk}, salt="opsdesk.monitoring.alert-link", compress=True)
        expected = 404
    url = reverse("servicedesk:survey_link", args=[token])
    response = Client().post(url, {"rating": "5"})
    assert response.status_code == expected
    assert 'id="link-problem"' in response.content.decode()
    survey.refresh_from_db()
    assert survey.answered_at is None and _audit_rows(survey) == []


# --- a low rating ---------------------------------------------------------------------------------

def test_a_low_rating_tells_the_assignee_and_writes_the_event(client, resolved, engineer, customer_user):
    ContactMethod.objects.create(user=engineer, kind="channel", channel=make_channel(None, kind="webhook"),
                                 min_severity="info")
    before = Notification.objects.filter(recipient=engineer).count()
    surveys.answer(_survey(resolved), actor=customer_user, rating=2, comment="等了太久")
    event = resolved.entries.get(event="survey_low")
    assert event.public is False and event.data["rating"] == 2
    told = list(Notification.objects.filter(recipient=engineer).order_by("pk")[before:])
    assert len(told) == 1 and f"#{resolved.pk}" in told[0].title and "2/5" in told[0].title
    engineer.language = "en"
    engineer.save(update_fields=["language"])
    client.force_login(engineer)
    desk = client.get(reverse("servicedesk:ticket_detail", args=[resolved.pk])).content.decode()
    assert "Low satisfaction rating: 2/5" in desk


def test_a_good_rating_writes_no_event_and_tells_nobody(resolved, engineer, customer_user):
    ContactMethod.objects.create(user=engineer, kind="channel", channel=make_channel(None, kind="webhook"),
                                 min_severity="info")
    before = Notification.objects.filter(recipient=engineer).count()
    surveys.answer(_survey(resolved), actor=customer_user, rating=3)
    assert not resolved.entries.filter(event="survey_low").exists()
    assert Notification.objects.filter(recipient=engineer).count() == before


# --- tenancy --------------------------------------------------------------------------------------

def test_another_customers_user_gets_404_in_the_ui_the_api_and_the_portal(client, resolved, other_customer_user):
    survey = _survey(resolved)
    entry = registry.get(SurveyResponse)
    client.force_login(other_customer_user)
    assert client.get(reverse(entry.url_name("detail"), args=[survey.pk])).status_code == 404
    assert client.post(reverse(entry.url_name("action"), args=[survey.pk, "answer"]),
                       {"rating": "1"}).status_code == 404
    assert client.post(reverse("servicedesk:portal_survey_answer", args=[survey.pk]),
                       {"rating": "1"}).status_code == 404
    api = api_client_for(other_customer_user, write=False)
    assert api.get(f"/api/servicedesk/surveys/{survey.pk}/").status_code == 404
    listed = api.get("/api/servicedesk/surveys/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert all(row["id"] != survey.pk for row in rows)
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_the_customer_lists_only_their_own_surveys(client, resolved, customer_user, customer_b):
    other = _survey(make_ticket(customer_b, status="resolved"))
    client.force_login(customer_user)
    page = client.get(reverse(registry.get(SurveyResponse).url_name("list"))).content.decode()
    assert f"#{resolved.pk}" in page and f"#{other.ticket_id}" not in page


# --- mail and dashboard ---------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_resolved_mail_carries_the_survey_link(customer_a, engineer, language):
    make_mail_channel(smtp_host="127.0.0.1", smtp_port=9, smtp_security="none")
    ticket = make_ticket(customer_a, requester_email="pat@alpha.example.com", language=language)
    services.take(ticket, actor=engineer)
    services.resolve(ticket, actor=engineer, solution="done")
    row = OutgoingMail.objects.get(ticket=ticket, kind="resolved")
    marker = reverse("servicedesk:survey_link", args=["X"]).rsplit("X", 1)[0]
    assert marker in row.body_text and marker in row.body_html
    token = row.body_text.split(marker, 1)[1].split()[0].rstrip("/")
    assert surveys.read_link(token) == _survey(ticket).pk


def test_the_csat_panel_counts_only_the_customers_a_person_serves(rf, resolved, customer_user, customer_b, engineer,
                                                                  manager):
    surveys.answer(_survey(resolved), actor=customer_user, rating=4)
    other = _survey(make_ticket(customer_b, status="resolved"))
    surveys.answer(other, actor=None, rating=1)
    make_ticket(customer_b, status="resolved")  # sent, not answered

    def panel(user) -> dict:
        request = rf.get("/")
        request.user = user
        (widget,) = csat_widgets(request)
        return widget

    assert panel(engineer)["value"] == "4.0 / 5" and "1 of 1" in panel(engineer)["title"]
    assert panel(manager)["value"] == "2.5 / 5" and "2 of 3" in panel(manager)["title"]
    request = rf.get("/")
    request.user = customer_user
    assert csat_widgets(request) == []


def test_the_generic_answer_action_page_offers_the_form(client, resolved, customer_user):
    survey = _survey(resolved)
    client.force_login(customer_user)
    detail = client.get(reverse(registry.get(SurveyResponse).url_name("detail"), args=[survey.pk]))
    assert detail.status_code == 200 and 'id="action-answer"' in detail.content.decode()
