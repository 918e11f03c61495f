"""``backup_votes`` (labeling/backup.py): export, empty the database, restore, recompute — the
consensus comes out identical."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from consensus.recompute import synset_recompute_consensus
from labeling.models import Item, ProjectMember, ProjectSynset, Vote
from tests.factories import UserFactory, project_with_votes

pytestmark = pytest.mark.django_db


def _decisions() -> dict[tuple[str, str], tuple[str, float | None, int]]:
    return {
        (slug, url_hash): (state, None if p is None else round(p, 12), needed)
        for slug, url_hash, state, p, needed in Item.objects.values_list(
            "project__slug", "candidate__url_hash", "state", "posterior", "votes_needed"
        )
    }


def _summaries() -> dict[tuple[str, str], tuple]:
    return {
        (ps.project.slug, ps.synset_id): (
            ps.accepted_count, ps.rejected_count, ps.undecided_count,
            None if ps.difficulty is None else round(ps.difficulty, 12),
        )
        for ps in ProjectSynset.objects.select_related("project")
    }  # fmt: skip


def test_export_flush_restore_recompute_gives_identical_consensus(tmp_path):
    # Given two projects (EM and ImageNet-table consensus, one with gold) with votes, recomputed
    project_with_votes(images=40, workers=6, seed=11, gold=4)
    project, _ = project_with_votes(images=30, workers=10, seed=12)
    project.consensus_method = "imagenet_table"
    project.seed_size = 10
    project.save()
    for ps in ProjectSynset.objects.all():
        synset_recompute_consensus(project_synset_id=ps.pk)
    decisions, summaries = _decisions(), _summaries()
    votes = sorted(Vote.objects.values_list("item__candidate__url_hash", "worker__username",
                                            "label", "status"))  # fmt: skip
    assert any(state != "pending" for state, _, _ in decisions.values())

    # When the votes are exported, the database emptied, and the file restored
    backup = tmp_path / "votes.jsonl.gz"
    call_command("backup_votes", "export", str(backup))
    with connection.cursor() as cursor:  # flush's TRUNCATE needs no deferred checks pending
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("flush", "--noinput")
    assert not Vote.objects.exists()
    call_command("backup_votes", "restore", str(backup))

    # Then every vote is back, and recomputing gives the same posteriors and decisions
    restored_votes = sorted(
        Vote.objects.values_list("item__candidate__url_hash", "worker__username", "label", "status")
    )
    assert restored_votes == votes
    assert _decisions() == decisions
    for ps in ProjectSynset.objects.all():
        synset_recompute_consensus(project_synset_id=ps.pk)
    assert _decisions() == decisions
    assert _summaries() == summaries


def test_backup_is_json_lines_without_password_hashes(tmp_path):
    project_with_votes(images=5, workers=2)
    for user in get_user_model().objects.all():
        user.set_password(f"pw-{user.username}-123")
        user.save()
    hashes = list(get_user_model().objects.values_list("password", flat=True))
    path = tmp_path / "votes.jsonl"
    call_command("backup_votes", "export", str(path))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0] == {"type": "header", "format": "synsetlab-votes", "version": 1}
    assert {row["type"] for row in rows} >= {"project", "candidate", "item", "vote", "user"}
    text = path.read_text()
    assert hashes and not [h for h in hashes if h.split("$")[-1] in text]
    assert "password" not in text


def test_restore_refuses_a_database_with_projects(tmp_path):
    project_with_votes(images=5, workers=2)
    path = tmp_path / "votes.jsonl"
    call_command("backup_votes", "export", str(path))
    with pytest.raises(CommandError, match="already holds"):
        call_command("backup_votes", "restore", str(path))


def test_project_members_survive_backup_and_restore(tmp_path):
    # Given a closed project with an invited annotator who has not voted yet
    project, _ = project_with_votes(images=5, workers=2)
    project.open_to_all_annotators = False
    project.save()
    invited = UserFactory(username="invited-ann")
    ProjectMember.objects.create(project=project, user=invited, source=ProjectMember.Source.INVITE)
    backup = tmp_path / "votes.jsonl"
    call_command("backup_votes", "export", str(backup))
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("flush", "--noinput")

    # When restored
    call_command("backup_votes", "restore", str(backup))

    # Then the annotator is still a member of the restored project, and nobody else became one
    members = ProjectMember.objects.values_list("project__slug", "user__username", "source")
    assert list(members) == [(project.slug, "invited-ann", "invite")]
