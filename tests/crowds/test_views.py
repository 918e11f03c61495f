"""crowds/views.py: the framed MTurk HIT page (preview, accept, submit), its frame and
post-target restrictions, signed images, the staff crowd page and the costs API."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from crowds.models import CrowdAssignment
from labeling.models import Vote

SANDBOX = "https://workersandbox.mturk.com"


def _hit_url(hit, assignment="ASSIGN0001", worker="AWORKER1", submit_to=SANDBOX):
    return reverse("crowds:mturk-hit") + (
        f"?assignmentId={assignment}&hitId={hit.hit_id}&workerId={worker}&turkSubmitTo={submit_to}"
    )


@pytest.mark.django_db
def test_preview_shows_a_sample_with_submit_disabled_and_may_be_framed_by_mturk_only(
    client, published_hit
):
    response = client.get(
        reverse("crowds:mturk-hit")
        + f"?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId={published_hit.hit_id}"
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'id="submit-button"[^>]*disabled', html)
    assert "X-Frame-Options" not in response
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors https://www.mturk.com https://workersandbox.mturk.com" in csp
    assert not CrowdAssignment.objects.exists()


@pytest.mark.django_db
def test_other_pages_stay_unframable(client, published_hit):
    response = client.get(reverse("home"))
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_accept_then_submit_stores_pending_votes_and_posts_to_mturk(published_hit):
    client = Client(enforce_csrf_checks=True)  # framed cross-site: no CSRF cookie, token instead
    page = client.get(_hit_url(published_hit))
    assert page.status_code == 200 and "X-Frame-Options" not in page
    token = re.search(r'name="token" value="([^"]+)"', page.content.decode()).group(1)
    crowd = CrowdAssignment.objects.get()
    first = crowd.assignment.assignment_items.order_by("position").first().item_id

    form = {"token": token, "selected": str(first), "duration_ms": "9000"}
    done = client.post(reverse("crowds:mturk-submit"), form)

    html = done.content.decode()
    assert done.status_code == 200
    assert f'action="{SANDBOX}/mturk/externalSubmit"' in html
    assert 'name="assignmentId" value="ASSIGN0001"' in html
    crowd.refresh_from_db()
    assert f'name="digest" value="{crowd.answer_digest}"' in html
    assert "form-action 'self' https://www.mturk.com" in done["Content-Security-Policy"]
    assert set(Vote.objects.values_list("status", flat=True)) == {Vote.Status.PENDING}
    assert Vote.objects.get(item_id=first).label is True

    # A replayed post (double click, back button) stores nothing new and re-posts to MTurk.
    again = client.post(reverse("crowds:mturk-submit"), form)
    assert again.status_code == 200 and Vote.objects.count() == 6


@pytest.mark.django_db
@pytest.mark.parametrize(
    "submit_to",
    ["https://evil.example.org", "https://www.mturk.com.evil.org", "javascript:alert(1)", ""],
)
def test_turk_submit_to_must_be_an_mturk_origin(client, published_hit, submit_to):
    response = client.get(_hit_url(published_hit, submit_to=submit_to))
    assert response.status_code == 400
    assert not CrowdAssignment.objects.exists()


@pytest.mark.django_db
def test_a_forged_submit_token_is_refused(client, published_hit):
    response = client.post(reverse("crowds:mturk-submit"), {"token": "x", "selected": "1"})
    assert response.status_code == 400


@pytest.mark.django_db
def test_unknown_hit_is_not_served(client, published_hit):
    assert client.get(reverse("crowds:mturk-hit") + "?hitId=NOPE").status_code == 404


@pytest.mark.django_db
def test_images_need_a_valid_signature(client):
    assert client.get(reverse("crowds:image", args=["forged"])).status_code == 404


@pytest.mark.django_db
def test_crowd_page_is_staff_only_and_saves_backend_and_budget(
    admin_user, annotator, published_hit
):
    project = published_hit.project
    project.owners.add(admin_user)  # only a project's owners (and superusers) change it
    url = reverse("crowds:project", args=[project.slug])
    worker = Client()
    worker.force_login(annotator)
    assert worker.get(url).status_code == 302  # to the admin login

    staff = Client(enforce_csrf_checks=True)
    staff.force_login(admin_user)
    page = staff.get(url)
    assert page.status_code == 200 and b"closes permanently on 2026-09-30" in page.content
    # CSRF-protected: a post without the token is refused.
    form = {"action": "settings", "crowd_backend": "panel", "budget_dollars": "25.00"}
    assert staff.post(url, form).status_code == 403
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert staff.post(url, {**form, "csrfmiddlewaretoken": token}).status_code == 302
    project.refresh_from_db()
    assert (project.crowd_backend, project.budget_cents) == ("panel", 2500)


@pytest.mark.django_db
def test_budget_cannot_drop_below_what_is_committed(admin_user, published_hit):
    published_hit.project.owners.add(admin_user)
    client = Client()
    client.force_login(admin_user)
    url = reverse("crowds:project", args=[published_hit.project.slug])
    response = client.post(
        url, {"action": "settings", "crowd_backend": "mturk", "budget_dollars": "0.50"}, follow=True
    )
    assert b"already committed" in response.content


@pytest.mark.django_db
def test_costs_api_is_staff_only(api_client, admin_user, annotator, published_hit):
    url = reverse("api-project-costs", args=[published_hit.project.slug])
    api_client.force_authenticate(annotator)
    assert api_client.get(url).status_code == 403
    api_client.force_authenticate(admin_user)
    data = api_client.get(url).json()
    assert data["committed_cents"] == 108 and data["budget_cents"] == 10_000
    assert data["crowd_backend"] == "mturk"
