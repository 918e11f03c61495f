"""Blocking a worker from the workers page asks for confirmation first; unblocking brings their
votes back into consensus (counts restored, synsets recomputed)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labeling.models import Item, ProjectSynset, Vote, WorkerProfile
from tests.factories import voted_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(client, admin_user):
    project, workers = voted_project(synsets=1, images=4)
    project.owners.add(admin_user)  # blocking is the project owners' call
    client.force_login(admin_user)
    return project, workers[0]


def _counts(project):
    return sorted(Item.objects.filter(project=project).values_list("pk", "yes_votes", "no_votes"))


def test_block_asks_for_confirmation_before_anything_changes(client, setup):
    project, worker = setup
    url = reverse("dashboards:worker-block", args=[project.slug, worker.pk])

    response = client.post(url, {"reason": "clicks at random"})

    html = response.content.decode()
    assert response.status_code == 200 and 'id="block-confirm"' in html
    assert "<strong>4</strong> counted votes" in html and "clicks at random" in html
    assert not WorkerProfile.objects.filter(user=worker, blocked=True).exists()
    assert not Vote.objects.filter(worker=worker, status=Vote.Status.EXCLUDED).exists()


def test_unblock_brings_the_votes_back_and_recomputes(
    client, setup, django_capture_on_commit_callbacks, monkeypatch
):
    project, worker = setup
    enqueued = []
    monkeypatch.setattr(
        "consensus.tasks.recompute_synset.apply_async",
        lambda args, **kwargs: enqueued.append(args[0]),
    )
    before = _counts(project)
    block = reverse("dashboards:worker-block", args=[project.slug, worker.pk])
    client.post(block, {"reason": "spam", "confirmed": "yes"})
    assert Vote.objects.filter(worker=worker, status=Vote.Status.EXCLUDED).count() == 4
    assert _counts(project) != before
    ProjectSynset.objects.filter(project=project).update(needs_recompute=False)

    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("dashboards:worker-unblock", args=[project.slug, worker.pk]), follow=True
        )

    assert "4 of their votes count again" in response.content.decode()
    assert not Vote.objects.filter(worker=worker, status=Vote.Status.EXCLUDED).exists()
    assert _counts(project) == before
    # Once the unblock commits, consensus flags the synset and enqueues its recompute.
    project_synset = ProjectSynset.objects.get(project=project)
    assert project_synset.needs_recompute and enqueued == [project_synset.pk]
    assert not WorkerProfile.objects.get(user=worker).blocked


def test_costs_by_synset_show_names(client, setup):
    project, _ = setup
    html = client.get(reverse("crowds:costs", args=[project.slug])).content.decode()
    wnid, lemmas = project.project_synsets.values_list("synset_id", "synset__lemmas").get()
    row = html[html.index(f'data-wnid="{wnid}"') :].split("</tr>")[0]
    assert lemmas[0].replace("_", " ") in row and wnid in row
    api = client.get(reverse("api-project-costs", args=[project.slug])).json()
    assert api["synsets"][0]["name"] == lemmas[0].replace("_", " ")
