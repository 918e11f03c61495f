"""The precision audit: samples stratified over tree depth, the reviewer grid's batches and
submissions, and precision with Wilson intervals wired to the reviewers' verdicts."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from dashboards.audit.maths import wilson_interval
from dashboards.audit.selectors import audit_batch_next, audit_report
from dashboards.audit.services import audit_review_record, audit_run_create
from dashboards.models import AuditSample
from labeling.models import Item
from synsets.models import Synset
from tests.factories import voted_project

pytestmark = pytest.mark.django_db


def _project_with_depths(depths: list[int], images: int = 8):
    project, _ = voted_project(synsets=len(depths), images=images)
    for wnid, depth in zip(
        project.project_synsets.order_by("synset_id").values_list("synset_id", flat=True),
        depths,
        strict=True,
    ):
        Synset.objects.filter(wnid=wnid).update(depth=depth)
    return project


def test_sample_is_stratified_over_depth_and_takes_accepted_images_only(admin_user):
    project = _project_with_depths([3, 3, 3, 5, 7])
    run = audit_run_create(
        project=project, created_by=admin_user, synsets_per_depth=2, images_per_synset=3
    )
    samples = list(AuditSample.objects.filter(run=run).select_related("item"))
    by_depth: dict[int, set[str]] = {}
    for sample in samples:
        by_depth.setdefault(sample.depth, set()).add(sample.synset_id)
        assert sample.item.state == Item.State.ACCEPTED and not sample.item.is_gold
    assert {d: len(w) for d, w in by_depth.items()} == {3: 2, 5: 1, 7: 1}
    assert len(samples) == 4 * 3
    again = audit_run_create(
        project=project, created_by=admin_user, synsets_per_depth=2, images_per_synset=3
    )
    assert sorted(s.item_id for s in again.samples.all()) == sorted(s.item_id for s in samples)


def test_precision_and_wilson_interval_follow_the_verdicts(admin_user):
    project = _project_with_depths([2, 4], images=10)
    run = audit_run_create(project=project, created_by=admin_user, images_per_synset=5)
    first, second = sorted({s.synset_id for s in run.samples.all()})
    ids_first = list(run.samples.filter(synset_id=first).values_list("pk", flat=True))
    ids_second = list(run.samples.filter(synset_id=second).values_list("pk", flat=True))
    # 4 of 5 correct in the first synset, 5 of 5 in the second.
    audit_review_record(
        run=run, reviewer=admin_user, correct_ids=ids_first[:4] + ids_second,
        incorrect_ids=ids_first[4:],
    )  # fmt: skip

    report = audit_report(run=run)

    assert (report.per_synset[first].correct, report.per_synset[first].n) == (4, 5)
    assert (report.per_synset[first].low, report.per_synset[first].high) == pytest.approx(
        wilson_interval(4, 5)
    )
    assert (report.overall.correct, report.overall.n) == (9, 10)
    assert (report.overall.low, report.overall.high) == pytest.approx(wilson_interval(9, 10))
    assert report.per_synset[second].high == 1.0


def test_first_verdict_stands(admin_user):
    project = _project_with_depths([2])
    run = audit_run_create(project=project, created_by=admin_user, images_per_synset=2)
    ids = list(run.samples.values_list("pk", flat=True))
    assert audit_review_record(run=run, reviewer=admin_user, correct_ids=ids, incorrect_ids=[]) == 2
    assert audit_review_record(run=run, reviewer=admin_user, correct_ids=[], incorrect_ids=ids) == 0
    assert audit_report(run=run).overall.correct == 2


def test_reviewer_grid_round_trip_through_the_json_endpoints(client, admin_user):
    client.force_login(admin_user)
    project = _project_with_depths([2, 3])
    run = audit_run_create(project=project, created_by=admin_user, images_per_synset=3)
    page = client.get(reverse("dashboards:audit-review", args=[project.slug, run.pk]))
    assert (
        page.status_code == 200 and b'id="first-hit"' in page.content and b"grid.js" in page.content
    )
    batch = page.context["hit"]
    assert len(batch["items"]) == 3
    # Prefetch (exclude the batch on screen) gives the other synset's batch.
    following = client.post(
        reverse("api-audit-next", args=[run.pk]),
        json.dumps({"exclude": [batch["id"]]}),
        content_type="application/json",
    ).json()
    assert following["synset"]["wnid"] != batch["synset"]["wnid"]

    ids = [item["id"] for item in batch["items"]]
    response = client.post(
        batch["submit_url"],
        json.dumps({"selected": ids[:2], "unselected": ids[2:], "duration_ms": 900}),
        content_type="application/json",
    )
    assert response.json() == {"votes_recorded": 3}
    stats = client.get(reverse("api-audit-stats", args=[run.pk])).json()
    assert stats["reviewed"] == 3 and stats["precision"] == pytest.approx(2 / 3)
    assert stats["interval"] == pytest.approx(list(wilson_interval(2, 3)))

    report_page = client.get(reverse("dashboards:audit", args=[project.slug, run.pk]))
    assert report_page.context["report"].overall.n == 3
    assert f'data-low="{wilson_interval(2, 3)[0]}"' in report_page.content.decode()


def test_batches_run_out(admin_user):
    project = _project_with_depths([2])
    run = audit_run_create(project=project, created_by=admin_user, images_per_synset=2)
    batch = audit_batch_next(run=run)
    ids = [item["id"] for item in batch["items"]]
    audit_review_record(run=run, reviewer=admin_user, correct_ids=ids, incorrect_ids=[])
    assert audit_batch_next(run=run) is None


def test_audit_form_starts_a_run(client, admin_user):
    client.force_login(admin_user)
    project = _project_with_depths([2])
    project.owners.add(admin_user)  # starting an audit is the project owners' call
    response = client.post(
        reverse("dashboards:audits", args=[project.slug]),
        {"synsets_per_depth": "80", "images_per_synset": "2", "seed": "s"},
    )
    run = project.audit_runs.get()
    assert response.status_code == 302 and run.samples.count() == 2 and run.seed == "s"
