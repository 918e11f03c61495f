"""The project dashboard: funnel and subtree sums, agreement, attention flags, workers, and a
query count that does not grow with the number of synsets."""

from __future__ import annotations

from datetime import timedelta

import krippendorff
import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboards.selectors import (
    alpha_from_sums,
    project_dashboard,
    project_synset_stats,
    project_workers,
    synset_alpha,
)
from labeling.models import Item, ProjectSynset, Vote, WorkerProfile
from synsets.models import SynsetClosure, SynsetEdge
from tests.factories import project_make, voted_project, votes_cast, workers_make

pytestmark = pytest.mark.django_db


def _dashboard_queries(client, project) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("dashboards:project", args=[project.slug]))
    assert response.status_code == 200
    return len(queries)


def test_dashboard_query_count_does_not_grow_with_synsets(client, admin_user):
    client.force_login(admin_user)
    small, _ = voted_project(synsets=2, images=4, name="small")
    large, _ = voted_project(synsets=10, images=4, name="large")
    assert _dashboard_queries(client, small) == _dashboard_queries(client, large)


def test_dashboard_stays_within_its_query_budget(client, admin_user, django_assert_max_num_queries):
    client.force_login(admin_user)
    project, _ = voted_project(synsets=10, images=4)
    with django_assert_max_num_queries(20):
        client.get(reverse("dashboards:project", args=[project.slug]))


def test_funnel_counts_and_subtree_sums_follow_the_tree():
    project, _ = voted_project(synsets=3, images=6)
    parent, child, other = project.project_synsets.values_list("synset_id", flat=True)
    SynsetEdge.objects.create(parent_id=parent, child_id=child, kind="hypernym")
    SynsetClosure.objects.create(ancestor_id=parent, descendant_id=child, distance=1)

    data = project_dashboard(project=project)

    cell = data["synsets"][child]
    assert (cell.candidates, cell.unique, cell.voted) == (6, 6, 6)
    assert (cell.accepted, cell.rejected, cell.undecided) == (3, 2, 1)
    assert data["synsets"][parent].subtree.accepted == 6
    assert data["synsets"][parent].subtree_size == 2
    assert data["synsets"][other].subtree.accepted == 3
    roots = [node.stats.wnid for node in data["tree"]]
    assert sorted(roots) == sorted([parent, other])
    tree_parent = next(n for n in data["tree"] if n.stats.wnid == parent)
    assert [c.stats.wnid for c in tree_parent.children] == [child]
    assert data["total"].accepted == 9
    assert sum(n for _, n in data["throughput"]) == 3 * 3 * 6
    # Built-in HITs: 3 workers × 3 synsets × 5 cents over 9 accepted images.
    assert data["costs"]["cents_per_accepted_image"] == pytest.approx(45 / 9, abs=0.01)


def test_tree_page_shows_collapsible_nodes_with_counts(client, admin_user):
    client.force_login(admin_user)
    project, _ = voted_project(synsets=2, images=4)
    html = client.get(reverse("dashboards:project", args=[project.slug])).content.decode()
    assert html.count('<details class="node"') == 2
    assert "<svg" in html and "chart-funnel" in html and "chart-throughput" in html


def test_sql_alpha_equals_the_krippendorff_library():
    counts = [(3, 0), (0, 3), (2, 1), (1, 2), (4, 1), (1, 0), (2, 2)]
    pairable = [c for c in counts if sum(c) >= 2]
    expected = krippendorff.alpha(
        value_counts=np.array(pairable, dtype=float), level_of_measurement="nominal"
    )
    disagreement = sum(2 * y * n / (y + n - 1) for y, n in pairable)
    yes, no = sum(y for y, _ in pairable), sum(n for _, n in pairable)
    got = alpha_from_sums(pairable=yes + no, yes=yes, no=no, disagreement=disagreement)
    assert got == pytest.approx(expected, abs=1e-9)
    assert synset_alpha(counts) == pytest.approx(expected, abs=1e-9)


def test_dashboard_alpha_from_the_database_matches_the_library():
    project, _ = voted_project(synsets=1, images=6)
    wnid = project.project_synsets.get().synset_id
    counts = list(
        Item.objects.filter(project=project, synset_id=wnid).values_list("yes_votes", "no_votes")
    )
    stats = project_synset_stats(project=project)[wnid]
    assert stats.alpha == pytest.approx(synset_alpha(counts), abs=1e-9)


def test_stalled_hard_and_disputed_synsets_need_attention():
    project = project_make(synsets=3, images=12, target_per_synset=10)
    stalled, disputed, hard = project.project_synsets.values_list("synset_id", flat=True)
    workers = workers_make(4)
    long_ago = timezone.now() - timedelta(days=3)
    first = Item.objects.filter(project=project, synset_id=stalled).order_by("pk").first()
    votes_cast(
        project=project, workers=workers, wnid=stalled, labels={first.pk: [True]}, at=long_ago
    )
    coin = {
        item.pk: [i % 2 == 0, i % 2 == 1, i % 3 == 0, i % 3 != 0]
        for i, item in enumerate(Item.objects.filter(project=project, synset_id=disputed))
    }
    votes_cast(project=project, workers=workers, wnid=disputed, labels=coin)
    ProjectSynset.objects.filter(project=project, synset_id=hard).update(
        difficulty=0.8, confidence_table={"p_good": [[0.5, 0.4], [0.7, None]]}
    )

    stats = project_synset_stats(project=project)

    assert any(flag.startswith("stalled") for flag in stats[stalled].attention)
    assert any(flag.startswith("low agreement") for flag in stats[disputed].attention)
    assert stats[hard].table_reaches is False
    assert any("never reaches" in flag for flag in stats[hard].attention)
    assert any("difficulty" in flag for flag in stats[hard].attention)


def test_workers_accuracy_agreement_speed_and_earnings():
    project, workers = voted_project(synsets=2, images=6)
    # The worker's HITs went through the vote core, which created the profile; give it a record.
    WorkerProfile.objects.filter(user=workers[0]).update(gold_correct=4, gold_total=5, flags={
        "too_fast": {"count": 2}, "recent_constant": ["yes"],
    })  # fmt: skip
    rows = {r.username: r for r in project_workers(project=project)}
    row = rows[workers[0].username]
    assert row.hits == 2 and row.earnings_cents == 2 * project.reward_cents_per_hit
    assert row.gold_accuracy == pytest.approx(4.5 / 6)
    # 10 decided images, all voted with the consensus; 12 s over 6 images a HIT.
    assert (row.agree, row.decided) == (10, 10)
    assert row.median_ms_per_image == pytest.approx(2000)
    assert row.flags == {"too_fast": 2}
    assert rows[workers[1].username].gold_accuracy is None


def test_block_and_unblock_from_the_workers_page(client, admin_user):
    client.force_login(admin_user)
    project, workers = voted_project(synsets=1, images=4)
    project.owners.add(admin_user)  # blocking is the project owners' call
    url = reverse("dashboards:worker-block", args=[project.slug, workers[0].pk])

    assert client.post(url, {"reason": "   "}).status_code == 302
    assert not WorkerProfile.objects.filter(user=workers[0], blocked=True).exists()

    client.post(url, {"reason": "copies answers"})  # asks for confirmation first
    assert not WorkerProfile.objects.filter(user=workers[0], blocked=True).exists()
    client.post(url, {"reason": "copies answers", "confirmed": "yes"})
    profile = WorkerProfile.objects.get(user=workers[0])
    assert profile.blocked and profile.blocked_reason.startswith("copies answers")
    assert not Vote.objects.filter(worker=workers[0], status=Vote.Status.CONFIRMED).exists()
    page = client.get(reverse("dashboards:workers", args=[project.slug])).content.decode()
    assert "copies answers" in page

    client.post(reverse("dashboards:worker-unblock", args=[project.slug, workers[0].pk]))
    assert not WorkerProfile.objects.get(user=workers[0]).blocked


def test_synset_page_shows_table_agreement_and_galleries(client, admin_user):
    client.force_login(admin_user)
    project, _ = voted_project(synsets=1, images=6)
    wnid = project.project_synsets.get().synset_id
    response = client.get(reverse("dashboards:synset", args=[project.slug, wnid]))
    html = response.content.decode()
    assert response.context["alpha"] is not None
    assert "chart-confidence" in html and "chart-votes" in html
    accepted = dict(response.context["galleries"])["accepted"]
    assert len(accepted) == 3
    assert reverse("candidates:thumbnail", args=[accepted[0]["candidate_id"]]) in html


def _pilot_votes(n_items: int, n_good: int, seed: int) -> list[list[bool]]:
    """10 votes per image from 19 workers about 89% right (None: the worker did not vote)."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(n_items):
        truth = index < n_good
        voters = set(rng.choice(19, size=10, replace=False).tolist())
        rows.append(
            [(truth if rng.random() < 0.89 else not truth) if w in voters else None
             for w in range(19)]
        )  # fmt: skip
    return rows


def test_synset_page_says_what_the_calibration_stands_on_and_how_gold_helps(client, admin_user):
    """A small pilot synset (20 seed images, 5 good, 10 votes each, no gold): positives with
    clear votes reach the cap undecided, and the page says why and links to the synset's gold
    review; gold answers join the calibration at the next recompute."""
    from consensus.recompute import synset_recompute_consensus
    from labeling.gold import gold_review_submit
    from tests.factories import hit_answered

    client.force_login(admin_user)
    project = project_make(synsets=1, images=26, seed_size=20, seed_votes=10, max_votes=10)
    project_synset = project.project_synsets.get()
    items = list(Item.objects.filter(project=project).order_by("pk"))
    seed_items = [item for item in items if item.is_seed]
    assert len(seed_items) == 20
    workers = workers_make(19, prefix="pilot")
    rows = _pilot_votes(20, 5, seed=5)
    for w, worker in enumerate(workers):
        labels = {item.pk: row[w] for item, row in zip(seed_items, rows, strict=True)
                  if row[w] is not None}  # fmt: skip
        hit_answered(project=project, worker=worker, labels=labels)
    synset_recompute_consensus(project_synset_id=project_synset.pk)
    url = reverse("dashboards:synset", args=[project.slug, project_synset.synset_id])
    response = client.get(url)
    html = response.content.decode()
    assert response.context["calibration"] == {
        "reference_images": 20, "gold_images": 0, "model": response.context["calibration"]["model"]
    }  # fmt: skip
    undecided = response.context["counts"]["undecided"]
    assert undecided > 0
    assert f"{undecided} image{'s' if undecided > 1 else ''} reached the vote cap undecided" in html
    gold_link = reverse("labeling:project-gold", args=[project.slug])
    assert f"{gold_link}?mode=items&amp;synset={project_synset.synset_id}" in html

    # The curator marks the six images outside the seed as gold (two yes, four no); the
    # workers answer them as they would in their HITs; the recompute counts them.
    others = [item for item in items if not item.is_seed]
    gold_review_submit(project=project, reviewer=admin_user,
                       yes=[i.pk for i in others[:2]], no=[i.pk for i in others[2:]])  # fmt: skip
    for worker in workers[:12]:
        hit_answered(project=project, worker=worker,
                     labels={item.pk: index < 2 for index, item in enumerate(others)})  # fmt: skip
    synset_recompute_consensus(project_synset_id=project_synset.pk)
    response = client.get(url)
    assert response.context["calibration"]["gold_images"] == 6
    assert "6</b> gold images" in response.content.decode()
