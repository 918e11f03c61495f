"""labeling/invites.py and the built-in crowd's pages: invite links (create, sign up through
them: valid, expired, tampered, CSRF) and a worker's own stats page."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client
from django.urls import reverse

from labeling.hits.scheduler import hit_next_for_worker
from labeling.hits.submission import assignment_submit
from labeling.invites import (
    InviteExpired,
    InviteInvalid,
    invite_create,
    invite_resolve,
)
from labeling.models import WorkerProfile
from labeling.roles import is_annotator
from tests.factories import project_make

GOOD_PASSWORD = "velvet-otter-lantern-42"


@pytest.fixture
def project(db):
    return project_make(images=12, gold=2, images_per_hit=4, gold_per_hit=1)


def _signup(client, token, *, username="newbie", password=GOOD_PASSWORD, password2=None):
    return client.post(
        reverse("labeling:invite", args=[token]),
        {"username": username, "password1": password, "password2": password2 or password},
    )


def _expired_token(project, monkeypatch) -> str:
    """A one-day invite signed two days ago."""
    two_days_ago = int(time.time()) - 2 * 86400
    monkeypatch.setattr(
        signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(two_days_ago)
    )
    token = invite_create(project=project, days=1)
    monkeypatch.undo()
    return token


# -- the service -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_invite_resolves_to_its_project_and_expiry(project):
    invite = invite_resolve(token=invite_create(project=project, days=3))

    assert invite.project == project
    assert (invite.expires_at - invite.project.created_at).total_seconds() > 3 * 86400 - 60


@pytest.mark.django_db
def test_two_invites_for_a_project_differ(project):
    assert invite_create(project=project) != invite_create(project=project)


@pytest.mark.django_db
def test_tampered_invite_is_invalid(project):
    token = invite_create(project=project)
    payload, timestamp, signature = token.rsplit(":", 2)

    with pytest.raises(InviteInvalid):
        invite_resolve(token=f"{payload}x:{timestamp}:{signature}")
    with pytest.raises(InviteInvalid):
        invite_resolve(token=f"{payload}:{timestamp}:{signature[:-2]}AA")


@pytest.mark.django_db
def test_invite_signed_with_another_salt_is_invalid(project):
    forged = signing.TimestampSigner(salt="something-else").sign_object(
        {"p": project.pk, "a": 10**9, "n": "x"}, compress=True
    )

    with pytest.raises(InviteInvalid):
        invite_resolve(token=forged)


@pytest.mark.django_db
def test_lifetime_cannot_be_extended_by_editing_the_payload(project, monkeypatch):
    token = _expired_token(project, monkeypatch)
    _, timestamp, signature = token.rsplit(":", 2)
    longer = signing.dumps({"p": project.pk, "a": 10**9, "n": "x"}, compress=True).split(":")[0]

    with pytest.raises(InviteExpired):
        invite_resolve(token=token)
    with pytest.raises(InviteInvalid):
        invite_resolve(token=f"{longer}:{timestamp}:{signature}")


@pytest.mark.django_db
def test_invite_to_an_inactive_project_is_invalid(project):
    token = invite_create(project=project)
    project.active = False
    project.save()

    with pytest.raises(InviteInvalid, match="closed"):
        invite_resolve(token=token)


@pytest.mark.django_db
def test_invite_lifetime_is_bounded(project):
    with pytest.raises(ValueError, match="1 to 90 days"):
        invite_create(project=project, days=365)


# -- sign-up page ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sign_up_through_a_valid_invite_makes_an_annotator(client, project):
    token = invite_create(project=project)

    page = client.get(reverse("labeling:invite", args=[token]))
    response = _signup(client, token)

    assert page.status_code == 200
    assert project.name in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == reverse("labeling:grid", args=[project.slug])
    user = get_user_model().objects.get(username="newbie")
    assert is_annotator(user)
    assert not user.is_staff
    assert user.check_password(GOOD_PASSWORD)
    # signed in: the grid serves them a HIT
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_sign_up_through_an_expired_invite_is_refused(client, project, monkeypatch):
    token = _expired_token(project, monkeypatch)

    page = client.get(reverse("labeling:invite", args=[token]))
    response = _signup(client, token)

    assert page.status_code == 410
    assert "expired" in page.content.decode()
    assert response.status_code == 410
    assert not get_user_model().objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_sign_up_through_a_tampered_invite_is_refused(client, project):
    token = invite_create(project=project)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    response = _signup(client, tampered)

    assert response.status_code == 404
    assert not get_user_model().objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_sign_up_applies_the_password_validators(client, project):
    token = invite_create(project=project)

    response = _signup(client, token, password="12345678")

    assert response.status_code == 200
    body = response.content.decode()
    assert "too common" in body or "entirely numeric" in body
    assert not get_user_model().objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_sign_up_refuses_a_taken_username(client, project, annotator):
    token = invite_create(project=project)

    response = _signup(client, token, username=annotator.username)

    assert response.status_code == 200
    assert "already exists" in response.content.decode()


@pytest.mark.django_db
def test_sign_up_without_a_csrf_token_is_forbidden(project):
    client = Client(enforce_csrf_checks=True)
    token = invite_create(project=project)

    response = _signup(client, token)

    assert response.status_code == 403
    assert not get_user_model().objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_sign_up_with_the_csrf_token_of_the_form_works(project):
    client = Client(enforce_csrf_checks=True)
    token = invite_create(project=project)
    client.get(reverse("labeling:invite", args=[token]))
    csrf = client.cookies["csrftoken"].value

    response = client.post(
        reverse("labeling:invite", args=[token]),
        {"username": "newbie", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD,
         "csrfmiddlewaretoken": csrf},
    )  # fmt: skip

    assert response.status_code == 302


# -- creating invites --------------------------------------------------------------------------


@pytest.mark.django_db
def test_project_owner_creates_an_invite_through_the_api(api_client, admin_user, project):
    project.owners.add(admin_user)
    api_client.force_authenticate(admin_user)

    response = api_client.post(
        reverse("api-project-invite", args=[project.slug]), {"days": 7}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert "/invite/" in body["url"]
    assert invite_resolve(token=body["token"]).project == project


@pytest.mark.django_db
def test_staff_who_do_not_own_the_project_cannot_invite(api_client, admin_user, project):
    api_client.force_authenticate(admin_user)

    response = api_client.post(reverse("api-project-invite", args=[project.slug]), {})

    assert response.status_code == 403


@pytest.mark.django_db
def test_annotators_cannot_invite(api_client, annotator, project):
    api_client.force_authenticate(annotator)

    response = api_client.post(reverse("api-project-invite", args=[project.slug]), {})

    assert response.status_code == 403


@pytest.mark.django_db
def test_owner_creates_an_invite_on_the_page(client, admin_user, project):
    project.owners.add(admin_user)
    client.force_login(admin_user)

    response = client.post(reverse("labeling:invite-create", args=[project.slug]), {"days": "5"})

    assert response.status_code == 200
    link = response.context["link"]
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert invite_resolve(token=token).project == project


@pytest.mark.django_db
def test_annotator_cannot_open_the_invite_page(client, annotator, project):
    client.force_login(annotator)

    assert client.get(reverse("labeling:invite-create", args=[project.slug])).status_code == 403


# -- my stats page -----------------------------------------------------------------------------


def _label_one_hit(project, worker, *, all_yes: bool, duration_ms: int = 100):
    assignment = hit_next_for_worker(project=project, worker=worker)
    item_ids = list(assignment.items.values_list("pk", flat=True))
    selected, unselected = (item_ids, []) if all_yes else ([], item_ids)
    return assignment_submit(
        assignment_id=assignment.pk, worker=worker, selected=selected, unselected=unselected,
        duration_ms=duration_ms,
    )  # fmt: skip


@pytest.mark.django_db
def test_my_stats_page_shows_hits_votes_gold_earnings_and_flags(client, annotator, project):
    _label_one_hit(project, annotator, all_yes=True)
    _label_one_hit(project, annotator, all_yes=False)
    client.force_login(annotator)

    response = client.get(reverse("labeling:me"))

    assert response.status_code == 200
    stats = response.context["stats"]
    assert stats["hits_submitted"] == 2
    assert stats["votes"] == 10
    profile = WorkerProfile.objects.get(user=annotator)
    assert stats["gold_accuracy"] == pytest.approx(profile.gold_accuracy)
    body = response.content.decode()
    assert response.context["earnings"] in body
    assert response.context["gold_percent"] in body
    assert 'data-flag="too_fast"' in body
    assert project.name in body


@pytest.mark.django_db
def test_my_stats_page_for_a_new_worker(client, annotator):
    client.force_login(annotator)

    response = client.get(reverse("labeling:me"))

    assert response.status_code == 200
    assert "not measured yet" in response.content.decode()


@pytest.mark.django_db
def test_my_stats_page_needs_an_annotator(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="visitor"))

    assert client.get(reverse("labeling:me")).status_code == 403


@pytest.mark.django_db
def test_my_stats_page_needs_a_login(client):
    response = client.get(reverse("labeling:me"))

    assert response.status_code == 302
    assert reverse("login") in response["Location"]
