"""Issue 13 finding 8: opening a panel link while signed in silently replaced the session (login
CSRF by GET). Now the link asks first, and the switch is a CSRF-checked POST."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from crowds.models import PanelParticipant
from crowds.panels import panel_configure
from labeling.roles import annotator_create
from tests.labeling.project_factories import project_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def panel():
    project = project_make(images=8, images_per_hit=4)
    project.budget_cents = 1000
    project.save(update_fields=["budget_cents"])
    return panel_configure(project=project, completion_code="DONE1", hits_per_participant=1,
                           extra_params=["STUDY_ID"])  # fmt: skip


def test_a_panel_link_does_not_replace_a_signed_in_session_by_get(panel):
    annotator = annotator_create(username="victim", password="pw-victim-123")
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    url = reverse("crowds:panel-entry", args=[panel.token])

    page = client.get(url + "?PROLIFIC_PID=attacker&STUDY_ID=s1")

    assert page.status_code == 200
    assert b"Sign out and start the study" in page.content
    assert client.session[SESSION_KEY] == str(annotator.pk)
    assert not PanelParticipant.objects.exists()

    # A forged cross-site POST (no CSRF token) changes nothing either.
    forged = client.post(url, {"PROLIFIC_PID": "attacker"})
    assert forged.status_code == 403
    assert client.session[SESSION_KEY] == str(annotator.pk)

    # The person's own confirmation (the form, with its token) switches accounts.
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1)
    confirmed = client.post(url, {"csrfmiddlewaretoken": token.decode(),
                                  "PROLIFIC_PID": "attacker", "STUDY_ID": "s1"})  # fmt: skip
    assert confirmed.status_code == 302 and confirmed.url.endswith("/work/")
    participant = PanelParticipant.objects.get()
    assert participant.external_id == "attacker" and participant.params == {"STUDY_ID": "s1"}
    assert client.session[SESSION_KEY] == str(participant.user_id)


def test_an_anonymous_visitor_starts_at_once_and_a_returning_participant_resumes(panel):
    client = Client()
    url = reverse("crowds:panel-entry", args=[panel.token]) + "?PROLIFIC_PID=p-1"
    first = client.get(url)
    assert first.status_code == 302 and first.url.endswith("/work/")
    again = client.get(url)  # the same participant, signed in: no question asked
    assert again.status_code == 302 and again.url.endswith("/work/")
    assert PanelParticipant.objects.count() == 1
