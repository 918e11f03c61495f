"""labeling/api.py and labeling/views.py: permissions, next HIT, submit, stats, projects."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse

from labeling.models import Assignment, Item, Project, Vote
from tests.factories import SynsetFactory, project_make


@pytest.fixture
def project(db):
    return project_make(images=12, gold=2, images_per_hit=4, gold_per_hit=1, with_files=True)


@pytest.mark.django_db
def test_anonymous_cannot_use_the_worker_api(api_client, project):
    response = api_client.post(reverse("api-hit-next", args=[project.slug]))
    assert response.status_code == 403


@pytest.mark.django_db
def test_signed_in_non_annotator_cannot_label(api_client, django_user_model, project):
    api_client.force_authenticate(django_user_model.objects.create_user(username="nobody"))
    assert api_client.post(reverse("api-hit-next", args=[project.slug])).status_code == 403


@pytest.mark.django_db
def test_next_hit_hides_gold_and_submit_records_votes(api_client, annotator, project):
    api_client.force_authenticate(annotator)

    hit = api_client.post(reverse("api-hit-next", args=[project.slug]), {}, format="json").json()
    item_ids = [item["id"] for item in hit["items"]]
    response = api_client.post(
        hit["submit_url"],
        {"selected": item_ids[:2], "unselected": item_ids[2:], "duration_ms": 9000},
        format="json",
    )

    assert len(item_ids) == 5
    assert all(set(item) == {"id", "thumbnail_url", "image_url"} for item in hit["items"])
    assert "is_gold" not in str(hit)
    assert hit["synset"]["wikipedia_url"].startswith("https://en.wikipedia.org/")
    assert response.status_code == 200, response.content
    assert response.json()["votes_recorded"] == 5
    yes = Vote.objects.filter(worker=annotator, label=True).values_list("item_id", flat=True)
    assert set(yes) == set(item_ids[:2])


@pytest.mark.django_db
def test_submit_with_wrong_items_is_a_400(api_client, annotator, project):
    api_client.force_authenticate(annotator)
    hit = api_client.post(reverse("api-hit-next", args=[project.slug])).json()

    response = api_client.post(
        hit["submit_url"], {"selected": [], "unselected": [1], "duration_ms": 5}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_items"


@pytest.mark.django_db
def test_no_work_left_is_a_204(api_client, annotator):
    empty = project_make(images=0)
    api_client.force_authenticate(annotator)
    assert api_client.post(reverse("api-hit-next", args=[empty.slug])).status_code == 204


@pytest.mark.django_db
def test_my_stats(api_client, annotator, project):
    api_client.force_authenticate(annotator)
    hit = api_client.post(reverse("api-hit-next", args=[project.slug])).json()
    ids = [item["id"] for item in hit["items"]]
    api_client.post(
        hit["submit_url"], {"selected": ids, "unselected": [], "duration_ms": 9000}, format="json"
    )

    stats = api_client.get(reverse("api-me-stats")).json()

    assert stats["hits_submitted"] == 1 and stats["votes"] == 5
    assert stats["earnings_cents"] == project.reward_cents_per_hit
    assert stats["gold_answers"] == 1


@pytest.mark.django_db
def test_annotator_cannot_use_the_staff_project_api(api_client, annotator, project):
    api_client.force_authenticate(annotator)
    assert api_client.get(reverse("api-project-list")).status_code == 403
    response = api_client.patch(
        reverse("api-project-detail", args=[project.slug]), {"name": "x"}, format="json"
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_staff_creates_a_project_and_owners_edit_it(api_client, admin_user, django_user_model):
    synset = SynsetFactory()
    api_client.force_authenticate(admin_user)

    created = api_client.post(
        reverse("api-project-list"),
        {"name": "Dogs", "synsets": [synset.wnid], "images_per_hit": 12},
        format="json",
    )
    slug = created.json()["slug"]
    edited = api_client.patch(
        reverse("api-project-detail", args=[slug]), {"seed_votes": 12}, format="json"
    )
    too_few = api_client.patch(
        reverse("api-project-detail", args=[slug]), {"seed_votes": 3}, format="json"
    )
    other_staff = django_user_model.objects.create_user(username="staff2", is_staff=True)
    api_client.force_authenticate(other_staff)
    forbidden = api_client.patch(
        reverse("api-project-detail", args=[slug]), {"name": "mine"}, format="json"
    )

    assert created.status_code == 201, created.content
    assert created.json()["synsets"] == [synset.wnid]
    assert created.json()["owners"] == [admin_user.username]
    assert edited.status_code == 200 and Project.objects.get(slug=slug).seed_votes == 12
    assert too_few.status_code == 400
    assert forbidden.status_code == 403


@pytest.mark.django_db
def test_hit_endpoints_are_in_the_openapi_schema(client, annotator):
    # The schema is for signed-in users (README: who may do what).
    client.force_login(annotator)
    schema = client.get(reverse("schema")).content.decode()
    assert "/api/projects/{slug}/hits/next/" in schema
    assert "/api/assignments/{assignment_id}/submit/" in schema
    assert "/api/me/stats/" in schema
    assert "/api/assignments/{assignment_id}/release/" in schema


@pytest.mark.django_db
def test_grid_page_requires_login(client, project):
    response = client.get(reverse("labeling:grid", args=[project.slug]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_grid_page_is_forbidden_to_non_annotators(client, django_user_model, project):
    client.force_login(django_user_model.objects.create_user(username="nobody"))
    assert client.get(reverse("labeling:grid", args=[project.slug])).status_code == 403


@pytest.mark.django_db
def test_grid_page_renders_the_first_hit(client, annotator, project):
    client.force_login(annotator)

    response = client.get(reverse("labeling:grid", args=[project.slug]))

    html = response.content.decode()
    assignment = Assignment.objects.get(worker=annotator)
    assert response.status_code == 200
    assert html.count('aria-pressed="false"') == 5
    assert "regardless of occlusion, number of objects and clutter" in html
    assert 'id="first-hit"' in html and str(assignment.pk) in html
    assert "labeling/grid.js" in html


@pytest.mark.django_db
def test_thumbnails_are_served_as_jpeg_with_nosniff(client, annotator, project):
    client.force_login(annotator)
    candidate_id = project.items.first().candidate_id

    response = client.get(reverse("labeling:thumbnail", args=[candidate_id]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


@pytest.mark.django_db
def test_thumbnails_need_a_labeler(client, django_user_model, project):
    candidate_id = project.items.first().candidate_id
    assert client.get(reverse("labeling:thumbnail", args=[candidate_id])).status_code == 302
    client.force_login(django_user_model.objects.create_user(username="nobody"))
    assert client.get(reverse("labeling:thumbnail", args=[candidate_id])).status_code == 403


@pytest.mark.django_db
def test_submit_to_a_closed_project_is_refused_for_good_and_the_hit_can_be_released(
    api_client, annotator, project
):
    # Given a HIT on screen and the project closed meanwhile
    api_client.force_authenticate(annotator)
    hit = api_client.post(reverse("api-hit-next", args=[project.slug])).json()
    Project.objects.filter(pk=project.pk).update(active=False)
    ids = [item["id"] for item in hit["items"]]

    # When the worker submits, then releases the HIT as the page offers
    response = api_client.post(
        hit["submit_url"], {"selected": ids, "unselected": [], "duration_ms": 9000}, format="json"
    )
    released = api_client.post(hit["release_url"])

    # Then the refusal is final and worded for a person, no vote is stored, the lease is gone
    assert response.status_code == 409
    assert response.json()["code"] == "project_closed"
    assert response.json()["final"] is True
    assert "closed" in response.json()["detail"]
    assert not Vote.objects.filter(worker=annotator).exists()
    assert released.status_code == 200 and released.json() == {"released": True}
    assert Assignment.objects.get(pk=hit["id"]).status == Assignment.Status.EXPIRED


@pytest.mark.django_db
def test_a_worker_cannot_release_someone_elses_hit(api_client, annotator, project):
    from labeling.roles import annotator_create

    api_client.force_authenticate(annotator)
    hit = api_client.post(reverse("api-hit-next", args=[project.slug])).json()
    api_client.force_authenticate(annotator_create(username="intruder", password=None))

    response = api_client.post(hit["release_url"])

    assert response.json() == {"released": False}
    assert Assignment.objects.get(pk=hit["id"]).status == Assignment.Status.LEASED


def _statements(captured) -> list[str]:
    return [
        q["sql"] for q in captured.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
    ]  # fmt: skip


def _savepoints(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SAVEPOINT")]


@pytest.mark.parametrize("images_per_hit", [6, 24])
@pytest.mark.django_db
def test_prefetching_next_hit_request_costs_ten_statements_whatever_the_hit_size(
    client, annotator, images_per_hit
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Given an annotator signed in with a session (as the grid page is) holding one HIT
    project = project_make(images=60, gold=4, images_per_hit=images_per_hit, gold_per_hit=2)
    client.force_login(annotator)
    url = reverse("api-hit-next", args=[project.slug])
    on_screen = client.post(url, {}, content_type="application/json").json()

    # When the page prefetches the next one
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, {"exclude": [on_screen["id"]]}, content_type="application/json")

    # Then the whole request — session, the user with their role, the project with the
    # worker's ownership and membership, the scheduler's seven statements — is ten statements
    # (eleven with the role asked apart, thirteen before): the new HIT's grid comes back from
    # the lease and gold statements, not from a re-read, and the synset's card (the same synset
    # as the HIT on screen) from the cache
    assert response.status_code == 200
    hit = response.json()
    assert hit["id"] != on_screen["id"]
    statements = _statements(captured)
    assert len(statements) == 10, statements
    assert not [sql for sql in statements if '"synsets_synset"' in sql]
    assert hit["synset"] == on_screen["synset"]
    # and the grid shown is the one stored, in its order, with each image's own files
    stored = list(
        Assignment.objects.get(pk=hit["id"])
        .assignment_items.select_related("item")
        .order_by("position")
    )
    assert [item["id"] for item in hit["items"]] == [ai.item_id for ai in stored]
    candidates = [ai.item.candidate_id for ai in stored]
    assert [item["thumbnail_url"] for item in hit["items"]] == [
        reverse("labeling:thumbnail", args=[pk]) for pk in candidates
    ]
    assert [item["image_url"] for item in hit["items"]] == [
        reverse("labeling:image", args=[pk]) for pk in candidates
    ]


@pytest.mark.django_db
def test_the_live_hit_is_returned_again_with_the_same_grid(client, annotator):
    # Given a HIT on screen
    project = project_make(images=60, gold=4, images_per_hit=6, gold_per_hit=2)
    client.force_login(annotator)
    url = reverse("api-hit-next", args=[project.slug])
    first = client.post(url, {}, content_type="application/json").json()

    # When the page is reloaded and asks again without excluding it
    again = client.post(url, {}, content_type="application/json").json()

    # Then the same HIT comes back, read from the database, identical
    assert again == first


@pytest.mark.parametrize("images_per_hit", [6, 24])
@pytest.mark.django_db
def test_submitting_a_hit_costs_eleven_statements_with_one_update_per_table(
    client, annotator, django_capture_on_commit_callbacks, images_per_hit
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Given an annotator with a HIT of 6 or 24 images and 2 gold on screen
    project = project_make(images=60, gold=4, images_per_hit=images_per_hit, gold_per_hit=2)
    client.force_login(annotator)
    hit = client.post(
        reverse("api-hit-next", args=[project.slug]), {}, content_type="application/json"
    ).json()
    ids = [item["id"] for item in hit["items"]]
    body = {"selected": ids[:3], "unselected": ids[3:], "duration_ms": 40_000}

    # When the page submits it (after-commit hooks included: the synset's recompute is flagged)
    with (
        mock.patch("consensus.tasks.recompute_synset.apply_async") as enqueue,
        CaptureQueriesContext(connection) as captured,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(hit["submit_url"], body, content_type="application/json")

    # Then every image's counters, leases and votes needed move in one UPDATE, the worker's
    # flags and gold score in one more, and the whole request — with flagging the synset for a
    # recompute after the commit — is eleven statements (twelve with the user's role asked
    # apart, sixteen before, twenty before that):
    # the project check is made by the statement that locks the assignment, the HIT's images
    # are locked with their places in it, the synset's row is read with the assignment
    assert response.status_code == 200
    assert response.json()["votes_recorded"] == images_per_hit + 2
    statements = _statements(captured)
    assert len(statements) == 11, statements
    updates = [sql.split(" SET ")[0] for sql in statements if sql.startswith("UPDATE")]
    assert sorted(updates) == sorted([
        'UPDATE "labeling_item"', 'UPDATE "labeling_workerprofile"',
        'UPDATE "labeling_assignment"', 'UPDATE "labeling_projectsynset"',
    ])  # fmt: skip
    # and the votes are stored without a savepoint of their own: the only one is the
    # submission's transaction itself (a savepoint here, inside the test's transaction)
    assert len(_savepoints(captured)) == 1, _savepoints(captured)
    assert enqueue.call_count == 1
    items = Item.objects.filter(pk__in=ids)
    assert sum(i.yes_votes + i.no_votes for i in items) == images_per_hit + 2
    assert sum(i.active_leases for i in items) == 0


def _hit_submitted(api_client, project, *, yes: int) -> dict:
    hit = api_client.post(reverse("api-hit-next", args=[project.slug])).json()
    ids = [item["id"] for item in hit["items"]]
    response = api_client.post(
        hit["submit_url"],
        {"selected": ids[:yes], "unselected": ids[yes:], "duration_ms": 9000},
        format="json",
    )
    assert response.status_code == 200, response.content
    return hit


@pytest.mark.django_db
def test_my_stats_count_every_project_and_only_counted_votes(api_client, annotator):
    from labeling.hits.selectors import worker_stats
    from labeling.models import WorkerProfile

    # Given a worker with two HITs in one project and one in another (5 images each, 1 gold),
    # one of whose votes was later excluded, and a reward of 5 and 7 cents per HIT
    first = project_make(images=12, gold=3, images_per_hit=4, gold_per_hit=1, name="first")
    second = project_make(
        images=12, gold=2, images_per_hit=4, gold_per_hit=1, name="second", reward_cents_per_hit=7
    )
    api_client.force_authenticate(annotator)
    for project in (first, first, second):
        _hit_submitted(api_client, project, yes=2)
    excluded = Vote.objects.filter(worker=annotator).order_by("pk").first()
    Vote.objects.filter(pk=excluded.pk).update(status=Vote.Status.EXCLUDED)
    profile = WorkerProfile.objects.get(user=annotator)

    # When the worker asks for their stats, over all projects and over one
    stats = api_client.get(reverse("api-me-stats")).json()
    in_second = worker_stats(worker=annotator, project=second)

    # Then they are the sums over their submitted HITs and votes, as the aggregates were
    assert stats == {
        "hits_submitted": 3,
        "votes": 15,
        "votes_counted": 14,
        "gold_answers": 3,
        "gold_accuracy": profile.gold_accuracy,
        "earnings_cents": 2 * first.reward_cents_per_hit + 7,
        "blocked": False,
    }
    assert (in_second["hits_submitted"], in_second["votes"], in_second["earnings_cents"]) == (
        1, 5, 7,
    )  # fmt: skip


@pytest.mark.django_db
def test_a_submission_carries_the_workers_new_totals_as_the_stats_give_them(
    api_client, annotator
):
    # Given a worker with one HIT submitted in a project paying 5 cents
    first = project_make(images=12, gold=3, images_per_hit=4, gold_per_hit=1, name="first")
    second = project_make(
        images=12, gold=2, images_per_hit=4, gold_per_hit=1, name="second", reward_cents_per_hit=7
    )
    api_client.force_authenticate(annotator)
    _hit_submitted(api_client, first, yes=1)

    # When they submit a HIT of a second project paying 7 cents, then post it again
    hit = api_client.post(reverse("api-hit-next", args=[second.slug])).json()
    ids = [item["id"] for item in hit["items"]]
    body = {"selected": ids[:2], "unselected": ids[2:], "duration_ms": 9000}
    result = api_client.post(hit["submit_url"], body, format="json").json()
    replay = api_client.post(hit["submit_url"], body, format="json").json()

    # Then both answers carry the totals over every project, this HIT counted once, and they
    # are what the stats request (which the grid page no longer sends per HIT) says
    stats = api_client.get(reverse("api-me-stats")).json()
    expected = (2, first.reward_cents_per_hit + 7)
    for answer in (result, replay, stats):
        assert (answer["hits_submitted"], answer["earnings_cents"]) == expected
    # and the stored result keeps no totals: a later replay reads them afresh
    _hit_submitted(api_client, first, yes=0)
    later = api_client.post(hit["submit_url"], body, format="json").json()
    assert later["hits_submitted"] == 3
    assert "hits_submitted" not in Assignment.objects.get(pk=hit["id"]).result


@pytest.mark.django_db
def test_stats_of_a_worker_without_any_hit_are_zero(api_client, annotator):
    api_client.force_authenticate(annotator)

    stats = api_client.get(reverse("api-me-stats")).json()

    assert stats == {
        "hits_submitted": 0, "votes": 0, "votes_counted": 0, "gold_answers": 0,
        "gold_accuracy": None, "earnings_cents": 0, "blocked": False,
    }  # fmt: skip


@pytest.mark.django_db
def test_my_stats_cost_three_statements_whatever_the_history(client, annotator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Given a signed-in worker with no HIT, then with three submitted
    project = project_make(images=30, gold=3, images_per_hit=4, gold_per_hit=1)
    client.force_login(annotator)
    counts = []
    for hits in (0, 3):
        for _ in range(hits):
            hit = client.post(
                reverse("api-hit-next", args=[project.slug]), {}, content_type="application/json"
            ).json()
            ids = [item["id"] for item in hit["items"]]
            body = {"selected": ids, "unselected": [], "duration_ms": 9000}
            client.post(hit["submit_url"], body, content_type="application/json")

        # When the page asks for the stats
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("api-me-stats"))
        counts.append(len(_statements(captured)))
        assert response.status_code == 200

    # Then session, the user with their role, and one statement for all the stats (four with
    # the role asked apart, six before)
    assert counts == [3, 3]
    assert response.json()["hits_submitted"] == 3


@pytest.mark.parametrize("body_valid", [True, False])
@pytest.mark.django_db
def test_a_worker_removed_from_the_project_cannot_submit_their_hit(
    api_client, annotator, body_valid
):
    from labeling.models import ProjectMember

    # Given an invited annotator holding a HIT of a project closed to other annotators
    project = project_make(images=12, images_per_hit=4, open_to_all_annotators=False)
    ProjectMember.objects.create(project=project, user=annotator)
    api_client.force_authenticate(annotator)
    hit = api_client.post(reverse("api-hit-next", args=[project.slug])).json()
    ids = [item["id"] for item in hit["items"]]

    # When they are removed from it, then post their answers (well-formed or not)
    ProjectMember.objects.filter(project=project, user=annotator).delete()
    body = {"selected": ids, "unselected": [], "duration_ms": 9000} if body_valid else {}
    response = api_client.post(hit["submit_url"], body, format="json")

    # Then the project check refuses it before the body is looked at, and nothing is stored
    assert response.status_code == 403
    assert response.json() == {"detail": "you are not an annotator of this project"}
    assert not Vote.objects.exists()
    assert Assignment.objects.get(pk=hit["id"]).status == Assignment.Status.LEASED
    # and the next HIT is refused as well
    assert api_client.post(reverse("api-hit-next", args=[project.slug])).status_code == 403


@pytest.mark.django_db
def test_a_project_owner_who_is_no_annotator_may_submit(api_client, admin_user):
    # Given a staff owner of a project closed to annotators, who is in no annotator group
    project = project_make(images=12, images_per_hit=4, open_to_all_annotators=False)
    project.owners.add(admin_user)
    api_client.force_authenticate(admin_user)

    # When they try a HIT out
    hit = _hit_submitted(api_client, project, yes=1)

    # Then it is stored
    assert Vote.objects.filter(assignment_id=hit["id"]).count() == 4


@pytest.mark.django_db
def test_answering_an_image_twice_is_refused_and_stores_nothing(api_client, annotator, project):
    # Given a HIT on screen, one of whose images the worker has somehow answered already
    api_client.force_authenticate(annotator)
    hit = api_client.post(reverse("api-hit-next", args=[project.slug])).json()
    ids = [item["id"] for item in hit["items"]]
    Vote.objects.create(item_id=ids[0], worker=annotator, assignment_id=hit["id"], label=True)

    # When the worker submits it
    response = api_client.post(
        hit["submit_url"], {"selected": ids, "unselected": [], "duration_ms": 9000}, format="json"
    )

    # Then the unique (image, worker) constraint refuses it for good, without a savepoint of
    # the vote store's own: the submission's transaction rolls back as a whole
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_items"
    assert Vote.objects.filter(worker=annotator).count() == 1
    assert Assignment.objects.get(pk=hit["id"]).status == Assignment.Status.LEASED
    assert sum(Item.objects.filter(pk__in=ids).values_list("yes_votes", flat=True)) == 0
