"""A database created before the pipeline stages became apps (labeling's 0004 was the head, and the
crowd, export and audit models belonged to labeling) migrates forward with every row in place.

The database is built at the old head with the historical models, filled with a project, its
items, an assignment with votes, crowd, payment, panel, audit and export rows, then migrated to
today's head; every row must be readable through today's models, unchanged, and the moved
models' content types (so their permissions) must follow them to their new apps.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

# The migration graph as it stood before the move.
OLD_HEAD = [
    ("labeling", "0004_audit_export"),
    ("crowds", None),
    ("exports", None),
    ("dashboards", None),
]

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def _head() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _fill_old_database(apps) -> dict:
    """Rows of every moved model (and what they hang on) through the historical models."""
    now = timezone.now()
    User = apps.get_model("auth", "User")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    Synset = apps.get_model("synsets", "Synset")
    Candidate = apps.get_model("candidates", "Candidate")
    get = lambda name: apps.get_model("labeling", name)  # noqa: E731

    boss = User.objects.create(username="boss-old", is_staff=True)
    worker = User.objects.create(username="mturk:A1OLDWORKER")
    synset = Synset.objects.create(wnid="n99000001", lemmas=["migrated thing"], depth=3)
    candidates = [
        Candidate.objects.create(
            synset=synset, status="stored", source="folder",
            image_url=f"file:///old/{n}.jpg", url_hash=f"{n:064d}", sha256=f"{n:064x}",
        )  # fmt: skip
        for n in range(3)
    ]
    project = get("Project").objects.create(
        name="Before the move", slug="before-the-move", crowd_backend="mturk", budget_cents=5000
    )
    project_synset = get("ProjectSynset").objects.create(
        project=project, synset=synset, accepted_count=1, rejected_count=1
    )
    items = [
        get("Item").objects.create(
            project=project, synset=synset, candidate=candidate, state=state,
            yes_votes=yes, no_votes=1 - yes, posterior=0.97 if yes else 0.02,
        )  # fmt: skip
        for candidate, state, yes in zip(
            candidates, ["accepted", "rejected", "pending"], [1, 0, 1], strict=True
        )
    ]
    get("WorkerProfile").objects.create(user=worker, gold_correct=3, gold_total=4)
    assignment = get("Assignment").objects.create(
        project=project, worker=worker, synset=synset, status="submitted",
        lease_expires_at=now + timedelta(minutes=10), submitted_at=now, duration_ms=9000,
        reward_cents=7, result={"votes_recorded": 3, "counted": True},
    )  # fmt: skip
    for position, item in enumerate(items):
        get("AssignmentItem").objects.create(assignment=assignment, item=item, position=position)
        get("Vote").objects.create(
            item=item, worker=worker, assignment=assignment, label=bool(item.yes_votes)
        )
    publication = get("CrowdPublication").objects.create(
        project=project, title="Does the image show it?", description="Verify images.",
        reward_cents=7, committed_cents=2000, hit_type_id="OLDTYPE", created_by=boss,
    )  # fmt: skip
    hit = get("CrowdHIT").objects.create(
        publication=publication, project=project, synset=synset, hit_id="OLDHIT1",
        max_assignments=9, reward_cents=7,
    )  # fmt: skip
    panel = get("PanelConfig").objects.create(project=project, completion_code="C0DE")
    participant_user = User.objects.create(username="panel1:P-OLD")
    participant = get("PanelParticipant").objects.create(
        panel=panel, external_id="P-OLD", user=participant_user, hits_submitted=2
    )
    crowd = get("CrowdAssignment").objects.create(
        backend="mturk", assignment=assignment, hit=hit, external_assignment_id="OLDASSIGN",
        external_worker_id="A1OLDWORKER", state="confirmed", payment="approved",
        gold_correct=1, gold_total=1, submitted_at=now, confirmed_at=now,
    )  # fmt: skip
    payment = get("CrowdPayment").objects.create(
        crowd_assignment=crowd, kind="reward", status="sent", amount_cents=7, fee_cents=2,
        token="old-reward-token", sent_at=now,
    )  # fmt: skip
    run = get("AuditRun").objects.create(project=project, created_by=boss, seed="42")
    sample = get("AuditSample").objects.create(
        run=run, item=items[0], synset=synset, depth=3, correct=True, reviewer=boss,
        reviewed_at=now,
    )  # fmt: skip
    job = get("ExportJob").objects.create(
        project=project, created_by=boss, format="webdataset", status="done",
        classes_total=1, classes_done=1, images_done=1, summary={"images": 1},
    )  # fmt: skip
    # A permission on a moved model, granted before the move, as an admin would have.
    content_type, _ = ContentType.objects.get_or_create(app_label="labeling", model="crowdhit")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename="view_crowdhit", defaults={"name": "Can view crowd hit"}
    )
    group = Group.objects.create(name="crowd reviewers (old)")
    group.permissions.add(permission)
    return {
        "project": project.pk, "project_synset": project_synset.pk,
        "items": [item.pk for item in items], "assignment": assignment.pk,
        "publication": publication.pk, "hit": hit.pk, "panel": panel.pk,
        "panel_token": panel.token, "participant": participant.pk, "crowd": crowd.pk,
        "payment": payment.pk, "run": run.pk, "sample": sample.pk, "job": job.pk,
        "group": group.pk,
    }  # fmt: skip


def test_a_database_from_before_the_move_keeps_every_row():
    head = _head()
    try:
        old = _migrate(OLD_HEAD)
        ids = _fill_old_database(old.loader.project_state(OLD_HEAD[:1]).apps)

        _migrate(head)

        from django.contrib.auth.models import Group

        from crowds.models import (
            CrowdAssignment,
            CrowdHIT,
            CrowdPayment,
            CrowdPublication,
            PanelConfig,
            PanelParticipant,
        )
        from dashboards.models import AuditRun, AuditSample
        from exports.models import ExportJob
        from labeling.models import Assignment, Item, Project, ProjectSynset, Vote, WorkerProfile

        project = Project.objects.get(pk=ids["project"])
        assert (project.slug, project.crowd_backend, project.budget_cents) == (
            "before-the-move", "mturk", 5000,
        )  # fmt: skip
        assert ProjectSynset.objects.get(pk=ids["project_synset"]).accepted_count == 1
        items = Item.objects.filter(pk__in=ids["items"]).order_by("pk")
        assert [(i.state, i.yes_votes, i.no_votes) for i in items] == [
            ("accepted", 1, 0), ("rejected", 0, 1), ("pending", 1, 0),
        ]  # fmt: skip
        assignment = Assignment.objects.get(pk=ids["assignment"])
        recorded = assignment.result["votes_recorded"]
        assert (assignment.status, assignment.reward_cents, recorded) == ("submitted", 7, 3)
        labels = Vote.objects.filter(assignment=assignment).values_list("label", flat=True)
        assert sorted(labels) == [False, True, True]
        assert WorkerProfile.objects.get(user=assignment.worker).gold_total == 4

        # The moved models read the same rows, through the same relations.
        publication = CrowdPublication.objects.get(pk=ids["publication"])
        assert (publication.project_id, publication.committed_cents) == (project.pk, 2000)
        hit = CrowdHIT.objects.get(pk=ids["hit"])
        assert (hit.publication_id, hit.hit_id) == (publication.pk, "OLDHIT1")
        panel = PanelConfig.objects.get(pk=ids["panel"])
        assert (panel.project_id, panel.token) == (project.pk, ids["panel_token"])
        assert project.panel == panel
        assert PanelParticipant.objects.get(pk=ids["participant"]).panel_id == panel.pk
        crowd = CrowdAssignment.objects.get(pk=ids["crowd"])
        assert (crowd.assignment_id, crowd.hit_id, crowd.state) == (
            assignment.pk, hit.pk, "confirmed",
        )  # fmt: skip
        assert assignment.crowd == crowd
        payment = CrowdPayment.objects.get(pk=ids["payment"])
        assert (payment.crowd_assignment_id, payment.amount_cents, payment.fee_cents) == (
            crowd.pk, 7, 2,
        )  # fmt: skip
        run = AuditRun.objects.get(pk=ids["run"])
        assert list(run.samples.values_list("pk", "correct")) == [(ids["sample"], True)]
        assert AuditSample.objects.get(pk=ids["sample"]).item_id == ids["items"][0]
        job = ExportJob.objects.get(pk=ids["job"])
        assert (job.format, job.status, job.progress) == ("webdataset", "done", 1.0)
        assert list(project.export_jobs.all()) == [job]

        # New rows get fresh keys from the same sequences.
        assert CrowdHIT.objects.create(
            publication=publication, project=project, hit_id="NEWHIT", max_assignments=3,
            reward_cents=5,
        ).pk > hit.pk  # fmt: skip

        # The permission granted on the old labeling model now names the crowds app.
        group = Group.objects.get(pk=ids["group"])
        assert [
            (p.content_type.app_label, p.codename) for p in group.permissions.all()
        ] == [("crowds", "view_crowdhit")]
    finally:
        _migrate(head)
